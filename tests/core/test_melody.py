"""Note and Melody: validation that names the bad value, length, transposition, replace."""

from __future__ import annotations

import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyError


def test_note_validation_names_the_value():
    with pytest.raises(MelodyError, match="pitch 128"):
        Note(128, 0, 1)
    with pytest.raises(MelodyError, match="duration 0"):
        Note(60, 12, 0)
    with pytest.raises(MelodyError, match="velocity 0"):
        Note(60, 0, 1, velocity=0)
    assert Note(60, 3, 2).end_step == 5


def test_melody_is_monophonic_and_knows_its_length(c_major_scale):
    assert len(c_major_scale) == 8
    assert c_major_scale.end_step == 32
    assert c_major_scale.steps_per_bar == 16
    assert c_major_scale.seconds == pytest.approx(4.0)  # 8 quarters at 120 qpm
    with pytest.raises(MelodyError, match="monophonic"):
        Melody([Note(60, 0, 4), Note(64, 2, 4)])


def test_transpose_moves_key_and_refuses_leaving_midi(c_major_scale):
    up = c_major_scale.transpose(2)
    assert up.pitches == [p + 2 for p in c_major_scale.pitches]
    assert up.key == Key(2, "major")
    with pytest.raises(MelodyError, match="leaves MIDI 0-127"):
        c_major_scale.transpose(60)


def test_replace_validates_again(c_major_scale):
    assert c_major_scale.replace(qpm=90).qpm == 90.0
    with pytest.raises(MelodyError, match="tempo"):
        c_major_scale.replace(qpm=0)
