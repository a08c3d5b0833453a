"""MusicXML writing through music21: bars, ties, spelling by key, the written form (pickup bar,
repeat barlines, volta brackets), and round trips back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.music21 import from_music21
from melodyrnn.io.outputs.musicxml import to_music21, to_musicxml, write_musicxml
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


def test_music21_conversion_round_trip(folk_tune):
    back = Melody.from_music21(folk_tune.to_music21(), source=folk_tune.source)
    assert back == folk_tune


# --- the written form -------------------------------------------------------------------------

def written_measures(melody: Melody) -> list[ET.Element]:
    return ET.fromstring(to_musicxml(melody).encode("utf-8")).findall("part/measure")


def test_jig_has_a_pickup_bar_and_numbered_measures(jig):
    measures = written_measures(jig)
    assert [m.get("number") for m in measures] == \
        ["0", *map(str, range(1, 9)), "8X1", *map(str, range(9, 17))]
    assert [m.get("number") for m in measures if m.get("implicit") == "yes"] == ["0", "8X1"]
    # the pickup bar holds only the pickup: one eighth, no rest before it
    assert [n.findtext("type") for n in measures[0].iter("note")] == ["eighth"]
    assert [n.findtext("pitch/step") for n in measures[9].iter("note")] == ["D"]


def test_jig_has_repeat_barlines_and_volta_brackets(jig):
    measures = written_measures(jig)
    repeats = [(m.get("number"), b.get("location"), r.get("direction"))
               for m in measures for b in m.iter("barline") for r in b.iter("repeat")]
    assert repeats == [("8", "right", "backward"), ("9", "left", "forward"),
                       ("15", "right", "backward")]
    endings = [(m.get("number"), e.get("number"), e.get("type"))
               for m in measures for e in m.iter("ending")]
    assert endings == [("15", "1", "start"), ("15", "1", "stop"), ("16", "2", "start"),
                       ("16", "2", "discontinue")]  # the last ending has no closing hook
    assert measures[-1].findtext("barline/bar-style") == "light-heavy"


def test_last_ending_spans_as_many_bars_as_the_one_before():
    notes = [Note(60 + i % 8, 4 * i, 4) for i in range(40)]  # 10 bars of 4/4 crotchets
    form = [Mark(16, ENDING, 1), Mark(48, REPEAT_END), Mark(48, ENDING, 2)]
    endings = [(m.get("number"), e.get("number"), e.get("type"))
               for m in written_measures(Melody(notes, form=form)) for e in m.iter("ending")]
    assert endings == [("2", "1", "start"), ("3", "1", "stop"), ("4", "2", "start"),
                       ("5", "2", "discontinue")]
    form += [Mark(64, REPEAT_START), Mark(160, REPEAT_END)]  # a part begins in its 2nd bar
    endings = [(m.get("number"), e.get("number"), e.get("type"))
               for m in written_measures(Melody(notes, form=form)) for e in m.iter("ending")]
    assert endings[2:] == [("4", "2", "start"), ("4", "2", "discontinue")]


def test_part_repeated_from_a_repeat_end_gets_its_start_sign(heard_in, playing_order):
    notes = [Note(60 + i, 4 * i, 4) for i in range(8)]
    melody = Melody(notes, time_signature="2/4", form=[Mark(16, REPEAT_END),
                                                       Mark(32, REPEAT_END)])
    repeats = [(m.get("number"), r.get("direction")) for m in written_measures(melody)
               for r in m.iter("repeat")]
    assert repeats == [("2", "backward"), ("3", "forward"), ("4", "backward")]
    assert heard_in(to_music21(melody), 4) == playing_order(melody)


def test_a_mark_between_bar_lines_ends_a_short_measure():
    # 3/4 with a crotchet pickup: the :| after the short bar that completes it
    notes = [Note(67, 8 + 4 * i, 4) for i in range(9)]
    melody = Melody(notes, time_signature="3/4", pickup_steps=4,
                    form=[Mark(32, REPEAT_END)], end_step=44)
    measures = written_measures(melody)
    assert [(m.get("number"), len(m.findall("note"))) for m in measures] == \
        [("0", 1), ("1", 3), ("2", 2), ("2X1", 1), ("3", 2)]


def test_jig_file_read_by_music21_plays_as_unfold(tmp_path, jig, heard_in, playing_order):
    from music21 import converter

    path = write_musicxml(jig, tmp_path / "jig.musicxml")
    assert heard_in(converter.parse(path), 4) == playing_order(jig)
    [back] = read_melodies(path)
    assert back.notes == jig.notes  # the written notes, each once, at their steps


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_music21_plays_the_musicxml_as_the_playing_order(tmp_path_factory, form_melodies,
                                                         heard_in, playing_order, data):
    from music21 import converter

    melody = data.draw(form_melodies)
    path = write_musicxml(melody, tmp_path_factory.mktemp("form") / "tune.musicxml")
    score = converter.parse(path)
    assert heard_in(score, melody.steps_per_quarter) == playing_order(melody)


def test_mxl_holds_the_same_score(tmp_path, jig):
    import zipfile

    path = write_musicxml(jig, tmp_path / "jig.mxl")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0] == "mimetype"
        assert archive.read("jig.musicxml").decode("utf-8") == to_musicxml(jig)
        assert 'full-path="jig.musicxml"' in archive.read("META-INF/container.xml").decode()
    [back] = read_melodies(path)
    assert back.notes == jig.notes


def test_a_silent_last_bar_that_completes_the_pickup_keeps_its_length(tmp_path, heard_in,
                                                                       playing_order):
    """music21 reads a lone whole rest as the whole bar: a short last bar of 4 quarters in 9/8
    must not grow to 4.5 (found by the property test above)."""
    from music21 import converter

    melody = Melody([], steps_per_quarter=4, qpm=60.0, time_signature=(9, 8), end_step=70,
                    pickup_steps=2)
    score = converter.parse(write_musicxml(melody, tmp_path / "tune.musicxml"))
    assert heard_in(score, 4) == playing_order(melody) == ([], 54)
