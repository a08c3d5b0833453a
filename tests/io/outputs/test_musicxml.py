"""MusicXML and ABC reading through music21, and Melody <-> music21 <-> MusicXML round trips."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.abc import split_abc_tunes
from melodyrnn.io.inputs.music21 import from_music21
from melodyrnn.io.outputs.musicxml import to_music21, write_musicxml
from melodyrnn.prepare.extract import extract_melodies, read_melodies


def triples(notes) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start_step, n.duration_steps) for n in notes]


# --- ABC --------------------------------------------------------------------------------------

def test_abc_book_gives_one_score_per_tune_and_counts_broken_tunes(data_dir):
    path = data_dir / "small_book.abc"
    drops: Counter[str] = Counter()
    tied, dorian, again = read_scores(path, drops=drops)
    assert [s.source for s in (tied, dorian, again)] == [f"{path}#1", f"{path}#2", f"{path}#2.2"]
    assert drops == Counter({"unreadable tune (ValueError)": 1,  # Q:abc
                             "unreadable tune (ZeroDivisionError)": 1})  # L:1/0
    # E4- | E2 is one tied note; [CEG] is three notes; the {g} grace note is skipped
    assert triples(tied.tracks[0].notes) == [(60, 0, 4), (62, 4, 4), (64, 8, 12), (67, 20, 4),
                                             (64, 20, 4), (60, 20, 4), (69, 24, 4), (67, 28, 4)]
    assert (tied.qpm, tied.time_signature, tied.key) == (100.0, (4, 4), Key(0, "major"))
    # the upbeat eighth sits at the end of an (implied) first bar: 12 steps a bar in 6/8
    assert triples(dorian.tracks[0].notes)[:2] == [(69, 10, 2), (74, 12, 4)]
    assert (dorian.qpm, dorian.time_signature, dorian.key) == (120.0, (6, 8), Key(2, "dorian"))
    assert (again.qpm, again.time_signature, again.key) == (90.0, (3, 4), Key(9, "minor"))
    assert (tied.moved_onsets, tied.total_onsets) == (0, 8)


def test_abc_melodies_take_the_top_of_chords(data_dir):
    first = read_melodies(data_dir / "small_book.abc")[0]
    assert first.pitches == [60, 62, 64, 67, 69, 67]
    assert first.source.endswith("small_book.abc#1:track0")


def test_split_abc_tunes_keeps_header_fields_and_makes_labels_unique():
    text = "%abc\nA:Somewhere\nsome free text\n\nX:7\nK:C\nCDE\n\nX:7\nK:G\nGAB\nX:\nK:D\nD\n"
    header, tunes = split_abc_tunes(text)
    assert header == "%abc\nA:Somewhere\n"
    assert [label for label, _ in tunes] == ["7", "7.2", "3"]
    assert tunes[1][1] == "X:7\nK:G\nGAB\n"
    assert split_abc_tunes("K:C\nCDEF\n") == ("", [("1", "K:C\nCDEF\n")])


def test_abc_file_without_tunes_is_a_read_error(tmp_path):
    path = tmp_path / "empty.abc"
    path.write_text("% nothing but a comment\n")
    with pytest.raises(ReadError, match=r"empty\.abc: no ABC tunes"):
        read_scores(path)


def test_latin1_abc_file_reads(tmp_path):
    path = tmp_path / "latin1.abc"
    path.write_bytes("X:1\nT:Schöne Grüße\nM:2/4\nL:1/8\nK:G\nGABc|d4|]\n".encode("latin-1"))
    [score] = read_scores(path)
    assert [n.pitch for n in score.tracks[0].notes] == [67, 69, 71, 72, 74]


@pytest.mark.slow
def test_essen_kinder_book_reads_every_tune(music21_corpus_file):
    drops: Counter[str] = Counter()
    scores = read_scores(music21_corpus_file("essenFolksong/kinder0.abc"), drops=drops)
    assert len(scores) == 213
    assert sum(len(t.notes) for s in scores for t in s.tracks) == 8393
    assert not drops
    assert {s.time_signature for s in scores} <= {(2, 4), (3, 4), (4, 4), (6, 8), (3, 8)}


@pytest.mark.slow
def test_oneills_book_reads_every_tune(music21_corpus_file):
    drops: Counter[str] = Counter()
    scores = read_scores(music21_corpus_file("oneills1850/0001-0050.abc"), drops=drops)
    assert len(scores) == 50
    assert not drops
    assert scores[0].key == Key(7, "minor") and scores[0].time_signature == (2, 4)


# --- MusicXML ---------------------------------------------------------------------------------

def test_bach_chorale_reads_four_voices_with_the_upbeat_in_place(music21_corpus_file):
    [score] = read_scores(music21_corpus_file("bach/bwv66.6.mxl"))
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert (score.time_signature, score.key) == ((4, 4), Key(6, "minor"))
    soprano = score.tracks[0].notes
    assert soprano[0].start_step == 12  # a one-beat upbeat ends the first 16-step bar
    assert [n.pitch for n in soprano[:6]] == [73, 71, 69, 71, 73, 76]


def test_from_music21_takes_the_top_line_of_all_parts(music21_corpus_file):
    import music21

    chorale = music21.converter.parse(music21_corpus_file("bach/bwv66.6.mxl"))
    melody = from_music21(chorale, source="bwv66.6")
    assert melody.pitches[:6] == [73, 71, 69, 71, 73, 76]
    assert melody.key == Key(6, "minor") and melody.source == "bwv66.6"


def test_unreadable_musicxml_raises_read_error_naming_it(tmp_path):
    path = tmp_path / "broken.musicxml"
    path.write_text("<score-partwise><part id='P1'><measure>")
    with pytest.raises(ReadError, match=r"broken\.musicxml: not readable as MusicXML"):
        read_scores(path)
    with pytest.raises(ReadError, match="no such file"):
        read_scores(tmp_path / "gone.musicxml")


# --- Melody -> music21 / MusicXML -------------------------------------------------------------

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


@settings(max_examples=15, deadline=None)
@given(melody=melodies())
def test_melody_musicxml_melody_round_trip(tmp_path_factory, melody):
    path = write_musicxml(melody, tmp_path_factory.mktemp("rt") / "melody.musicxml")
    [score] = read_scores(path, steps_per_quarter=melody.steps_per_quarter)
    [back] = extract_melodies(score, min_notes=1, min_pitch_classes=1, split_gap_bars=None)
    assert back == melody.replace(source=f"{path}:track0")
    assert score.moved_onsets == 0


def test_reading_abc_leaves_music21_beaming_alone(data_dir):
    from music21 import stream

    read_scores(data_dir / "small_book.abc")  # includes tunes that raise inside the reader
    assert "makeBeams" not in vars(stream.Part)
    melody = Melody([Note(60, 0, 2), Note(62, 2, 2)])
    assert any(n.beams for n in to_music21(melody).recurse().notes)  # writing still beams


def test_chromatic_notes_are_spelled_as_musicians_write_them():
    from melodyrnn.core.key import Key
    from melodyrnn.io.outputs.musicxml import _spelling, key_to_music21
    dorian = _spelling(key_to_music21(Key.parse("D:dorian")))
    assert [dorian[pc] for pc in (1, 3, 6, 8, 10)] == ["C#", "E-", "F#", "G#", "B-"]
    major = _spelling(key_to_music21(Key.parse("F:major")))
    assert [major[pc] for pc in (1, 3, 4, 6, 8, 11)] == ["D-", "E-", "E", "F#", "A-", "B"]
