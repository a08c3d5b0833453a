"""ABC reading through music21: books of tunes, broken tunes counted, ties, chords, encodings."""

from __future__ import annotations

from collections import Counter

import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.abc import split_abc_tunes
from melodyrnn.io.outputs.musicxml import to_music21
from melodyrnn.prepare.extract import read_melodies


def triples(notes) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start_step, n.duration_steps) for n in notes]


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


def test_a_tie_between_two_pitches_joins_nothing(tmp_path):
    # some transcriptions write slurs as ties: d-c and B-d must not stretch the first d
    # over the music up to the next d
    path = tmp_path / "slurs.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nd-c B-d | c4 | d4 |]\n")
    [score] = read_scores(path)
    assert triples(score.tracks[0].notes) == [(74, 0, 4), (72, 4, 4), (71, 8, 4), (74, 12, 4),
                                              (72, 16, 16), (74, 32, 16)]


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


def test_reading_abc_leaves_music21_beaming_alone(data_dir):
    from music21 import stream

    read_scores(data_dir / "small_book.abc")  # includes tunes that raise inside the reader
    assert "makeBeams" not in vars(stream.Part)
    melody = Melody([Note(60, 0, 2), Note(62, 2, 2)])
    assert any(n.beams for n in to_music21(melody).recurse().notes)  # writing still beams
