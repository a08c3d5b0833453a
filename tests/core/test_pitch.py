"""Pitch names: parsing and printing MIDI pitch numbers."""

from __future__ import annotations

import pytest

from melodyrnn.core.pitch import name_to_pitch, name_to_pitch_class, pitch_to_name
from melodyrnn.errors import MelodyError


@pytest.mark.parametrize(("name", "pitch"), [("C4", 60), ("C#4", 61), ("Eb3", 51), ("F#5", 78),
                                             ("A0", 21), ("G9", 127), ("C-1", 0)])
def test_pitch_names(name, pitch):
    assert name_to_pitch(name) == pitch
    assert name_to_pitch(pitch_to_name(pitch)) == pitch


def test_bad_pitch_names_say_what_was_wrong():
    with pytest.raises(MelodyError, match="'H4' is not a pitch name"):
        name_to_pitch("H4")
    with pytest.raises(MelodyError, match="outside 0-127"):
        name_to_pitch("A9")
    assert name_to_pitch_class("Bb") == 10
