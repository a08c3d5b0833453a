"""Pitch spelling in a key: the letter and accidental a musician writes for a MIDI pitch.

The score writers (MusicXML, ABC) spell alike: a note of the key's scale by the key's own
letters (F# in G major, Bb in F major, E# in F# major), and a chromatic note by its interval
above the tonic as it is usually written (see `_CHROMATIC_FLAT`).
"""

from __future__ import annotations

from typing import NamedTuple

from melodyrnn.core.key import Key

LETTERS = "CDEFGAB"
LETTER_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"

# How a chromatic note outside the scale is usually written, by semitones above the tonic:
# lowered 2nd, 3rd, 6th and 7th as flats; raised 4th and the leading tone as sharps; the
# minor 2nd above the tonic as a flat in minor-third modes and a raised tonic in major ones.
_CHROMATIC_FLAT = {1: None, 3: True, 4: False, 6: False, 8: True, 10: True, 11: False}
# the black keys as a sharp of the letter below and a flat of the letter above
_BLACK_KEYS = {1: ("C", "D"), 3: ("D", "E"), 6: ("F", "G"), 8: ("G", "A"), 10: ("A", "B")}


class Spelling(NamedTuple):
    """A written pitch: `letter` (C-B), `alter` in semitones (-1 flat, 0, +1 sharp) and the
    `octave` of the letter (scientific: C4 is middle C; B#3 is MIDI 60)."""

    letter: str
    alter: int
    octave: int

    @property
    def name(self) -> str:
        """The pitch-class name as music21 writes it: C, F#, B-."""
        return self.letter + ("#" * self.alter if self.alter > 0 else "-" * -self.alter)


def signature_alters(sharps: int) -> dict[str, int]:
    """Letter -> the alteration a key signature of `sharps` (> 0) or flats (< 0) gives it."""
    alters = dict.fromkeys(LETTERS, 0)
    for letter in (_SHARP_ORDER[:sharps] if sharps > 0 else _FLAT_ORDER[:-sharps]):
        alters[letter] = 1 if sharps > 0 else -1
    return alters


def pitch_class_names(key: Key) -> dict[int, tuple[str, int]]:
    """Pitch class -> (letter, alter) in `key`: the scale by the signature's letters, then
    each chromatic black key by its interval above the tonic (Bb and C# in D dorian)."""
    names = {(LETTER_PITCH_CLASS[letter] + alter) % 12: (letter, alter)
             for letter, alter in signature_alters(key.sharps).items()}
    minor_third = (key.tonic + 3) % 12 in names and (key.tonic + 4) % 12 not in names
    for pc in range(12):
        if pc in names:
            continue
        if pc not in _BLACK_KEYS:  # white keys outside the scale stay natural
            names[pc] = (next(k for k, v in LETTER_PITCH_CLASS.items() if v == pc), 0)
            continue
        flat = _CHROMATIC_FLAT.get((pc - key.tonic) % 12, key.sharps < 0)
        if flat is None:
            flat = minor_third
        below, above = _BLACK_KEYS[pc]
        names[pc] = (above, -1) if flat else (below, 1)
    return names


def spell(pitch: int, names: dict[int, tuple[str, int]]) -> Spelling:
    """The written form of MIDI `pitch` with the names of `pitch_class_names`."""
    letter, alter = names[pitch % 12]
    return Spelling(letter, alter, (pitch - alter - LETTER_PITCH_CLASS[letter]) // 12 - 1)


def tonic_spelling(key: Key) -> tuple[str, int]:
    """(letter, alter) of the key's tonic, as its signature spells it (Db major, C# minor)."""
    return pitch_class_names(key)[key.tonic]
