"""Pitch names: MIDI numbers to scientific names and back, and pitch-class names."""

from __future__ import annotations

import re

from melodyrnn.errors import MelodyError

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PITCH_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)(-?\d+)$")
_PC_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)$")


def pitch_to_name(pitch: int) -> str:
    """MIDI number to scientific pitch name: 60 -> 'C4', 61 -> 'C#4'."""
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _accidental_offset(acc: str) -> int:
    return acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭")


def name_to_pitch(name: str) -> int:
    """Scientific pitch name to MIDI number: 'C4' -> 60, 'Eb3' -> 51, 'F#5' -> 78."""
    m = _PITCH_RE.match(name.strip())
    if not m:
        raise MelodyError(f"'{name}' is not a pitch name; write a letter, an optional # or b, "
                          "and an octave, e.g. C4, F#3, Bb5")
    letter, acc, octave = m.groups()
    pitch = _LETTER_PC[letter.upper()] + _accidental_offset(acc) + 12 * (int(octave) + 1)
    if not 0 <= pitch <= 127:
        raise MelodyError(f"pitch '{name}' is MIDI {pitch}, outside 0-127")
    return pitch


def name_to_pitch_class(name: str) -> int:
    """Pitch-class name to 0-11: 'C' -> 0, 'F#' -> 6, 'Bb' -> 10."""
    m = _PC_RE.match(name.strip())
    if not m:
        raise MelodyError(f"'{name}' is not a pitch-class name such as C, F# or Bb")
    letter, acc = m.groups()
    return (_LETTER_PC[letter.upper()] + _accidental_offset(acc)) % 12
