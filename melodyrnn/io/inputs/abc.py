"""Read ABC files: split a tune book into tunes and translate each with music21, one at a time.

A tune that music21 cannot translate costs only itself: it is skipped, logged and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from melodyrnn.core.limits import limit, over_limit
from melodyrnn.core.score import Score
from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.io.inputs.abc_translator import BarTooLong, without_beaming
from melodyrnn.io.inputs.files import MAX_BEATS, read_input_bytes
from melodyrnn.io.inputs.music21 import library_reason, log, score_from_stream


def read_abc(path: Path, steps_per_quarter: int, drops: Counter[str] | None) -> list[Score]:
    """An ABC file -> one Score per tune, with source `path#<X: number>`.

    A tune over a limit (`max_abc_tune_notes`, or a part over those of one melody) is skipped
    like an unreadable one; a file whose every readable tune is over one raises ReadError.
    """
    raw = read_input_bytes(path, "ABC file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # older ABC collections are Latin-1
        text = raw.decode("latin-1")
    header, tunes = split_abc_tunes(text)
    if not tunes:
        raise ReadError(f"{path}: no ABC tunes found (no X: field and no notes)")
    scores: list[Score] = []
    refusals: list[str] = []
    with without_beaming():
        for label, tune_text in tunes:
            result = _read_tune(header, tune_text, f"{path}#{label}", steps_per_quarter, drops)
            if isinstance(result, Score):
                scores.append(result)
            elif result:
                refusals.append(result)
    if refusals and not scores:
        raise ReadError(refusals[0] if len(tunes) == 1 else
                        f"{path}: none of its {len(tunes)} tunes could be read; {refusals[0]}")
    for refusal in refusals:
        log.warning("%s; the tune is skipped", refusal)
    return scores


def _read_tune(header: str, tune_text: str, source: str, steps_per_quarter: int,
               drops: Counter[str] | None) -> Score | str:
    """One tune -> its Score; else the tune is counted in `drops` and the result is the
    sentence refusing it for a limit, or "" for a tune music21 could not read (logged)."""
    from music21 import abcFormat

    refusal = _refusal(header + tune_text, source)  # before music21, which would take long
    if not refusal:
        try:
            # one tune at a time, so a tune that breaks even the tokenizer costs only itself
            handler = abcFormat.ABCFile().readstr(header + tune_text)
            stream = abcFormat.translate.abcToStreamScore(handler)
            return score_from_stream(stream, steps_per_quarter, source, drops)
        except MelodyRNNError as exc:  # a part over a limit of one melody
            refusal = str(exc)
        except BarTooLong as exc:
            refusal = f"{source}: {exc}"
        except Exception as exc:  # music21 raises many kinds; one bad tune must not sink all
            log.warning("%s: skipped, unreadable tune (%s)", source, library_reason(exc))
            if drops is not None:
                drops[f"unreadable tune ({type(exc).__name__})"] += 1
            return ""
    if drops is not None:
        variable = re.search(r"MELODYRNN_\w+", refusal)
        drops[f"tune over a limit ({variable.group()})" if variable else
              f"unreadable tune (a bar of more than {MAX_BEATS} beats)"] += 1
    return refusal


# what in a tune's body is not a note: chord symbols and annotations, decorations, inline
# fields, comments; field lines (T:, K:, w: lyrics, ...) go first
_FIELD_LINE = re.compile(r"^[A-Za-z+]:.*$", re.MULTILINE)
_NOT_NOTES = re.compile(r'"[^"\n]*"|![^!\n]{0,40}!|\+[^+\n]{0,40}\+|\[[A-Za-z]:[^\]\n]*\]|%.*')


def count_abc_notes(tune_text: str) -> int:
    """About how many notes an ABC tune writes (its note letters), counted in linear time.

    It counts each pitch letter of the body, so chords count their notes, and may count a
    letter of unusual markup as a note: an upper bound on what music21 will parse.
    """
    body = _NOT_NOTES.sub("", _FIELD_LINE.sub("", tune_text))
    return sum(map(body.count, "ABCDEFGabcdefg"))


def _refusal(tune_text: str, source: str) -> str:
    """The sentence refusing a tune that music21 would take too long over (more notes than
    `max_abc_tune_notes`; a meter beyond `MAX_BEATS`), or "" for a tune it can read."""
    notes = count_abc_notes(tune_text)
    if notes > limit("max_abc_tune_notes"):
        return over_limit("max_abc_tune_notes", notes, source)
    for match in _METER_FIELD.finditer(tune_text):
        meter = match.group(1).strip()
        if sum(int(n) for n in re.findall(r"\d+", meter.partition("/")[0])) > MAX_BEATS:
            return (f"{source}: meter M:{meter[:40]} has more than {MAX_BEATS} beats a bar, "
                    f"which melodyrnn does not read; write a meter of 1-{MAX_BEATS} beats")
    return ""


_METER_FIELD = re.compile(r"(?:^M:|\[M:)([^\]\n%]*)", re.MULTILINE)




_X_FIELD = re.compile(r"^X:[ \t]*(\S*)", re.MULTILINE)
_HEADER_LINE = re.compile(r"^(%|[A-Za-z+]:)")


def split_abc_tunes(text: str) -> tuple[str, list[tuple[str, str]]]:
    """ABC text -> (file header, [(label, tune text)]), splitting at each X: line.

    The label is the X: number; a repeated one gets a suffix (the second "X:7" is "7.2") so
    ids stay unique and stable. Only field and comment lines of the file header are kept
    (free text there would read as notes). A file without X: fields is one tune, "1", if it
    has anything besides header lines.
    """
    starts = list(_X_FIELD.finditer(text))
    head = text[:starts[0].start()] if starts else text
    header = "".join(line for line in head.splitlines(keepends=True)
                     if _HEADER_LINE.match(line))
    if not starts:
        return "", ([("1", text)] if header != head and head.strip() else [])
    seen: Counter[str] = Counter()
    tunes = []
    for i, match in enumerate(starts):
        label = match.group(1) or str(i + 1)
        seen[label] += 1
        if seen[label] > 1:
            label = f"{label}.{seen[label]}"
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        tunes.append((label, text[match.start():end]))
    return header, tunes
