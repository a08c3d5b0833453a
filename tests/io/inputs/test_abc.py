"""ABC reading through music21: books of tunes, broken tunes counted, ties, chords, encodings,
and the written form (repeat signs, endings, the pickup)."""

from __future__ import annotations

import importlib
import os
from collections import Counter
from pathlib import Path

import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.score import Score
from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.abc import split_abc_tunes
from melodyrnn.io.inputs.music21 import melody_from_score
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


# --- written form: repeat signs, endings and the pickup ---------------------------------------

def read_tune(tmp_path, body: str, header: str = "M:4/4\nL:1/4\nK:C\n",
              drops: Counter[str] | None = None) -> Score:
    path = tmp_path / "tune.abc"
    path.write_text(f"X:1\n{header}{body}\n")
    [score] = read_scores(path, drops=drops)
    return score


@pytest.mark.parametrize(("body", "marks"), [
    ("|: CDEF | GABc | cdef :|", ["RepeatStart@0", "RepeatEnd@48"]),
    ("CDEF | GABc :| defg | abc'd' :|", ["RepeatEnd@32", "RepeatEnd@64"]),
    ("|: CDEF | GABc :: defg | abc'd' :|",
     ["RepeatStart@0", "RepeatEnd@32", "RepeatStart@32", "RepeatEnd@64"]),
    ("|: CDEF | GABc :||: defg | abc'd' :||",
     ["RepeatStart@0", "RepeatEnd@32", "RepeatStart@32", "RepeatEnd@64"]),
    # music21 reads :|: as :| and a dotted bar; the second part still repeats from the first :|
    ("|: CDEF | GABc :|: defg | abc'd' :|", ["RepeatStart@0", "RepeatEnd@32", "RepeatEnd@64"]),
    ("|: CDEF | EFGA |1 GABc :|2 cBAG |]",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]),
    ("|: CDEF | EFGA [1 GABc :| [2 cBAG |]",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]),
    ("|: CDEF | EFGA |[1 GABc :|[2 cBAG |]",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]),
    ("|: CDEF | EFGA |1 GABc | BAGF :|2 cBAG | FGAB |]",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@64", "Ending_2@64"]),
    # a B part with only its closing :| repeats from where the second ending's bracket closes
    ("|: CDEF | EFGA |1 GABc :|2 cBAG | defg | abc'd' :|",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48", "RepeatStart@64",
      "RepeatEnd@96"]),
    ("|: CDEF | EFGA |1 GABc :|2 cBAG | BAGF || defg | abc'd' :|",
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48", "RepeatStart@80",
      "RepeatEnd@112"]),
    ("|: CDEF | EFGA |1 GABc :| cBAG | FGAB |]",  # no |2: the rest is the second ending
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]),
    ("|: CDEF | EFGA |1 GABc :|2 cBAG :|",  # a :| after the last ending repeats nothing
     ["RepeatStart@0", "Ending_1@32", "RepeatEnd@48", "Ending_2@48"]),
    ("|: CDEF | GABc |: defg | abc'd' :|", ["RepeatStart@32", "RepeatEnd@64"]),
    ("[| CDEF | GABc || cdef |]", []),
], ids=["|: :|", ":| :|", "::", ":||:", ":|:", "|1 :|2", "[1 :| [2", "|[1 :|[2",
        "two-bar ending 1", "B part after endings", "B part after a || ",
        "|1 :| without |2", ":| after ending 2",
        "|: without :|", "plain bars"])
def test_abc_repeat_signs_and_endings_become_marks(tmp_path, body, marks):
    drops: Counter[str] = Counter()
    score = read_tune(tmp_path, body, drops=drops)
    assert [str(m) for m in score.form] == marks
    assert not drops and score.pickup_steps == 0
    melody_from_score(score)  # a Melody takes the form as it is


def test_abc_second_part_after_endings_unfolds_a_a_b_b(tmp_path):
    score = read_tune(tmp_path, "|: CDEF | EFGA |1 GABc :|2 cBAG | defg | abc'd' :|")
    played = melody_from_score(score).unfold()
    bar = {"A": [60, 62, 64, 65, 64, 65, 67, 69], "1": [67, 69, 71, 72], "2": [72, 71, 69, 67],
           "B": [74, 76, 77, 79, 81, 83, 84, 86]}
    assert played.pitches == bar["A"] + bar["1"] + bar["A"] + bar["2"] + bar["B"] + bar["B"]
    assert played.form == () and played.end_step == 160


def test_abc_pickup_is_kept_and_unfolds_from_where_the_tune_begins(tmp_path):
    score = read_tune(tmp_path, "C | CDEF | GAB :|")
    assert score.pickup_steps == 4 and [str(m) for m in score.form] == ["RepeatEnd@44"]
    melody = melody_from_score(score)
    assert melody.start_step == 12 and melody.notes[0].start_step == 12
    played = melody.unfold()
    # no bar of rest before the pickup: the tune, and its repeat, begin with the upbeat
    assert triples(played.notes[:2]) == [(60, 12, 4), (60, 16, 4)]
    assert triples(played.notes[8:10]) == [(60, 44, 4), (60, 48, 4)]
    assert (played.start_step, played.end_step, played.pickup_steps) == (12, 76, 4)


def test_abc_note_tied_over_a_repeat_sign_is_split_at_the_sign(tmp_path):
    score = read_tune(tmp_path, "|: CDEF | GABc- :: cdef | gabc :|")
    assert triples(score.tracks[0].notes)[6:10] == [(71, 24, 4), (72, 28, 4), (72, 32, 4),
                                                    (74, 36, 4)]
    assert melody_from_score(score).form == score.form


def test_abc_form_that_cannot_be_mended_is_dropped_and_counted(tmp_path):
    # music21 joins |1 and |2 without a :| into one first ending that never closes
    drops: Counter[str] = Counter()
    score = read_tune(tmp_path, "|: CDEF | EFGA |1 GABc |2 cdef |]", drops=drops)
    assert score.form == () and len(score.tracks[0].notes) == 16
    assert drops == Counter({"written form (a first ending never closed)": 1})


def test_abc_parts_named_by_p_fields_are_read_as_written(tmp_path):
    # music21 ignores P: (no tune of O'Neill's or Ryan's orders its parts with it)
    score = read_tune(tmp_path, "P:A\nCDEF | GABc |\nP:B\ncdef | gabc |]",
                      header="M:4/4\nL:1/4\nP:AAB\nK:C\n")
    assert score.form == () and len(score.tracks[0].notes) == 16


def test_abc_grace_notes_and_notes_merged_by_the_grid_are_counted(tmp_path):
    # 32nd notes on the 16th grid: D/ E/ F/ G/ start at 2, 2.5, 3 and 3.5 steps
    score = read_tune(tmp_path, "{g}C2 D/E/F/G/ A4 | {ag}[CEG]8 | c8 |]",
                      header="M:2/4\nL:1/16\nK:C\n")
    assert (score.grace_notes, score.merged_notes) == (3, 2)
    # E and F now share step 3, G and A step 4 (a track lists the higher note first)
    assert triples(score.tracks[0].notes)[:6] == [(60, 0, 2), (62, 2, 1), (65, 3, 1),
                                                  (64, 3, 1), (69, 4, 4), (67, 4, 1)]


def test_oneills_97_reads_as_a_repeated_a_part_and_a_b_part_with_two_endings(data_dir):
    drops: Counter[str] = Counter()
    [score] = read_scores(data_dir / "oneills_97.abc", drops=drops)
    assert not drops and score.source.endswith("#97")
    melody = melody_from_score(score)
    assert (melody.time_signature, melody.pickup_steps, melody.start_step) == ((4, 4), 4, 12)
    assert melody.notes[0] == Note(67, 12, 4)  # the upbeat G2
    assert [str(m) for m in melody.form] == [
        "RepeatEnd@136", "RepeatStart@136", "Ending_1@234", "RepeatEnd@264", "Ending_2@264"]

    def written(a: int, b: int) -> list[tuple[int, int]]:
        return [(n.pitch, n.duration_steps) for n in melody.notes if a <= n.start_step < b]

    a_part, b_part = written(12, 136), written(136, 234)
    ending_1, ending_2 = written(234, 264), written(264, melody.end_step)
    played = melody.unfold()
    assert [(n.pitch, n.duration_steps) for n in played.notes] == \
        a_part + a_part + b_part + ending_1 + b_part + ending_2
    assert played.start_step == 12 and played.end_step == 12 + 2 * 124 + 128 + 98 + 28


# Measured by benchmarks/repeat_check.py over O'Neill's 1850 and Ryan's Mammoth (2,030 tunes
# with repeats or endings): how many tunes may fall under each outcome other than agreement.
# "music21 reads the signs otherwise" are tunes music21 plays as we do once our marks are
# written back (mostly a `:|` with no `|:`, which music21 takes back to the tune's start);
# "differ even with our marks written back" are two tunes whose overlong bars music21 re-bars,
# moving a `:|` into a bar so that it cuts a tied note (we split the note there).
REPEAT_CHECK_LIMITS = {
    "music21 reads the signs otherwise": 530,
    "music21 cannot expand it": 32,  # a |: with no :|, which we play once
    "differ on the 4-per-quarter grid only": 11,
    "our form dropped": 8,
    "differ even with our marks written back": 2,
}
REPEAT_CHECK_AGREE, REPEAT_CHECK_TUNES = 1447, 2030


@pytest.mark.slow
def test_unfolded_form_of_oneills_and_ryans_agrees_with_music21(music21_corpus_file,
                                                                monkeypatch):
    music21_corpus_file("oneills1850/0051-0100.abc")  # skips where the corpus is missing
    # the check is a benchmark script (it prints a report); imported by name from its folder,
    # so that its worker processes can import it too
    monkeypatch.syspath_prepend(str(Path(__file__).parents[3] / "benchmarks"))
    check = importlib.import_module("repeat_check")
    outcomes = Counter(outcome for outcome, _ in check.check_books(check.book_files(),
                                                                   jobs=os.cpu_count() or 1))
    by_kind = Counter({kind: sum(n for outcome, n in outcomes.items()
                                 if outcome.startswith(kind))
                       for kind in REPEAT_CHECK_LIMITS})
    assert sum(outcomes.values()) - outcomes[check.NO_FORM] == REPEAT_CHECK_TUNES
    assert outcomes[check.AGREE] >= REPEAT_CHECK_AGREE
    assert {k: n for k, n in by_kind.items() if n > REPEAT_CHECK_LIMITS[k]} == {}
