"""Write MIDI files: one track, tempo, meter and key, in playing order.

MIDI has no repeat signs, so a file holds the melody as played (`as_played`): repeats taken,
endings chosen, and a pickup sounding at once, with no silence before it. Files are written
here byte by byte (a format-1 standard MIDI file: a tempo track, then the melody's track),
so writing a .mid imports neither pretty_midi nor the audio stack it loads; `to_pretty_midi`
gives the same notes as a PrettyMIDI for those who want one (pretty_midi is imported inside).
"""

from __future__ import annotations

import dataclasses
import struct
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
    """Write `melody` as a standard MIDI file (General MIDI `program`); returns the path."""
    path = Path(path)
    path.write_bytes(midi_bytes(melody, program=program))
    return path


def midi_bytes(melody: Melody, program: int = 0) -> bytes:
    """The standard MIDI file of `melody` as played: format 1, a tempo track (tempo, meter,
    key) and one melody track on channel 0, at the resolution `to_pretty_midi` uses."""
    melody = as_played(melody)
    spq = melody.steps_per_quarter
    resolution = spq * max(1, _WRITE_TICKS_PER_QUARTER // spq)
    per_step = resolution // spq
    num, den = melody.time_signature
    # microseconds per quarter, in 3 bytes: below 3.6 qpm MIDI's slowest tempo is written
    micros = min(int(60_000_000 / melody.qpm), 0xFFFFFF)  # truncated, as pretty_midi does
    tempo = [(0, b"\xff\x51\x03" + micros.to_bytes(3, "big")),
             (0, bytes([0xFF, 0x58, 4, num, den.bit_length() - 1, 24, 8]))]
    if melody.key is not None:
        tempo.append((0, bytes([0xFF, 0x59, 2, melody.key.sharps & 0xFF,
                                int(melody.key.mode == "minor")])))
    name = b"melody"
    events = [(0, 0, bytes([0xFF, 0x03, len(name)]) + name), (0, 0, bytes([0xC0, program]))]
    for n in melody.notes:  # at one tick, note-offs first: a repeated pitch sounds again
        events.append((n.start_step * per_step, 2, bytes([0x90, n.pitch, n.velocity])))
        events.append((n.end_step * per_step, 1, bytes([0x90, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    header = struct.pack(">4sIHHH", b"MThd", 6, 1, 2, resolution)
    return header + _track(tempo) + _track([(tick, data) for tick, _, data in events])


def _track(events: list[tuple[int, bytes]]) -> bytes:
    """An MTrk chunk of (absolute tick, event bytes), sorted, closed by end-of-track."""
    body, now = bytearray(), 0
    for tick, data in [*events, (events[-1][0] if events else 0, b"\xff\x2f\x00")]:
        body += varlen(tick - now) + data
        now = tick
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def varlen(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
