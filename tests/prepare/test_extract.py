"""Melody extraction (skyline, strict, splits, filters counting drops), keys, transposition."""

from __future__ import annotations

from collections import Counter

import pretty_midi
import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.score import Score, Track, is_monophonic, skyline
from melodyrnn.errors import ConfigError, MelodyError, ReadError
from melodyrnn.io import read_scores
from melodyrnn.prepare.extract import extract_melodies, read_melodies
from melodyrnn.prepare.transpose import augment_transpositions, estimate_key, normalize_key


def run(pitches: list[int], start: int = 0, duration: int = 4) -> list[Note]:
    """Notes one after another, each `duration` steps long."""
    return [Note(p, start + duration * i, duration) for i, p in enumerate(pitches)]


def triples(melody: Melody) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start_step, n.duration_steps) for n in melody]


SCALE = [60, 62, 64, 65, 67, 69, 71, 72]

# --- skyline and strict -----------------------------------------------------------------------


def test_skyline_rules():
    notes = [Note(60, 0, 8), Note(64, 0, 4), Note(67, 0, 2),  # chord: its top note, 67
             Note(62, 2, 4),  # 67 has ended: kept
             Note(59, 4, 2),  # lower than the sounding 62: masked, dropped
             Note(65, 5, 3),  # higher than the sounding 62: 62 is cut at step 5
             Note(65, 7, 2)]  # same pitch again: a new note, the first 65 is cut
    line = skyline(notes)
    assert [(n.pitch, n.start_step, n.duration_steps) for n in line] == [
        (67, 0, 2), (62, 2, 3), (65, 5, 2), (65, 7, 2)]
    assert is_monophonic(line)
    assert not is_monophonic(notes)


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


def test_read_scores_refuses_unknown_missing_and_folders(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("C D E")
    with pytest.raises(ReadError, match=r"notes\.txt: unknown file type '\.txt'.*\.mid"):
        read_scores(text)
    with pytest.raises(ReadError, match=r"gone\.mid: no such file"):
        read_scores(tmp_path / "gone.mid")
    with pytest.raises(ReadError, match="is a directory"):
        read_scores(tmp_path)


# --- keys -------------------------------------------------------------------------------------

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
