"""The measures of a written melody as a score shows them: bar lines, repeat signs, endings.

Bar lines stand at multiples of `steps_per_bar` from step 0. A tune with a pickup begins with
a short measure, number 0, that holds only the pickup; a form mark between bar lines (a `:|`
after a short last bar that completes the pickup) ends a short measure there, and the rest of
the bar is a measure of its own that is not counted. A part repeated from a `:|` before it
(`A :| B :|`, which plays A A B B) gets its start sign written there (`A :: B :|`): readers
differ on where a bare `:|` goes back to (the tune's start, the last double bar), and with the
sign every reader plays the same. An ending's volta bracket spans the
measures up to the repeat sign that closes it; the last ending of a part, which no repeat
sign closes, spans as many measures as the ending before it, or up to the next repeat start
or the end of the tune, whichever comes first. The MusicXML and ABC writers draw these same
measures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import NamedTuple

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, FormState, Mark
from melodyrnn.core.melody import Melody

STOP, DISCONTINUE = "stop", "discontinue"  # a bracket's end with a hook, and without one


@dataclass(frozen=True)
class Measure:
    """One measure, steps [start_step, end_step), and the signs at its edges.

    `number` is 0 for the pickup; a measure that begins between bar lines is not `counted`
    and shares the number of the measure before it. `ending` is the number of the volta
    bracket over the measure (0 for none); `ending_start` says the bracket begins here and
    `ending_stop` how it ends here (STOP, DISCONTINUE, or "" when it goes on or there is none).
    """

    start_step: int
    end_step: int
    number: int
    counted: bool = True
    repeat_start: bool = False
    repeat_end: bool = False
    ending: int = 0
    ending_start: bool = False
    ending_stop: str = ""

    @property
    def duration_steps(self) -> int:
        """The measure's length in steps (shorter than a bar for a pickup or a split bar)."""
        return self.end_step - self.start_step


class Event(NamedTuple):
    """A note (`pitch` a MIDI number) or a rest (`pitch` None) inside one measure;
    `tie_from` and `tie_to` say it continues a note of the measure before or into the next."""

    pitch: int | None
    start_step: int
    duration_steps: int
    velocity: int = 80
    tie_from: bool = False
    tie_to: bool = False


def measures(melody: Melody) -> list[Measure]:
    """The measures of the written tune, from its start (the pickup) to its end."""
    bar, start, end = melody.steps_per_bar, melody.start_step, melody.end_step
    if end <= start:
        return []
    cuts = set(range((start // bar + 1) * bar, end, bar))
    cuts |= {mark.step for mark in melody.form if start < mark.step < end}
    bounds = [start, *sorted(cuts), end]
    starts = repeat_starts(melody.form, start)
    ends = {m.step for m in melody.form if m.kind == REPEAT_END}
    layout, number = [], 0
    for a, b in itertools.pairwise(bounds):
        counted = a % bar == 0
        number += counted
        layout.append(Measure(a, b, number, counted, repeat_start=a in starts,
                              repeat_end=b in ends))
    return _with_brackets(layout, melody.form)


def repeat_starts(form: tuple[Mark, ...], start_step: int) -> set[int]:
    """The steps where a repeated part begins: each `|:`, and each `:|` after which a part
    is repeated without a `|:` of its own (the part that `core.form` repeats from there)."""
    steps, state = set(), FormState(section_step=start_step)
    for mark in form:  # form is in written order
        if mark.kind == REPEAT_START:
            steps.add(mark.step)
        elif mark.kind == REPEAT_END and not state.repeat_open and \
                state.section_step > start_step:
            steps.add(state.section_step)
        state = state.after(mark)
    return steps


def _with_brackets(layout: list[Measure], form: tuple[Mark, ...]) -> list[Measure]:
    """`layout` with each ending's volta bracket marked on the measures it spans."""
    first_at = {m.start_step: i for i, m in enumerate(layout)}
    last_at = {m.end_step: i for i, m in enumerate(layout)}
    previous_span = 1
    for k, mark in enumerate(form):  # form is in written order
        if mark.kind != ENDING or mark.step not in first_at:
            continue  # an ending at the very end is empty: no bracket to draw
        first = first_at[mark.step]
        after = next((m for m in form[k + 1:] if m.step > mark.step), None)
        if after is not None and after.kind == REPEAT_END:  # closed by its repeat sign
            last, stop = last_at[after.step], STOP
        else:  # the last ending: as long as the one before, up to the next part or the end
            limit = last_at[after.step] if after is not None else len(layout) - 1
            last, stop = min(first + previous_span - 1, limit), DISCONTINUE
        previous_span = last - first + 1
        for i in range(first, last + 1):
            layout[i] = replace(layout[i], ending=mark.number, ending_start=i == first,
                                 ending_stop=stop if i == last else "")
    return layout


def measure_events(melody: Melody, layout: list[Measure]) -> list[list[Event]]:
    """The notes and rests of each measure of `layout`, a note across a bar line split in
    tied parts; the rests fill every gap, so each measure's events add up to its length."""
    notes, i = melody.notes, 0
    out: list[list[Event]] = []
    for measure in layout:
        events, cursor = [], measure.start_step
        while i < len(notes) and notes[i].start_step < measure.end_step:
            note = notes[i]
            a, b = max(note.start_step, measure.start_step), min(note.end_step, measure.end_step)
            if a > cursor:
                events.append(Event(None, cursor, a - cursor))
            events.append(Event(note.pitch, a, b - a, note.velocity,
                                tie_from=note.start_step < a, tie_to=note.end_step > b))
            cursor = b
            if note.end_step > measure.end_step:
                break  # the rest of this note belongs to the next measure
            i += 1
        if measure.end_step > cursor:
            events.append(Event(None, cursor, measure.end_step - cursor))
        out.append(events)
    return out
