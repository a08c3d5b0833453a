"""Check the written form the ABC reader keeps against music21's own repeat expansion.

    python benchmarks/repeat_check.py                  # O'Neill's 1850 and Ryan's Mammoth
    python benchmarks/repeat_check.py --jobs 2 --show 3 oneills1850/0051-0100.abc

For every tune whose music21 stream has repeat barlines or numbered endings, the melody as
played (`Melody.unfold()` of what the reader makes of the stream) is compared, as a sequence of
(pitch, duration) pairs, with music21's `expandRepeats()` of the same parsed stream turned into
notes by the same walk. A disagreement is counted by reason:

- music21 cannot expand the stream, or our form was dropped as malformed (with its reason);
- the sequences differ on the 4-per-quarter grid only: quantizing each pass of a part that is
  not a whole number of steps long rounds its notes differently (they agree at 96 per quarter);
- music21 reads the signs otherwise: it agrees once our well-formed marks are written back into
  the stream (every part's `|:` made explicit; music21 takes a `:|` with no `|:` back to the
  tune's start, past an earlier `:|`), labelled with what our reading changed;
- the sequences differ even then: a fault in `unfold` or in this check.

Prints the counts and a few tunes of each kind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, FormState, Mark, sort_marks
from melodyrnn.core.limits import limit
from melodyrnn.io.inputs.abc import split_abc_tunes, without_beaming
from melodyrnn.io.inputs.form import measure_spans, part_measures, signs_from_part
from melodyrnn.io.inputs.music21 import from_music21, melody_from_score, score_from_stream

BOOKS = ("oneills1850", "ryansMammoth")
GRID, FINE_GRID = 4, 96  # steps per quarter: the corpus grid, and one every note here fits
AGREE = "agree"
NO_FORM = "no repeats or endings"
CANNOT_EXPAND = "music21 cannot expand it"
DROPPED = "our form dropped"
GRID_ONLY = "differ on the 4-per-quarter grid only"
READS_OTHERWISE = "music21 reads the signs otherwise"
DIFFER = "differ even with our marks written back"
# a repeat sign or an ending in ABC text: tunes without one need no parsing
_SIGN = re.compile(r"\|:|:\||::|[|\[][12]")


def book_files(books: Iterable[str] = BOOKS) -> list[Path]:
    """The ABC files of music21 corpus books, in a stable order."""
    import music21

    corpus = Path(music21.__file__).parent / "corpus"
    return [p for book in books for p in sorted((corpus / book).glob("*.abc"))]


@contextlib.contextmanager
def _fine_grid_limits() -> Iterator[None]:
    """Melody steps counted on the 96-per-quarter grid of this check, not a corpus grid: the
    step limit the readers apply to a user's file is raised for it (and put back after)."""
    name = "MELODYRNN_MAX_MELODY_STEPS"
    before = os.environ.get(name)
    os.environ[name] = str(limit("max_melody_steps") * (FINE_GRID // GRID))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def check_file(path: Path) -> list[tuple[str, str]]:
    """(outcome, tune) for every tune of an ABC file; outcome is one of the reasons above."""
    with _fine_grid_limits():
        return _check_file(path)


def _check_file(path: Path) -> list[tuple[str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    header, tunes = split_abc_tunes(text)
    out = []
    with without_beaming():
        for label, tune_text in tunes:
            body = "\n".join(line for line in tune_text.splitlines()
                             if not re.match(r"[A-Za-z]:|%", line))
            tune = f"{path.parent.name}/{path.name}#{label}"
            outcome = check_tune(header + tune_text, tune) if _SIGN.search(body) else NO_FORM
            out.append((outcome, tune))
    return out


def _parse(abc_text: str) -> Any:
    from music21 import abcFormat

    return abcFormat.translate.abcToStreamScore(abcFormat.ABCFile().readstr(abc_text))


def check_tune(abc_text: str, tune: str) -> str:
    """The outcome for one tune's ABC text (header fields included)."""
    from music21 import bar, repeat, spanner, stream

    try:
        parsed = _parse(abc_text)
    except Exception:  # the reader skips such a tune; it has no form to check
        return NO_FORM
    parts = list(parsed.parts) or [parsed]
    first = parts[0]
    if not any(isinstance(b, bar.Repeat) for m in first.getElementsByClass(stream.Measure)
               for b in (m.leftBarline, m.rightBarline)) and \
            not first.spannerBundle.getByClass(spanner.RepeatBracket):
        return NO_FORM
    drops: Counter[str] = Counter()
    ours = {spq: melody_from_score(score_from_stream(parsed, spq, tune, drops)).unfold()
            for spq in (GRID, FINE_GRID)}
    if drops:
        return f"{DROPPED}: {next(iter(drops))}"
    try:  # no deep copy: the stream is not used again (written back, it is parsed anew)
        expanded = stream.Score([repeat.Expander(p).process(deepcopy=False) for p in parts])
    except Exception:
        changes = _written_back(abc_text, ours[FINE_GRID])
        return f"{CANNOT_EXPAND} " + ("(nor our marks)" if changes is None else
                                      f"(but plays our reading as we do: {changes})")
    if _notes(ours[GRID]) == _notes(from_music21(expanded, GRID)):
        return AGREE
    if _notes(ours[FINE_GRID]) == _notes(from_music21(expanded, FINE_GRID)):
        return GRID_ONLY
    changes = _written_back(abc_text, ours[FINE_GRID])
    return DIFFER if changes is None else f"{READS_OTHERWISE} ({changes})"


def _notes(melody: Any) -> list[tuple[int, int]]:
    return [(n.pitch, n.duration_steps) for n in melody.notes]


def _written_back(abc_text: str, played: Any) -> str | None:
    """If music21 plays the tune as we do once our marks replace its signs, what our reading
    changed (signs added +, left out -, a `|:` that a `:|` implies); else None."""
    from music21 import repeat, stream

    parsed = _parse(abc_text)
    parts = list(parsed.parts) or [parsed]
    score = score_from_stream(parsed, FINE_GRID, "")
    measures = part_measures(parts[0])
    signs = signs_from_part(parts[0], measures, _padding(measures), FINE_GRID)
    marks = _explicit_starts(score.form, melody_from_score(score).start_step)
    try:
        for part in parts:
            _write_marks(part, marks)
        expanded = stream.Score([repeat.Expander(p).process(deepcopy=False) for p in parts])
    except Exception:  # a mark off the measures (ValueError), or music21 refusing ours
        return None
    if _notes(played) != _notes(from_music21(expanded, FINE_GRID)):
        return None
    changed = sorted({f"+{m.name}" for m in set(score.form) - set(signs.marks)}
                     | {f"-{m.name}" for m in set(signs.marks) - set(score.form)})
    if set(marks) - set(score.form):
        changed.append("a |: that a :| implies")
    return " ".join(changed) or "no sign changed"


def _padding(measures: list[Any]) -> Fraction:  # as the reader pads a pickup
    return Fraction(measures[0].paddingLeft) if len(measures) >= 2 else Fraction(0)


def _explicit_starts(form: Iterable[Mark], start: int) -> list[Mark]:
    """The marks with a RepeatStart at every repeated part's start after the first, where
    `core.form` lets a `:|` imply it."""
    state, out = FormState(section_step=start), []
    for mark in sort_marks(form):
        part_begins = (mark.kind == REPEAT_END and state.ending == 0) or \
            (mark.kind == ENDING and mark.number == 1)
        if part_begins and not state.repeat_open and state.section_step > start:
            out.append(Mark(state.section_step, REPEAT_START))
        out.append(mark)
        state = state.after(mark)
    return sort_marks(set(out))


def _write_marks(part: Any, marks: list[Mark]) -> None:
    """Replace a part's repeat barlines and endings by `marks` (raises ValueError for a mark
    that is not on a measure boundary)."""
    from music21 import bar, spanner

    measures = part_measures(part)
    spans = measure_spans(part, measures, _padding(measures), FINE_GRID)
    starts, ends = [a for _, a, _ in spans], [b for _, _, b in spans]
    for m, _, _ in spans:
        m.leftBarline = None if isinstance(m.leftBarline, bar.Repeat) else m.leftBarline
        m.rightBarline = None if isinstance(m.rightBarline, bar.Repeat) else m.rightBarline
    for sp in list(part.spannerBundle.getByClass(spanner.RepeatBracket)):
        part.remove(sp, recurse=True)
    for i, mark in enumerate(marks):
        if mark.kind == REPEAT_START:
            spans[starts.index(mark.step)][0].leftBarline = bar.Repeat(direction="start")
        elif mark.kind == REPEAT_END:
            spans[ends.index(mark.step)][0].rightBarline = bar.Repeat(direction="end")
        else:  # up to the next ending, or for the last one to the next sign (or the end)
            later = [m.step for m in marks[i + 1:] if m.step > mark.step]
            close = next((m.step for m in marks[i + 1:]
                          if m.kind == ENDING and m.number == mark.number + 1),
                         later[0] if later else ends[-1])
            covered = [m for m, a, _ in spans if mark.step <= a < close]
            part.insert(0, spanner.RepeatBracket(covered, number=mark.number))


def check_books(paths: Iterable[Path], jobs: int = 1) -> Iterator[tuple[str, str]]:
    """(outcome, tune) for every tune of the files, `jobs` files at a time."""
    if jobs <= 1:
        for path in paths:
            yield from check_file(path)
        return
    with ProcessPoolExecutor(jobs) as pool:
        for results in pool.map(check_file, paths, chunksize=4):
            yield from results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="books' files, relative to the music21 "
                        "corpus (default: every file of O'Neill's and Ryan's)")
    parser.add_argument("--jobs", type=int, default=1, help="files checked at once")
    parser.add_argument("--show", type=int, default=5, help="tunes listed for each outcome")
    args = parser.parse_args()
    paths = book_files()
    if args.files:
        paths = [p for p in paths if any(p.as_posix().endswith(f) for f in args.files)]
        if not paths:
            sys.exit(f"no such corpus file: {', '.join(args.files)}")
    start = time.perf_counter()
    by_outcome: dict[str, list[str]] = {}
    for outcome, tune in check_books(paths, args.jobs):
        by_outcome.setdefault(outcome, []).append(tune)
    seconds = time.perf_counter() - start
    checked = sum(len(v) for k, v in by_outcome.items() if k != NO_FORM)
    print(f"{sum(map(len, by_outcome.values())):,} tunes in {len(paths)} files, {checked:,} "
          f"with repeats or endings, checked in {seconds:.0f} s")
    for outcome, tunes in sorted(by_outcome.items(), key=lambda kv: -len(kv[1])):
        if outcome == NO_FORM:
            continue
        shown = ", ".join(tunes[:args.show]) if outcome != AGREE else ""
        print(f"{len(tunes):6,}  {outcome}" + (f"\n        e.g. {shown}" if shown else ""))


if __name__ == "__main__":
    main()
