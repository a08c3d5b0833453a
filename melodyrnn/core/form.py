"""A tune's written form: repeat signs and numbered endings at steps, and the playing order.

A folk tune is written shorter than it is played: `|: A :|` is played twice, and a part with
first and second endings plays ending 1 on its first pass and ending 2 on its second. The
written form is a tuple of `Mark`s in written time (a `Melody` holds each written note once);
`playing_order` turns it into the spans of written time as performed, which is what
`Melody.unfold` plays.

Marks at one step stand in one order: RepeatEnd first, then an Ending or a RepeatStart
(`:|2` is RepeatEnd, Ending_2; `::` is RepeatEnd, RepeatStart). `FormState` is the one copy of
the rules of well-formed form; `Melody` checks its marks with it and the tokenizers' grammar
uses it so that sampling can only write form that unfolds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import NamedTuple

from melodyrnn.errors import MelodyError

REPEAT_START, REPEAT_END, ENDING = "RepeatStart", "RepeatEnd", "Ending"
KINDS = (REPEAT_START, REPEAT_END, ENDING)
MAX_ENDINGS = 4  # endings numbered 1-4 (a part played up to four times)

_RANK = {REPEAT_END: 0, ENDING: 1, REPEAT_START: 1}


class Mark(NamedTuple):
    """One sign of form at a step of written time: a RepeatStart (`|:`), a RepeatEnd (`:|`),
    or the start of ending `number` (`|1`, `|2`, ...)."""

    step: int
    kind: str
    number: int = 0  # the ending's number; 0 for repeat signs

    @property
    def name(self) -> str:
        """The readable name, as a token spells it: RepeatStart, RepeatEnd, Ending_2."""
        return f"{ENDING}_{self.number}" if self.kind == ENDING else self.kind

    def __str__(self) -> str:
        return f"{self.name}@{self.step}"


def sort_marks(marks: Iterable[Mark]) -> list[Mark]:
    """Marks in their one written order: by step, a RepeatEnd before what starts there."""
    return sorted(marks, key=lambda m: (m.step, _RANK.get(m.kind, 2)))


class FormState(NamedTuple):
    """Where a left-to-right reading of marks stands; `allows`, `after` and `may_end` are the
    rules of well-formed form.

    - `section_step`: where the part that a RepeatEnd would repeat begins (the tune's start,
      the last RepeatStart, or the last RepeatEnd passed for the last time).
    - `repeat_open`: a RepeatStart is waiting for its RepeatEnd.
    - `ending`: 0 outside endings; k > 0 inside ending k; -k when ending k was just closed
      by its RepeatEnd, so ending k + 1 must begin at the same step.
    - `ending_step`: where the open ending began.
    """

    section_step: int = 0
    repeat_open: bool = False
    ending: int = 0
    ending_step: int = 0

    def allows(self, kind: str, step: int, number: int = 0) -> bool:
        """Whether a mark of `kind` (and ending `number`) may stand at `step` next."""
        ending = self.ending
        if ending < 0:  # after `:|` that closed ending k, only ending k + 1 may follow
            return kind == ENDING and number == 1 - ending
        if kind == REPEAT_START:
            # not twice, and inside endings only as the start of the next part, after the
            # last ending (ending 2 or later) has begun
            return not self.repeat_open and ending != 1 and \
                (ending == 0 or step > self.ending_step)
        if kind == REPEAT_END:
            # something to repeat, and room for the ending that must follow a closed ending
            return step > self.section_step and ending < MAX_ENDINGS and \
                (ending == 0 or step > self.ending_step)
        if kind == ENDING:
            return ending == 0 and number == 1 and step > self.section_step
        return False

    def after(self, mark: Mark) -> FormState:
        """The state once `mark` (allowed here) has been read."""
        if mark.kind == REPEAT_START:
            return FormState(section_step=mark.step, repeat_open=True)
        if mark.kind == REPEAT_END:
            if self.ending > 0:  # ending k closed: ending k + 1 comes next
                return self._replace(repeat_open=False, ending=-self.ending)
            return FormState(section_step=mark.step)
        return self._replace(ending=mark.number, ending_step=mark.step)

    def may_end(self) -> bool:
        """Whether the tune may end here: no RepeatStart left open, no first ending unclosed
        and no ending owed after a `:|`."""
        return not self.repeat_open and self.ending not in (-1, -2, -3, -4, 1)


def check_form(marks: Iterable[Mark], start: int, end: int, note_spans: Iterable[tuple[int, int]],
               where: str = "") -> tuple[Mark, ...]:
    """The marks in written order, checked; raises MelodyError naming the first bad one.

    Marks must lie within [start, end] (the written tune), fall between notes (never inside
    one), and read as well-formed form (see `FormState`).
    """
    ordered = sort_marks(marks)
    state = FormState(section_step=start)
    for mark in ordered:
        if not isinstance(mark, Mark) or mark.kind not in KINDS or \
                not isinstance(mark.step, int) or isinstance(mark.step, bool):
            raise MelodyError(f"{where}{mark!r} is not a form mark (Mark(step, kind, number) "
                              f"with kind one of {', '.join(KINDS)})")
        if mark.kind == ENDING and not 1 <= mark.number <= MAX_ENDINGS:
            raise MelodyError(f"{where}ending number {mark.number} at step {mark.step} is "
                              f"not 1-{MAX_ENDINGS}")
        if not start <= mark.step <= end:
            raise MelodyError(f"{where}{mark} lies outside the tune (steps {start}-{end})")
        if not state.allows(mark.kind, mark.step, mark.number):
            raise MelodyError(f"{where}{mark} does not make well-formed form here "
                              f"({_why(state, mark)})")
        state = state.after(mark)
    if ordered and not state.may_end():
        raise MelodyError(f"{where}the form is left open at the end ({_why_open(state)})")
    steps = sorted({m.step for m in ordered})
    if steps:
        for a, b in note_spans:
            i = bisect.bisect_right(steps, a)
            if i < len(steps) and steps[i] < b:
                raise MelodyError(f"{where}the note at steps {a}-{b} sounds across a form mark "
                                  f"at step {steps[i]}; notes end where a repeat or ending "
                                  "sign stands")
    return tuple(ordered)


def _why(state: FormState, mark: Mark) -> str:
    if state.ending < 0:
        return f"ending {1 - state.ending} must follow the repeat that closed ending " \
               f"{-state.ending}"
    if mark.kind == REPEAT_START:
        return "a repeat is already open" if state.repeat_open else \
            "a repeat may not start inside a first ending"
    if mark.kind == REPEAT_END:
        return "nothing since the part began" if mark.step <= state.section_step else \
            f"at most {MAX_ENDINGS} endings"
    return "endings are numbered from 1 after the part's start, each after its repeat"


def _why_open(state: FormState) -> str:
    if state.repeat_open:
        return "a repeat start has no repeat end"
    if state.ending == 1:
        return "ending 1 has no repeat end"
    return f"ending {1 - state.ending} never begins"


def playing_order(marks: Iterable[Mark], start: int, end: int) -> list[tuple[int, int]]:
    """The spans [a, b) of written time in the order they are played (music played straight
    through is one span).

    A RepeatEnd is taken once (back to the part's start) and passed the second time; on the
    n-th pass through a part with endings, ending n is played and the others are skipped.
    `marks` must be well-formed (as a `Melody`'s are).
    """
    ordered = sort_marks(marks)
    spans: list[tuple[int, int]] = []
    taken: set[int] = set()
    section_step, section_index, pass_no = start, -1, 1
    playing_from: int | None = start  # None while skipping an ending of another pass
    i = 0
    while i < len(ordered):
        mark = ordered[i]
        if mark.kind == ENDING:
            if mark.number == pass_no:
                if playing_from is None:
                    playing_from = mark.step
            elif playing_from is not None:
                spans.append((playing_from, mark.step))
                playing_from = None
        elif mark.kind == REPEAT_END and playing_from is not None:
            spans.append((playing_from, mark.step))
            if i not in taken:  # back to the part's start for the next pass
                taken.add(i)
                pass_no += 1
                playing_from = section_step
                i = section_index + 1
                continue
            section_step, section_index, pass_no = mark.step, i, 1
            playing_from = mark.step
        elif mark.kind == REPEAT_START and playing_from is not None:
            section_step, section_index, pass_no = mark.step, i, 1
        i += 1
    if playing_from is not None:
        spans.append((playing_from, end))
    merged: list[tuple[int, int]] = []
    for a, b in spans:  # one span for music played straight through
        if b <= a:
            continue
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged
