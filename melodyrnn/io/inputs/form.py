"""A tune's written form read from music21 measures: repeat barlines, numbered endings and the
pickup, made well-formed (see `core.form.FormState`) or dropped with a reason.

Notation is looser than `FormState`: ABC often leaves the `|:` off a part that follows a
second ending, or closes the second ending with a `:|` that repeats nothing, and MusicXML may
write endings without their backward repeat. `normalise` mends what has one clear reading and
refuses the rest, so the reader can keep the notes as written and count why the form was
dropped: a tune's form never makes reading fail. music21 is imported inside the functions
that use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from melodyrnn.core.form import (
    ENDING,
    MAX_ENDINGS,
    REPEAT_END,
    REPEAT_START,
    FormState,
    Mark,
    sort_marks,
)
from melodyrnn.core.melody import Note
from melodyrnn.core.meter import steps_from_quarters


class FormDropped(Exception):
    """The written form cannot be made well-formed; the message is the reason, for counting.

    Raised and caught inside the reader (it never reaches a caller), so not a MelodyRNNError.
    """


class WrittenSigns(NamedTuple):
    """The signs of form as music21 found them, at steps: repeat barlines and ending starts in
    `marks`, for each ending start the step where its bracket closes, and the steps of double
    and final bar lines (where ABC, which does not say where a last ending stops, ends it)."""

    marks: list[Mark]
    closes: dict[int, int]
    double_bars: tuple[int, ...] = ()


# bar line styles that end a part (music21's names; ABC's `||`, `|]`, `[|` among them)
PART_ENDS = frozenset({"double", "final", "heavy-light", "light-heavy", "heavy", "heavy-heavy"})


def signs_from_part(part: Any, measures: Sequence[Any], base_quarters: Fraction,
                    steps_per_quarter: int) -> WrittenSigns:
    """The repeat barlines (`bar.Repeat` left and right of each measure) and the numbered
    endings (`spanner.RepeatBracket` over measures) of a music21 part, at measure boundaries.

    `measures` are the part's measures in order, and `base_quarters` the pickup's padding
    (bar lines land on multiples of the bar). Raises
    FormDropped for signs `core.form` cannot hold (an ending for several passes, a repeat
    played more than twice).
    """
    from music21 import bar, spanner

    marks: list[Mark] = []
    double_bars: set[int] = set()
    brackets: dict[int, Any] = {}
    spans: dict[int, tuple[int, int]] = {}  # id(measure) -> (start step, end step)
    for measure, start, end in measure_spans(part, measures, base_quarters, steps_per_quarter):
        spans[id(measure)] = (start, end)
        for barline, step in ((measure.leftBarline, start), (measure.rightBarline, end)):
            if isinstance(barline, bar.Repeat):
                if barline.direction == "end" and barline.times not in (None, 2):
                    raise FormDropped(f"a repeat played {barline.times} times")
                marks.append(Mark(step, REPEAT_START if barline.direction == "start"
                                  else REPEAT_END))
            elif isinstance(barline, bar.Barline) and barline.type in PART_ENDS:
                double_bars.add(step)
        for sp in measure.getSpannerSites():
            if isinstance(sp, spanner.RepeatBracket):
                brackets[id(sp)] = sp
    closes: dict[int, int] = {}
    for sp in brackets.values():
        covered = [spans[id(m)] for m in sp.getSpannedElements() if id(m) in spans]
        numbers = _bracket_numbers(sp)
        if not covered or not numbers:
            continue
        if len(numbers) > 1:
            raise FormDropped("an ending played on several passes")
        if not 1 <= numbers[0] <= MAX_ENDINGS:
            raise FormDropped(f"an ending numbered {numbers[0]} (endings are 1-{MAX_ENDINGS})")
        first = min(a for a, _ in covered)
        marks.append(Mark(first, ENDING, numbers[0]))
        closes[first] = max(b for _, b in covered)
    return WrittenSigns(marks, closes, tuple(sorted(double_bars)))


def part_measures(part: Any) -> list[Any]:
    """The measures of a music21 part, in order (none for a stream without bars)."""
    from music21 import stream

    return list(part.getElementsByClass(stream.Measure))


def measure_spans(part: Any, measures: Sequence[Any], base_quarters: Fraction,
                  steps_per_quarter: int) -> list[tuple[Any, int, int]]:
    """(measure, start step, end step) for each of a part's measures, in order."""
    starts = [steps_from_quarters(base_quarters + Fraction(m.getOffsetBySite(part)),
                                  steps_per_quarter)[0] for m in measures]
    if not measures:
        return []
    last = measures[-1]
    end, _ = steps_from_quarters(base_quarters + Fraction(last.getOffsetBySite(part))
                                 + Fraction(last.quarterLength), steps_per_quarter)
    return list(zip(measures, starts, [*starts[1:], end], strict=True))


def _bracket_numbers(bracket: Any) -> list[int]:
    """The passes a RepeatBracket is played on ([1], [2], [1, 2] ...)."""
    numbers = getattr(bracket, "numberRange", None)
    if numbers is None:  # music21 before 9 named it getNumberList()
        numbers = bracket.getNumberList()
    return [int(n) for n in numbers]


def normalise(signs: WrittenSigns, start: int) -> tuple[Mark, ...]:
    """Well-formed marks for the tune written from step `start` (0, or where a pickup begins).

    Read left to right with `FormState`; where a sign does not fit, the one clear reading:

    - a `:|` later than where the last ending's bracket closes repeats the part that follows
      that ending (a B part with its `|:` left off), so a RepeatStart goes where that part
      begins (see `part_start`); so does an ending 1 that comes after the last ending;
    - a `:|` that closes ending k with no ending k + 1 after it: for ending 1, the second
      ending begins there (`|1 ... :|` then the rest of the tune); for a later ending it
      repeats nothing (a habit of ABC transcribers: `:|2 ... :|`) and is left out;
    - ending k + 1 straight after an ending k with no `:|` closing it gets that `:|`;
    - a `|:` with no `:|` (another `|:` or the tune's end comes first) is played once and left
      out, and a sign doubled at one step (a `:|` with nothing since the part began) counts once.

    Raises FormDropped, with the reason, when the signs still do not make well-formed form.
    """
    reading = _Reading(start, signs.double_bars)
    ordered = sort_marks(sorted(set(signs.marks)))  # sorted first: the same order every run
    for i, mark in enumerate(ordered):
        here = {(m.kind, m.number) for m in ordered[i + 1:] if m.step == mark.step}
        if mark.kind == REPEAT_END:
            reading.repeat_end(mark.step, here)
        elif mark.kind == REPEAT_START:
            reading.repeat_start(mark.step)
        else:
            reading.ending(mark.step, mark.number, signs.closes.get(mark.step))
    return reading.finish()


class _Reading:
    """The marks taken so far and the `FormState` after them."""

    def __init__(self, start: int, double_bars: tuple[int, ...]) -> None:
        self.marks: list[Mark] = []
        self.state = FormState(section_step=start)
        self.close: int | None = None  # where the bracket of the ending being read closes
        self.double_bars = double_bars

    def part_start(self, before: int) -> int:
        """Where the part after the last ending begins: the first double bar from the close
        of that ending's bracket on (ABC closes a last ending's bracket after one bar, but the
        ending runs on to the double bar), if one stands before `before`; else the close."""
        assert self.close is not None
        return next((b for b in self.double_bars if self.close <= b < before), self.close)

    def take(self, mark: Mark) -> None:
        if not self.state.allows(mark.kind, mark.step, mark.number):
            raise FormDropped(_problem(self.state, mark))
        self.marks.append(mark)
        self.state = self.state.after(mark)

    def after_last_ending(self, step: int) -> bool:
        """Whether `step` lies past the close of a last ending (2 or later) still being read."""
        return self.state.ending >= 2 and self.close is not None and step > self.close

    def repeat_end(self, step: int, here: set[tuple[str, int]]) -> None:
        ending = self.state.ending
        if self.after_last_ending(step):
            self.take(Mark(self.part_start(step), REPEAT_START))
        elif ending > 0 and (ENDING, ending + 1) not in here:
            if ending >= 2:
                return  # closes the last ending and repeats nothing
            self.take(Mark(step, REPEAT_END))
            self.take(Mark(step, ENDING, 2))
            self.close = next((b for b in self.double_bars if b > step), None)
            return
        elif step <= self.state.section_step and not self.state.repeat_open:
            return  # a doubled sign: nothing since the part began
        self.take(Mark(step, REPEAT_END))

    def repeat_start(self, step: int) -> None:
        if self.state.repeat_open and self.state.ending == 0:
            # the open `|:` has no `:|`: it is played once, so this one takes its place
            self.marks = [m for m in self.marks if m != Mark(self.state.section_step,
                                                             REPEAT_START)]
            self.state = FormState(section_step=step, repeat_open=True)
            self.marks.append(Mark(step, REPEAT_START))
            return
        self.take(Mark(step, REPEAT_START))

    def ending(self, step: int, number: int, close: int | None) -> None:
        if number == 1 and self.close is not None and self.state.ending >= 2 and \
                step > self.close:
            self.take(Mark(self.part_start(step), REPEAT_START))
        elif number >= 2 and self.state.ending == number - 1:
            self.take(Mark(step, REPEAT_END))
        self.take(Mark(step, ENDING, number))
        self.close = close

    def finish(self) -> tuple[Mark, ...]:
        if self.state.repeat_open and self.state.ending == 0:  # a `|:` with no `:|`
            self.marks = [m for m in self.marks if m != Mark(self.state.section_step,
                                                             REPEAT_START)]
        elif not self.state.may_end():
            raise FormDropped("a first ending never closed" if self.state.ending == 1
                              else "the form is left open at the end")
        return tuple(self.marks)


def _problem(state: FormState, mark: Mark) -> str:
    """Why `mark` cannot stand after `state`, in words that count well (no steps)."""
    if state.ending < 0:
        return f"ending {1 - state.ending} does not follow the repeat closing ending " \
               f"{-state.ending}"
    if mark.kind == REPEAT_START:
        return "a repeat starts inside a first ending"
    if mark.kind == REPEAT_END:  # sorting and the mending above leave little to go wrong
        return "a repeat with nothing to repeat"
    return f"ending {mark.number} out of order"


def pickup_steps(measures: Sequence[Any], steps_per_quarter: int, bar_steps: int) -> int:
    """The length in steps of a part's short first bar (music21's paddingLeft tells it is a
    pickup), or 0: none, a lone short bar, or a first bar that does not fill up to a bar."""
    if len(measures) < 2 or not measures[0].paddingLeft:
        return 0
    pad, _ = steps_from_quarters(Fraction(measures[0].paddingLeft), steps_per_quarter)
    steps, _ = steps_from_quarters(Fraction(measures[0].quarterLength), steps_per_quarter)
    return steps if 0 < steps < bar_steps and pad + steps == bar_steps else 0


def split_at_marks(notes: Sequence[Note], marks: Iterable[Mark]) -> list[Note]:
    """The notes with any that sounds across a mark (a note tied over a repeat sign) split
    there, so that each piece lies on one side."""
    steps = sorted({m.step for m in marks})
    out = []
    for note in notes:
        start = note.start_step
        for step in steps:
            if start < step < note.end_step:
                out.append(Note(note.pitch, start, step - start, note.velocity))
                start = step
        out.append(note if start == note.start_step else
                   Note(note.pitch, start, note.end_step - start, note.velocity))
    return out
