"""Pitch spelling in a key: scale notes by the signature's letters, chromatic notes by their
interval above the tonic."""

from __future__ import annotations

import pytest

from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.io.outputs.spelling import (
    Spelling,
    pitch_class_names,
    signature_alters,
    spell,
    tonic_spelling,
)


def names(key: str, pitch_classes: tuple[int, ...]) -> list[str]:
    spelled = pitch_class_names(Key.parse(key))
    return [Spelling(*spelled[pc], 4).name for pc in pitch_classes]


def test_chromatic_notes_are_spelled_as_musicians_write_them():
    assert names("D:dorian", (1, 3, 6, 8, 10)) == ["C#", "E-", "F#", "G#", "B-"]
    assert names("F:major", (1, 3, 4, 6, 8, 11)) == ["D-", "E-", "E", "F#", "A-", "B"]


def test_scale_notes_use_the_signatures_letters():
    assert names("F#:major", (6, 8, 10, 11, 1, 3, 5)) == ["F#", "G#", "A#", "B", "C#", "D#",
                                                           "E#"]
    assert names("Gb:major", (6, 11)) == ["F#", "B"]  # six sharps rather than six flats
    assert names("Bb:major", (10, 3)) == ["B-", "E-"]
    assert signature_alters(-2) == {"C": 0, "D": 0, "E": -1, "F": 0, "G": 0, "A": 0, "B": -1}


@pytest.mark.parametrize(("key", "tonic"), [("C#:minor", ("C", 1)), ("Db:major", ("D", -1)),
                                            ("F#:dorian", ("F", 1)), ("A:mixolydian", ("A", 0))])
def test_tonic_is_spelled_from_the_signature(key, tonic):
    assert tonic_spelling(Key.parse(key)) == tonic


def test_every_spelling_names_the_pitch_it_spells():
    letter_pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    for tonic in range(12):
        for mode in MODE_INTERVALS:
            spelled = pitch_class_names(Key(tonic, mode))
            assert len({letter for letter, _ in spelled.values()}) == 7
            for pitch in range(128):
                written = spell(pitch, spelled)
                assert letter_pc[written.letter] + written.alter + 12 * (written.octave + 1) \
                    == pitch


def test_e_sharp_in_f_sharp_major():
    assert spell(65, pitch_class_names(Key.parse("F#:major"))) == Spelling("E", 1, 4)
    assert spell(65, pitch_class_names(Key.parse("F:major"))) == Spelling("F", 0, 4)
