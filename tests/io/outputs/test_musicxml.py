"""MusicXML writing through music21: bars, ties, spelling by key, and round trips back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.music21 import from_music21
from melodyrnn.io.outputs.musicxml import to_music21, write_musicxml
from melodyrnn.prepare.extract import extract_melodies, read_melodies


def test_to_music21_makes_bars_ties_and_spells_by_key():
    melody = Melody([Note(63, 0, 4), Note(70, 12, 8)], key="Eb:major")  # crosses the bar line
    part = to_music21(melody).parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures) == 2
    notes = list(part.recurse().notes)
    assert [n.pitch.name for n in notes] == ["E-", "B-", "B-"]
    assert [n.tie.type for n in notes[1:]] == ["start", "stop"]
    assert part.recurse().getElementsByClass("MetronomeMark")[0].number == 120


def test_music21_round_trip_keeps_upbeat_rests_and_velocity(folk_tune):
    back = from_music21(to_music21(folk_tune), source=folk_tune.source)
    assert back == folk_tune
    assert [n.velocity for n in back] == [n.velocity for n in folk_tune]


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl"])
def test_musicxml_file_round_trip_dorian_six_eight(tmp_path, folk_tune, suffix):
    path = write_musicxml(folk_tune, tmp_path / f"tune{suffix}")
    [back] = read_melodies(path)
    assert back == folk_tune.replace(source=f"{path}:track0")


def test_musicxml_round_trip_with_triplets(tmp_path):
    # 12 steps a quarter: triplet eighths are 4 steps, a triplet quarter 8
    notes = [Note(64, 0, 4), Note(65, 4, 4), Note(67, 8, 4), Note(69, 12, 8), Note(67, 20, 4),
             Note(65, 24, 12), Note(64, 48, 6), Note(62, 54, 6)]
    melody = Melody(notes, steps_per_quarter=12, qpm=72.5, time_signature=(3, 4),
                    key="E:phrygian")
    path = write_musicxml(melody, tmp_path / "triplets.musicxml")
    [back] = read_melodies(path, steps_per_quarter=12)
    assert back == melody.replace(source=f"{path}:track0")


@st.composite
def melodies(draw) -> Melody:
    """Random melodies in any mode and common meter, first note in the first bar."""
    spq = draw(st.sampled_from([4, 12]))
    num, den = draw(st.sampled_from([(4, 4), (3, 4), (2, 4), (6, 8), (9, 8), (2, 2)]))
    step = draw(st.integers(0, num * spq * 4 // den - 1))
    notes = []
    for _ in range(draw(st.integers(1, 12))):
        duration = draw(st.integers(1, 6 * spq))
        notes.append(Note(draw(st.integers(21, 108)), step, duration, draw(st.integers(1, 127))))
        step += duration + draw(st.integers(0, 2 * spq))
    modes = st.sampled_from(list(MODE_INTERVALS))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), modes))
    qpm = draw(st.integers(300, 2000).map(lambda tenths: tenths / 10))
    return Melody(notes, steps_per_quarter=spq, qpm=qpm, time_signature=(num, den), key=key)


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(melody=melodies())
def test_melody_musicxml_melody_round_trip(tmp_path_factory, melody):
    path = write_musicxml(melody, tmp_path_factory.mktemp("rt") / "melody.musicxml")
    [score] = read_scores(path, steps_per_quarter=melody.steps_per_quarter)
    [back] = extract_melodies(score, min_notes=1, min_pitch_classes=1, split_gap_bars=None)
    assert back == melody.replace(source=f"{path}:track0")
    assert score.moved_onsets == 0


def test_chromatic_notes_are_spelled_as_musicians_write_them():
    from melodyrnn.core.key import Key
    from melodyrnn.io.outputs.musicxml import _spelling, key_to_music21
    dorian = _spelling(key_to_music21(Key.parse("D:dorian")))
    assert [dorian[pc] for pc in (1, 3, 6, 8, 10)] == ["C#", "E-", "F#", "G#", "B-"]
    major = _spelling(key_to_music21(Key.parse("F:major")))
    assert [major[pc] for pc in (1, 3, 4, 6, 8, 11)] == ["D-", "E-", "E", "F#", "A-", "B"]


def test_music21_conversion_round_trip(folk_tune):
    back = Melody.from_music21(folk_tune.to_music21(), source=folk_tune.source)
    assert back == folk_tune
