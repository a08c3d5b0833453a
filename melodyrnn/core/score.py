"""Raw scores before melody extraction (`Score`, `Track`), and the top line of a track.

A `Score` is what a reader found in a file (several tracks, possibly chords); `skyline` reduces
a track's notes to one monophonic line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from melodyrnn.core.form import Mark
from melodyrnn.core.key import Key
from melodyrnn.core.melody import Note


@dataclass
class Track:
    """One track or part as read: may hold chords and overlapping notes."""

    notes: list[Note]
    name: str = ""
    program: int = 0
    is_drum: bool = False


@dataclass
class Score:
    """What a reader found in one file (or one tune of an ABC book), quantized to steps.

    `moved_onsets` counts note onsets that quantization moved off their exact time, out of
    `total_onsets`, and `merged_notes` the notes that landed on the onset of another note of
    their part and were lost in it, and `grace_notes` the grace notes left out (they take no
    time), so callers can report how much the grid changed the music. `form` and
    `pickup_steps` are the written form, as a `Melody` holds them (see `core.form`).
    """

    tracks: list[Track]
    steps_per_quarter: int = 4
    qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    source: str = ""
    moved_onsets: int = 0
    total_onsets: int = 0
    merged_notes: int = 0
    grace_notes: int = 0
    form: tuple[Mark, ...] = field(default=())
    pickup_steps: int = 0


def skyline(notes: Iterable[Note]) -> list[Note]:
    """The highest line of possibly overlapping notes, as a monophonic note list.

    Exactly: of notes starting together only the highest is kept (the longest if pitches tie);
    a note starting while a kept note still sounds replaces it if it is at least as high
    (the sounding note is cut short at the new onset) and is dropped if it is lower, masked
    by the higher note; a masked note's tail that outlasts the higher note is not revived.
    """
    ordered = sorted(notes, key=lambda n: (n.start_step, -n.pitch, -n.duration_steps))
    line: list[Note] = []
    for note in ordered:
        if line:
            last = line[-1]
            if note.start_step == last.start_step:
                continue  # a lower (or duplicate) note of a chord
            if note.start_step < last.end_step:
                if note.pitch < last.pitch:
                    continue  # masked by a higher note still sounding
                line[-1] = dataclasses.replace(
                    last, duration_steps=note.start_step - last.start_step)
        line.append(note)
    return line


def is_monophonic(notes: Sequence[Note]) -> bool:
    """True if no two notes sound at once (a note may start exactly where another ends)."""
    ordered = sorted(notes, key=lambda n: (n.start_step, n.pitch))
    return all(b.start_step >= a.end_step for a, b in pairwise(ordered))
