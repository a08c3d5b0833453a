"""Keys: parsing, key signatures, modes, and keys from MIDI key signatures."""

from __future__ import annotations

import pytest

from melodyrnn.core.key import Key, key_from_signature
from melodyrnn.errors import MelodyError


@pytest.mark.parametrize(("text", "tonic", "mode"), [
    ("D:dorian", 2, "dorian"), ("D dorian", 2, "dorian"), ("Dm", 2, "minor"), ("Bb", 10, "major"),
    ("F#:minor", 6, "minor"), ("G mix", 7, "mixolydian"), ("E aeolian", 4, "minor")])
def test_key_parse(text, tonic, mode):
    assert Key.parse(text) == Key(tonic, mode)


@pytest.mark.parametrize(("key", "sharps"), [
    ("C:major", 0), ("G:major", 1), ("F:major", -1), ("Bb:major", -2), ("F#:major", 6),
    ("A:minor", 0), ("E:minor", 1), ("D:dorian", 0), ("E:phrygian", 0), ("A:dorian", 1)])
def test_key_signature_sharps(key, sharps):
    assert Key.parse(key).sharps == sharps


def test_key_validation_and_text():
    with pytest.raises(MelodyError, match="mode 'bluesy'"):
        Key(0, "bluesy")
    assert str(Key.parse("Eb:major").transpose(2)) == "F:major"
    assert Key(9, "minor").pitch_classes == frozenset({9, 11, 0, 2, 4, 5, 7})


@pytest.mark.parametrize(("sharps", "minor", "key"), [
    (0, False, "C:major"), (0, True, "A:minor"), (2, False, "D:major"), (-3, True, "C:minor"),
    (6, False, "F#:major"), (-1, True, "D:minor")])
def test_key_from_signature(sharps, minor, key):
    assert key_from_signature(sharps, minor) == Key.parse(key)
