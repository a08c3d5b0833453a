"""Melody extraction: skyline and strict, splits at silences, filters that count each drop,
and written form (repeat marks, pickups) carried through."""

from __future__ import annotations

from collections import Counter

import pretty_midi
import pytest

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.score import Score, Track
from melodyrnn.errors import ConfigError
from melodyrnn.prepare.extract import (
    FORM_ACROSS_NOTE,
    FORM_NOT_WELL_FORMED,
    PICKUP_NOT_FITTING,
    extract_melodies,
    read_melodies,
)


def run(pitches: list[int], start: int = 0, duration: int = 4) -> list[Note]:
    """Notes one after another, each `duration` steps long."""
    return [Note(p, start + duration * i, duration) for i, p in enumerate(pitches)]


def triples(melody: Melody) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start_step, n.duration_steps) for n in melody]


SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


@pytest.fixture
def chord_file(tmp_path):
    """Four two-beat block chords at 120 qpm: C, F, G, C with the octave on top."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    chords = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67, 72)]
    for i, chord in enumerate(chords):
        for pitch in chord:
            piano.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=i, end=i + 1.0))
    pm.instruments.append(piano)
    path = tmp_path / "chords.mid"
    pm.write(str(path))
    return path


def test_skyline_on_a_chord_file(chord_file):
    [melody] = read_melodies(chord_file)
    assert triples(melody) == [(67, 0, 8), (72, 8, 8), (74, 16, 8), (72, 24, 8)]
    assert melody.source == f"{chord_file}:track0"


def test_strict_refuses_polyphonic_tracks(chord_file):
    drops: Counter[str] = Counter()
    assert read_melodies(chord_file, strategy="strict", drops=drops) == []
    assert drops == Counter({"polyphonic track": 1})
    score = Score([Track(run(SCALE))], source="mono")
    assert len(extract_melodies(score, "strict")) == 1


def test_unknown_strategy_is_refused():
    with pytest.raises(ConfigError, match="'loudest' is not one of skyline, strict"):
        extract_melodies(Score([]), "loudest")


# --- splitting, bar alignment, filters --------------------------------------------------------

def test_split_at_a_bar_of_silence_keeps_bar_alignment():
    # 4/4 at 4 steps per quarter: 16 steps a bar. Phrase one ends at 16; a full bar of rest;
    # phrase two starts at 32; a rest of 15 steps is not enough to split again.
    notes = run(SCALE[:4]) + run(SCALE[4:], start=32) + run([64, 62, 60, 59], start=63)
    score = Score([Track(notes)], source="song.mid")
    first, second = extract_melodies(score, min_notes=4)
    assert (first.source, second.source) == ("song.mid:track0:part0", "song.mid:track0:part1")
    assert triples(first) == [(60, 0, 4), (62, 4, 4), (64, 8, 4), (65, 12, 4)]
    # moved two whole bars earlier: the first note stays on the downbeat, the 15-step rest stays
    assert [n.start_step for n in second] == [0, 4, 8, 12, 31, 35, 39, 43]
    assert len(extract_melodies(score, min_notes=4, split_gap_bars=2)) == 1
    assert len(extract_melodies(score, min_notes=4, split_gap_bars=None)) == 1


def test_upbeat_stays_an_upbeat():
    score = Score([Track(run(SCALE, start=28))], time_signature=(4, 4))  # bar two, beat four
    [melody] = extract_melodies(score)
    assert melody.notes[0].start_step == 12


def test_every_drop_is_counted_by_reason():
    tracks = [Track(run(SCALE), is_drum=True),
              Track([]),
              Track(run(SCALE[:3])),
              Track(run([60, 72] * 4)),  # one pitch class
              Track(run([*SCALE[:7], 100])),
              Track(run(SCALE, duration=20)),  # 160 steps
              Track(run(SCALE))]
    score = Score(tracks, qpm=100.0, time_signature=(3, 4), key=Key(0), source="x.mid")
    drops: Counter[str] = Counter()
    [melody] = extract_melodies(score, min_notes=4, min_pitch_classes=3, max_steps=128,
                                pitch_range=(36, 96), drops=drops)
    assert drops == Counter({"drum track": 1, "empty track": 1, "too few notes": 1,
                             "too few pitch classes": 1, "outside pitch range": 1,
                             "too long": 1})
    assert melody.source == "x.mid:track6"
    assert (melody.qpm, melody.time_signature, melody.key) == (100.0, (3, 4), Key(0))


def test_read_melodies_keeps_a_short_primer_by_default(tmp_path):
    path = Melody(run([62, 64, 65, 69])).write(tmp_path / "primer.mid")
    [primer] = read_melodies(path)
    assert primer.pitches == [62, 64, 65, 69]
    drops: Counter[str] = Counter()
    assert read_melodies(path, min_notes=8, drops=drops) == []
    assert drops == Counter({"too few notes": 1})


# --- written form: repeat and ending marks, pickups ------------------------------------------

AABB = (Mark(16, REPEAT_START), Mark(48, REPEAT_END), Mark(48, REPEAT_START), Mark(80, REPEAT_END))


def test_form_and_pickup_come_through_and_a_tune_with_form_is_not_split():
    # 4/4 with a one-beat pickup (the tune begins at step 12); a whole bar of rest in the A part
    # would split a tune without form, but a tune with form stays whole
    notes = [Note(67, 12, 4), *run(SCALE[:4], start=16), *run(SCALE[4:], start=48),
             *run(SCALE[:4], start=64)]
    score = Score([Track(notes)], form=AABB, pickup_steps=4, source="reel.abc#1")
    drops: Counter[str] = Counter()
    [melody] = extract_melodies(score, min_notes=4, split_gap_bars=1.0, drops=drops)
    assert melody.form == AABB and melody.pickup_steps == 4 and melody.start_step == 12
    assert melody.source == "reel.abc#1:track0" and not drops
    assert len(melody.unfold()) == 1 + 2 * 4 + 2 * 8
    without_form = Score([Track(notes)], source="reel.abc#1")
    assert len(extract_melodies(without_form, min_notes=4, split_gap_bars=1.0)) == 2


def test_marks_move_with_the_notes():
    # the tune was read two bars late: notes and marks move two bars earlier together
    score = Score([Track(run(SCALE, start=32))], form=(Mark(48, REPEAT_END),))
    [melody] = extract_melodies(score)
    assert melody.notes[0].start_step == 0
    assert melody.form == (Mark(16, REPEAT_END),)
    assert melody.unfold().pitches == SCALE[:4] + SCALE


def test_a_mark_before_the_first_note_moves_the_tune_no_further_than_itself():
    # `|:` at the start of bar two, the first note a beat later: the mark stays in bar one
    score = Score([Track(run(SCALE, start=20))], form=(Mark(16, REPEAT_START),
                                                       Mark(52, REPEAT_END)))
    [melody] = extract_melodies(score)
    assert melody.form == (Mark(0, REPEAT_START), Mark(36, REPEAT_END))
    assert melody.notes[0].start_step == 4


def test_every_track_of_a_tune_with_form_keeps_it():
    score = Score([Track(run(SCALE)), Track(run([p - 12 for p in SCALE]))],
                  form=(Mark(16, REPEAT_END),))
    melodies = extract_melodies(score)
    assert [m.form for m in melodies] == [(Mark(16, REPEAT_END),)] * 2


@pytest.mark.parametrize("form, pickup, reason", [
    ((Mark(18, REPEAT_END),), 0, FORM_ACROSS_NOTE),  # inside the note at steps 16-20
    ((Mark(16, ENDING, 1),), 0, FORM_NOT_WELL_FORMED),  # ending 1 never closed
    ((Mark(16, REPEAT_END),), 20, PICKUP_NOT_FITTING),  # longer than a bar
], ids=["note-across-mark", "open-ending", "pickup-too-long"])
def test_form_that_does_not_fit_is_left_out_and_counted(form, pickup, reason):
    score = Score([Track(run(SCALE))], form=form, pickup_steps=pickup)
    drops: Counter[str] = Counter()
    [melody] = extract_melodies(score, drops=drops)
    assert drops == Counter({reason: 1})
    assert melody.notes == tuple(run(SCALE))  # the melody is kept whole
    if reason == PICKUP_NOT_FITTING:
        assert (melody.pickup_steps, melody.form) == (0, form)
    else:
        assert melody.form == ()


def test_a_pickup_with_notes_before_it_is_left_out():
    # a two-step pickup begins at step 14, but the tune's first note is at step 8
    score = Score([Track(run(SCALE, start=8))], pickup_steps=2)
    drops: Counter[str] = Counter()
    [melody] = extract_melodies(score, drops=drops)
    assert melody.pickup_steps == 0 and drops == Counter({PICKUP_NOT_FITTING: 1})
    assert melody.notes[0].start_step == 8


def test_form_left_out_of_a_dropped_melody_is_not_counted_twice():
    score = Score([Track(run(SCALE[:3]))], form=(Mark(2, REPEAT_END),))
    drops: Counter[str] = Counter()
    assert extract_melodies(score, drops=drops) == []
    assert drops == Counter({"too few notes": 1})


def test_too_long_counts_the_written_length_marks_included():
    score = Score([Track(run(SCALE))], form=(Mark(32, REPEAT_END), Mark(32, REPEAT_START),
                                             Mark(64, REPEAT_END)))
    assert extract_melodies(score, max_steps=48) == []
    assert len(extract_melodies(score, max_steps=64)) == 1
