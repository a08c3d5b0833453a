"""Keys of melodies: estimating one, normalising to no sharps or flats, transposing."""

from __future__ import annotations

import pytest

from melodyrnn.core.form import REPEAT_END, Mark
from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyError
from melodyrnn.prepare.transpose import augment_transpositions, estimate_key, normalize_key

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def run(pitches: list[int], start: int = 0, duration: int = 4) -> list[Note]:
    """Notes one after another, each `duration` steps long."""
    return [Note(p, start + duration * i, duration) for i, p in enumerate(pitches)]


def test_estimate_key_of_c_major_scale(c_major_scale):
    assert estimate_key(c_major_scale) == Key(0, "major")


def test_estimate_key_of_a_minor_tunes():
    harmonic = [57, 60, 64, 69, 68, 69, 64, 60, 59, 57]
    natural = [57, 59, 60, 62, 64, 62, 60, 59, 57, 64, 57]
    for pitches in (harmonic, natural):
        notes = [*run(pitches[:-1]), Note(pitches[-1], 4 * (len(pitches) - 1), 16)]
        assert estimate_key(Melody(notes)) == Key(9, "minor")


def test_estimate_key_needs_notes():
    with pytest.raises(MelodyError, match="no notes"):
        estimate_key(Melody([]))


@pytest.mark.parametrize(("key", "shift", "new_key"), [
    ("D:major", -2, "C:major"), ("F#:major", -6, "C:major"), ("F:major", -5, "C:major"),
    ("E:minor", 5, "A:minor"), ("A:minor", 0, "A:minor"), ("D:dorian", 0, "D:dorian"),
    ("A:dorian", 5, "D:dorian")])
def test_normalize_key_moves_to_no_sharps_or_flats(key, shift, new_key):
    melody = Melody(run(SCALE), key=key)
    normal = normalize_key(melody)
    assert normal.pitches == [p + shift for p in SCALE]
    assert normal.key == Key.parse(new_key)


def test_normalize_key_estimates_a_missing_key(c_major_scale):
    eb = c_major_scale.transpose(3).replace(key=None)
    normal = normalize_key(eb)
    assert normal.pitches == list(c_major_scale.pitches)
    assert normal.key == Key(0, "major")


def test_normalize_key_stays_inside_midi():
    high = Melody(run([119, 121, 123, 124, 126]), key="G:major")  # +5 would pass 127
    assert normalize_key(high).pitches == [112, 114, 116, 117, 119]


def test_augment_transpositions_stay_in_range(c_major_scale):
    copies = augment_transpositions(c_major_scale)
    assert [m.pitches[0] for m in copies] == list(range(55, 67))
    assert {m.source for m in copies} == {c_major_scale.source}
    narrow = augment_transpositions(c_major_scale, pitch_range=(58, 74))
    assert [m.pitches[0] - 60 for m in narrow] == [-2, -1, 0, 1, 2]
    assert augment_transpositions(c_major_scale, semitones=[60]) == []


def test_transposed_copies_keep_form_and_pickup():
    # a one-beat pickup, then |: A :|
    form = (Mark(28, REPEAT_END),)
    tune = Melody([Note(67, 12, 4), *run(SCALE[:3], start=16)], key="G:major", pickup_steps=4,
                  form=form, source="t")
    normal = normalize_key(tune)
    copies = augment_transpositions(tune, semitones=[-2, 3])
    for melody in (normal, *copies):
        assert (melody.form, melody.pickup_steps, melody.end_step) == (form, 4, 28)
    assert normal.pitches == [p + 5 for p in tune.pitches]
    assert normal.unfold().pitches == [p + 5 for p in tune.unfold().pitches]
    assert [m.pitches[0] for m in copies] == [65, 70]
