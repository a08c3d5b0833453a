"""Fixtures for the writers' tests: a jig with a pickup, repeats and endings; hypothesis
strategies of melodies with written form (session fixtures, so that tests of several writers
draw from one generator); and music21's playing of a score beside a melody's playing order."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.core.pitch import name_to_pitch

METERS = [(2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (2, 2)]


def notes_of(text: str, start_step: int) -> list[Note]:
    """'D4:2 G4:4 r:2 ...' (pitch or r for a rest, then steps) -> notes from `start_step`."""
    notes, step = [], start_step
    for token in text.split():
        name, steps = token.split(":")
        if name != "r":
            notes.append(Note(name_to_pitch(name), step, int(steps)))
        step += int(steps)
    return notes


@pytest.fixture
def jig() -> Melody:
    """A 6/8 jig in G with an eighth-note pickup: an A part repeated (its `:|` after the
    short bar 8 that completes the pickup), then a B part with first and second endings.

    Written `D | ... | G3 G2 :| d |: ... |1 G3 G2d :|2 G3 G2 |]`: 202 steps, bar lines at
    multiples of 12, so the tune begins at step 10 and the bar at 96-108 is split at 106.
    """
    a_part = ("D4:2 G4:4 B4:2 D5:4 B4:2 C5:4 A4:2 F#4:4 D4:2 G4:4 B4:2 D5:4 G5:2 F#5:4 D5:2 "
              "A4:6 G4:4 B4:2 D5:4 B4:2 C5:4 E5:2 D5:4 C5:2 B4:4 G4:2 A4:4 F#4:2 G4:6 G4:4")
    b_part = ("D5:2 E5:4 F#5:2 G5:4 E5:2 D5:4 B4:2 G4:4 B4:2 C5:4 E5:2 D5:4 B4:2 A4:6 G5:4 "
              "F#5:2 E5:4 C5:2 D5:4 B4:2 C5:4 A4:2 F#4:4 A4:2 "
              "G4:6 G4:4 D5:2 "  # ending 1, with the pickup back into the B part
              "G4:6 G4:4")  # ending 2, completing the first bar's pickup
    form = [Mark(106, REPEAT_END), Mark(108, REPEAT_START), Mark(180, ENDING, 1),
            Mark(192, REPEAT_END), Mark(192, ENDING, 2)]
    return Melody(notes_of(a_part, 10) + notes_of(b_part, 106), time_signature="6/8",
                  key="G:major", pickup_steps=2, form=form, source="tunes/jig.abc#1")


@st.composite
def _form_melodies(draw: st.DrawFn, max_endings: int = 2) -> Melody:
    """A random tune with simple well-formed form: parts played through, repeated (`|: :|`,
    the first one's `|:` optional) or repeated with 2..`max_endings` endings; marks at bar
    lines or where a bar completes the pickup; random notes and rests between the marks."""
    spq = draw(st.sampled_from([4, 12]))
    meter = draw(st.sampled_from(METERS))
    bar = steps_per_bar(meter, spq)
    pickup = draw(st.sampled_from([0, 0, spq // 2, spq, draw(st.integers(1, bar - 1))]))
    start = bar - pickup if pickup else 0
    end = start + draw(st.integers(3, 9)) * bar
    positions = sorted({k * bar for k in range(1, end // bar + 1) if start < k * bar < end}
                       | {start + k * bar for k in range(1, (end - start) // bar)} | {end})
    marks, cur, after_endings = [], start, False
    while cur < end:
        later = [p for p in positions if p > cur]
        kind = draw(st.sampled_from(["plain", "repeat", "endings"]))
        endings = draw(st.integers(2, max_endings))
        if kind == "endings" and len(later) >= endings + 1:
            steps = sorted(draw(st.lists(st.sampled_from(later), min_size=endings + 1,
                                         max_size=endings + 1, unique=True)))
        elif kind == "repeat":
            steps = [draw(st.sampled_from(later))]
        else:  # played through (after endings, still within the last one)
            cur = draw(st.sampled_from(later))
            continue
        if after_endings or draw(st.booleans()):  # after endings a repeat needs its |:
            marks.append(Mark(cur, REPEAT_START))
        if len(steps) == 1:
            marks.append(Mark(steps[0], REPEAT_END))
        else:  # ending 1 at steps[0]; each later one after the :| that closes the one before
            marks.append(Mark(steps[0], ENDING, 1))
            for number, step in enumerate(steps[1:-1], start=2):
                marks += [Mark(step, REPEAT_END), Mark(step, ENDING, number)]
        cur, after_endings = steps[-1], len(steps) > 1
    cuts = sorted({start, end, *(m.step for m in marks)})
    notes = []
    for a, b in itertools.pairwise(cuts):  # no note sounds across a mark
        step = a
        while step < b:
            length = min(b - step, draw(st.integers(1, 3 * spq)))
            if draw(st.integers(0, 4)):  # one in five is a rest
                notes.append(Note(draw(st.integers(36, 96)), step, length))
            step += length
    modes = st.sampled_from(list(MODE_INTERVALS))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), modes))
    qpm = draw(st.sampled_from([60.0, 96.0, 120.0, 72.5, 133.25]))
    return Melody(notes, steps_per_quarter=spq, qpm=qpm, time_signature=meter, key=key,
                  end_step=end, form=marks, pickup_steps=pickup)


@pytest.fixture(scope="session")
def form_melodies() -> st.SearchStrategy[Melody]:
    """Random melodies with pickups and well-formed repeats and two endings at most."""
    return _form_melodies()


@pytest.fixture(scope="session")
def many_ending_melodies() -> st.SearchStrategy[Melody]:
    """Random melodies with form whose parts may have up to four endings."""
    return _form_melodies(max_endings=4)


def _heard_in(score: Any, steps_per_quarter: int) -> tuple[list[tuple], float]:
    """(pitch, onset step, duration steps) of each note of a music21 score as music21 plays
    it (repeats expanded; tied notes joined here, as stripTies leaves some apart), and the
    length in steps; onsets count from the first measure's start."""
    if score.parts[0].hasMeasures():
        score = score.expandRepeats()
    notes: list[list] = []
    for n in score.flatten().notes:
        onset, length = n.offset * steps_per_quarter, n.quarterLength * steps_per_quarter
        tie = n.tie.type if n.tie is not None else None
        if tie in ("continue", "stop") and notes and notes[-1][0] == n.pitch.midi \
                and notes[-1][1] + notes[-1][2] == onset:
            notes[-1][2] += length
        else:
            notes.append([n.pitch.midi, onset, length])
    return [tuple(n) for n in notes], score.highestTime * steps_per_quarter


def _playing_order(melody: Melody) -> tuple[list[tuple], int]:
    """The same view of `melody.unfold()`, from the written tune's first step."""
    unfolded = melody.unfold()
    notes = [(n.pitch, n.start_step - unfolded.start_step, n.duration_steps)
             for n in unfolded.notes]
    return notes, unfolded.end_step - unfolded.start_step


@pytest.fixture(scope="session")
def heard_in() -> Callable[[Any, int], tuple[list[tuple], float]]:
    """music21's playing of a score: (notes as (pitch, onset, steps), length in steps)."""
    return _heard_in


@pytest.fixture(scope="session")
def playing_order() -> Callable[[Melody], tuple[list[tuple], int]]:
    """A melody's playing order in the view of `heard_in`."""
    return _playing_order
