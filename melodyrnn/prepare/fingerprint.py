"""Transposition-invariant fingerprints of melodies: note symbols and hashes of runs of notes.

Notes are compared by what survives transposition and a change of grid: note i of a melody is
the symbol (pitch_i - pitch_{i-1}, rest_i, duration_i), where rest_i = start_i - end_{i-1} is
the silence before it and durations are in quarter notes (reduced fractions, so a melody at 4
steps per quarter matches the same one at 12). A *run of k notes* starting at note i is the
duration of note i followed by the symbols of notes i+1 .. i+k-1. Every run is reduced to a
64-bit hash built note by note (h_1 = hash of the first duration, h_{k+1} = mix(h_k) * B +
symbol), so the runs of length k+1 are one vectorised step from those of length k.

Splits use these to keep copies of one tune together; `evaluate.originality` uses them to find
copies of the training set among generated melodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.core.melody import Melody

_B = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)
_SHIFT = np.uint64(29)


def _mix(*columns: np.ndarray) -> np.ndarray:
    """A 64-bit hash of rows of small integers, column by column."""
    h = np.zeros(len(columns[0]), dtype=np.uint64)
    for c in columns:
        h = extend_hash(h, c.astype(np.uint64))
    return h


def extend_hash(h: np.ndarray, symbol: np.ndarray) -> np.ndarray:
    """The hash of a run one note longer: mix(h) * B + symbol, mod 2^64."""
    h = h ^ (h >> _SHIFT)
    return h * _B + symbol


@dataclass(frozen=True)
class NoteSymbols:
    """Melodies flattened note by note: `first[p]` hashes note p's duration, `next[p]` its full
    symbol (interval, rest, duration), `end[p]` is one past the last note of p's melody and
    `melody[p]` the melody's index."""

    first: np.ndarray
    next: np.ndarray
    end: np.ndarray
    melody: np.ndarray
    lengths: np.ndarray


def note_symbols(melodies: Sequence[Melody]) -> NoteSymbols:
    """The note symbols of `melodies`, laid end to end (see `NoteSymbols`)."""
    lengths = np.array([len(m.notes) for m in melodies], dtype=np.int64)
    total = int(lengths.sum())

    def column(attr: str) -> np.ndarray:
        return np.fromiter((getattr(n, attr) for m in melodies for n in m.notes),
                           dtype=np.int64, count=total)

    spq = np.array([m.steps_per_quarter for m in melodies], dtype=np.int64)
    return symbols_of_columns(column("pitch"), column("start_step"), column("duration_steps"),
                              lengths, spq)


def symbols_of_columns(pitch: np.ndarray, start: np.ndarray, duration: np.ndarray,
                       lengths: np.ndarray, steps_per_quarter: np.ndarray) -> NoteSymbols:
    """`note_symbols` from columns: every melody's notes end to end (int64 pitches, start and
    duration steps), the notes in each melody and each melody's steps per quarter."""
    total = int(lengths.sum())
    spq = np.repeat(steps_per_quarter, lengths)
    melody = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    end = np.repeat(offsets[1:], lengths)
    is_first = np.zeros(total, dtype=bool)
    is_first[offsets[:-1][lengths > 0]] = True
    interval = np.where(is_first, 0, pitch - np.roll(pitch, 1))
    rest = np.where(is_first, 0, start - np.roll(start + duration, 1))

    def quarters(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.gcd(steps, spq)
        return steps // g, spq // g

    dur_num, dur_den = quarters(duration)
    rest_num, rest_den = quarters(rest)
    first = _mix(dur_num, dur_den)
    nxt = _mix(interval + 256, rest_num, rest_den, dur_num, dur_den)
    return NoteSymbols(first, nxt, end, melody, lengths)


def run_hashes(symbols: NoteSymbols, notes: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, melody index) of every run of `notes` notes, in note order."""
    pos = np.arange(len(symbols.first))
    h = symbols.first
    for k in range(2, notes + 1):
        keep = pos + k <= symbols.end[pos]
        pos, h = pos[keep], extend_hash(h[keep], symbols.next[pos[keep] + k - 1])
    return h, symbols.melody[pos]
