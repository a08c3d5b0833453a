"""Keys and modes: a tonic pitch class and a mode, their scales and key signatures."""

from __future__ import annotations

import re
from dataclasses import dataclass

from melodyrnn.core.pitch import PITCH_CLASS_NAMES, name_to_pitch_class
from melodyrnn.errors import MelodyError

# Semitones above the tonic of each mode's scale degrees.
MODE_INTERVALS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
_MODE_ALIASES = {"ionian": "major", "aeolian": "minor", "maj": "major", "min": "minor",
                 "m": "minor", "dor": "dorian", "mix": "mixolydian", "phr": "phrygian",
                 "lyd": "lydian", "loc": "locrian"}
# How far the mode's tonic lies above the tonic of the major scale with the same notes.
_MODE_OFFSET = {"major": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7,
                "minor": 9, "locrian": 11}


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0-11) and a mode name from MODE_INTERVALS."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic <= 11:
            raise MelodyError(f"key tonic {self.tonic} is not a pitch class 0-11")
        if self.mode not in MODE_INTERVALS:
            raise MelodyError(f"key mode '{self.mode}' is not one of {', '.join(MODE_INTERVALS)}")

    @classmethod
    def parse(cls, text: str) -> Key:
        """'D:dorian', 'D dorian', 'Dm', 'F#:minor' or 'Bb' (major) -> Key."""
        s = text.strip()
        m = re.match(r"^([A-Ga-g][#b♯♭]*)\s*[:_ ]?\s*([A-Za-z]*)$", s)
        if not m:
            raise MelodyError(f"'{text}' is not a key; write a tonic and a mode, e.g. D:dorian, "
                              "A:minor, G:major")
        tonic = name_to_pitch_class(m.group(1))
        mode = m.group(2).lower() or "major"
        mode = _MODE_ALIASES.get(mode, mode)
        if mode not in MODE_INTERVALS:
            raise MelodyError(f"'{text}': mode '{m.group(2)}' is not one of "
                              f"{', '.join(MODE_INTERVALS)}")
        return cls(tonic, mode)

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The seven pitch classes of this key's scale."""
        return frozenset((self.tonic + i) % 12 for i in MODE_INTERVALS[self.mode])

    @property
    def sharps(self) -> int:
        """Key-signature accidentals: positive sharps, negative flats (-6..6)."""
        major_tonic = (self.tonic - _MODE_OFFSET[self.mode]) % 12
        fifths = (major_tonic * 7) % 12  # position on the circle of fifths from C
        return fifths - 12 if fifths > 6 else fifths

    def transpose(self, semitones: int) -> Key:
        """The same mode on a tonic moved by `semitones`."""
        return Key((self.tonic + semitones) % 12, self.mode)

    def __str__(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]}:{self.mode}"


def key_from_signature(sharps: int, minor: bool = False) -> Key:
    """Key-signature accidentals (sharps > 0, flats < 0) and major/minor -> Key."""
    major_tonic = (7 * sharps) % 12  # each sharp moves the tonic a fifth up
    return Key((major_tonic + 9) % 12, "minor") if minor else Key(major_tonic, "major")
