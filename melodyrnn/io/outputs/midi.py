"""Write MIDI files through pretty_midi: one track, tempo, meter and key, in playing order.

MIDI has no repeat signs, so a file holds the melody as played (`as_played`): repeats taken,
endings chosen, and a pickup sounding at once, with no silence before it. pretty_midi is
imported inside the functions that use it, so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody

if TYPE_CHECKING:
    import pretty_midi


# Ticks per quarter when writing: a multiple of every common steps_per_quarter (1-6, 8, 12,
# 16, 24, 32, 48, 96) so that every step lands on a whole tick.
_WRITE_TICKS_PER_QUARTER = 480


def as_played(melody: Melody) -> Melody:
    """The melody as MIDI and audio play it: the playing order (`Melody.unfold`), moved so
    that the written tune's first step (a pickup's start) is step 0.

    A melody without form or pickup comes back as it is (rests before its first note stay).
    """
    unfolded = melody.unfold()
    shift = unfolded.start_step
    if not shift:
        return unfolded
    notes = [dataclasses.replace(n, start_step=n.start_step - shift) for n in unfolded.notes]
    return unfolded.replace(notes=notes, pickup_steps=0, end_step=unfolded.end_step - shift)


def to_pretty_midi(melody: Melody, program: int = 0) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI with one instrument (General MIDI `program`), tempo, meter and key,
    playing the melody `as_played`."""
    import pretty_midi

    melody = as_played(melody)
    spq = melody.steps_per_quarter
    resolution = spq * max(1, _WRITE_TICKS_PER_QUARTER // spq)
    pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=melody.qpm)
    num, den = melody.time_signature
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    if melody.key is not None:
        pm.key_signature_changes.append(pretty_midi.KeySignature(_key_number(melody.key), 0.0))
    instrument = pretty_midi.Instrument(program=program, name="melody")
    # One tempo, so seconds are linear in steps; pretty_midi rounds them back to whole ticks
    # when writing, and the resolution makes every step a whole number of ticks.
    step_seconds = melody.step_seconds
    for n in melody.notes:
        instrument.notes.append(pretty_midi.Note(velocity=n.velocity, pitch=n.pitch,
                                                 start=n.start_step * step_seconds,
                                                 end=n.end_step * step_seconds))
    pm.instruments.append(instrument)
    return pm


def _key_number(key: Key) -> int:
    """pretty_midi key number: 0-11 major, 12-23 minor; other modes use the major key with
    the same signature (MIDI can store only major or minor)."""
    if key.mode == "minor":
        return 12 + key.tonic
    if key.mode == "major":
        return key.tonic
    return (7 * key.sharps) % 12


def write_midi(melody: Melody, path: str | Path, program: int = 0) -> Path:
    """Write `melody` as a one-track standard MIDI file; returns the path."""
    path = Path(path)
    to_pretty_midi(melody, program=program).write(str(path))
    return path
