"""MIDI reading (tick quantization, meta events, refusals) and writing, with round trips."""

from __future__ import annotations

import struct

import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.core.key import Key, key_from_signature
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.io.inputs.midi import from_pretty_midi, qpm_from_microseconds, read_score
from melodyrnn.io.outputs.midi import to_pretty_midi, write_midi
from melodyrnn.prepare.extract import extract_melodies

# --- a tiny MIDI file writer, to make files with exactly the quirk a test needs ---------------


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def midi_bytes(events: list[tuple[int, bytes]], division: bytes = struct.pack(">H", 96)) -> bytes:
    """A format-0 file: one track of (absolute tick, event bytes), end of track appended."""
    track, now = b"", 0
    for tick, event in sorted(events, key=lambda e: e[0]):
        track += _vlq(tick - now) + event
        now = tick
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHH", 6, 0, 1) + division
            + b"MTrk" + struct.pack(">I", len(track)) + track)


def note(pitch: int, on: int, off: int, velocity: int = 100) -> list[tuple[int, bytes]]:
    return [(on, bytes([0x90, pitch, velocity])), (off, bytes([0x80, pitch, 0]))]


# --- reading ----------------------------------------------------------------------------------

def test_ticks_are_quantized_and_moved_onsets_counted(tmp_path):
    events = (note(60, 0, 96) + note(62, 121, 192) + note(64, 192, 194)
              + note(65, 215, 288, velocity=0xFF))  # velocity byte over 127: clamped
    path = tmp_path / "offgrid.mid"
    path.write_bytes(midi_bytes(events))
    score = read_score(path)
    # 121 ticks = 5.04 steps -> 5 (moved); 194 ticks -> length 0 -> kept as 1 step;
    # 215 ticks = 8.96 steps -> 9 (moved)
    assert [(n.pitch, n.start_step, n.duration_steps) for n in score.tracks[0].notes] == [
        (60, 0, 4), (62, 5, 3), (64, 8, 1), (65, 9, 3)]
    assert score.tracks[0].notes[-1].velocity == 127
    assert (score.moved_onsets, score.total_onsets) == (2, 4)
    assert (score.qpm, score.time_signature, score.key) == (120.0, (4, 4), None)
    assert score.source == str(path)


def test_tempo_meter_and_key_come_from_the_first_events(tmp_path):
    events = [(0, b"\xff\x51\x03" + (615385).to_bytes(3, "big")),  # 97.5 qpm
              (0, b"\xff\x58\x04\x06\x03\x18\x08"),  # 6/8
              (0, b"\xff\x59\x02\xfd\x01"),  # 3 flats, minor: C minor
              (384, b"\xff\x51\x03" + (1000000).to_bytes(3, "big")),  # later change: ignored
              *note(60, 0, 96)]
    path = tmp_path / "meta.mid"
    path.write_bytes(midi_bytes(events))
    score = read_score(path, steps_per_quarter=12)
    assert (score.qpm, score.time_signature, score.key) == (97.5, (6, 8), Key(0, "minor"))
    assert score.tracks[0].notes == [Note(60, 0, 12, 100)]


def test_nonsense_time_signature_falls_back_to_four_four(tmp_path):
    path = tmp_path / "zero-over-four.mid"
    path.write_bytes(midi_bytes([(0, b"\xff\x58\x04\x00\x02\x18\x08"), *note(60, 0, 96)]))
    assert read_score(path).time_signature == (4, 4)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (b"RIFF\x00\x00\x00\x00RMIDdata", "RIFF"),
    (b"%PDF-1.4 not music at all", "not a MIDI file"),
    (midi_bytes(note(60, 0, 96), division=b"\xe7\x28"), "SMPTE-timed"),
    (midi_bytes(note(60, 0, 96))[:-6], "corrupt MIDI"),
    (midi_bytes(note(60, 0, 96), division=b"\x00\x00"), "ticks per quarter is 0"),
])
def test_unreadable_files_raise_read_error_naming_them(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=reason) as info:
        read_score(path)
    assert "bad.mid" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        read_score(tmp_path / "gone.mid")
    with pytest.raises(ReadError, match="is a directory"):
        read_score(tmp_path)


@pytest.mark.parametrize(("microseconds", "qpm"), [
    (500000, 120.0), (615385, 97.5), (666667, 90.0), (600000, 100.0), (1000000, 60.0)])
def test_qpm_from_microseconds_undoes_whole_microsecond_rounding(microseconds, qpm):
    assert qpm_from_microseconds(microseconds) == qpm


@pytest.mark.parametrize(("sharps", "minor", "key"), [
    (0, False, "C:major"), (0, True, "A:minor"), (2, False, "D:major"), (-3, True, "C:minor"),
    (6, False, "F#:major"), (-1, True, "D:minor")])
def test_key_from_signature(sharps, minor, key):
    assert key_from_signature(sharps, minor) == Key.parse(key)


# --- pretty_midi conversions ------------------------------------------------------------------

@pytest.mark.parametrize(("key", "number"), [
    ("C:major", 0), ("Eb:major", 3), ("A:minor", 21), ("B:minor", 23), ("D:dorian", 0),
    ("E:phrygian", 0), ("A:mixolydian", 2)])
def test_key_numbers_written(key, number):
    pm = to_pretty_midi(Melody([Note(60, 0, 4)], key=key))
    assert pm.key_signature_changes[0].key_number == number


@pytest.mark.parametrize("steps_per_quarter", [1, 3, 4, 7, 12, 96])
def test_resolution_is_a_multiple_of_steps_per_quarter(steps_per_quarter):
    pm = to_pretty_midi(Melody([Note(60, 1, 1)], steps_per_quarter=steps_per_quarter))
    assert pm.resolution % steps_per_quarter == 0
    assert pm.time_to_tick(pm.instruments[0].notes[0].start) == pm.resolution // steps_per_quarter


def test_from_pretty_midi_skips_drums_and_takes_the_top_line():
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.5))
    piano = pretty_midi.Instrument(program=0)
    for pitch in (60, 64, 67):  # a C major chord for one beat, then D
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=0.0, end=0.5))
    piano.notes.append(pretty_midi.Note(velocity=90, pitch=62, start=0.5, end=1.0))
    pm.instruments += [drums, piano]
    melody = from_pretty_midi(pm)
    assert [(n.pitch, n.start_step, n.duration_steps) for n in melody] == [(67, 0, 4), (62, 4, 4)]


def test_from_pretty_midi_follows_tempo_changes_on_the_tick_grid(tmp_path):
    # one beat at 120 qpm, then 60 qpm: quantizing seconds at one tempo would misplace notes
    events = [(0, b"\xff\x51\x03" + (500000).to_bytes(3, "big")),
              (96, b"\xff\x51\x03" + (1000000).to_bytes(3, "big")),
              *note(60, 0, 96), *note(62, 96, 192), *note(64, 192, 384)]
    path = tmp_path / "tempo-change.mid"
    path.write_bytes(midi_bytes(events))
    melody = from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))
    assert [(n.start_step, n.duration_steps) for n in melody] == [(0, 4), (4, 4), (8, 8)]
    assert melody.qpm == 120.0


# --- round trips ------------------------------------------------------------------------------

@st.composite
def melodies(draw) -> Melody:
    """Random melodies whose first note lies in the first bar (extraction keeps bars)."""
    spq = draw(st.sampled_from([4, 12]))
    num, den = draw(st.sampled_from([(4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (5, 8), (12, 8)]))
    step = draw(st.integers(0, num * spq * 4 // den - 1))
    notes = []
    for _ in range(draw(st.integers(1, 20))):
        duration = draw(st.integers(1, 8 * spq))
        notes.append(Note(draw(st.integers(0, 127)), step, duration, draw(st.integers(1, 127))))
        step += duration + draw(st.integers(0, 2 * spq))
    qpm = draw(st.one_of(st.integers(20, 400).map(float),
                         st.integers(200, 2000).map(lambda tenths: tenths / 10)))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), st.sampled_from(["major",
                                                                                "minor"])))
    return Melody(notes, steps_per_quarter=spq, qpm=qpm, time_signature=(num, den), key=key)


@settings(max_examples=60, deadline=None)
@given(melody=melodies())
def test_melody_midi_file_melody_round_trip(tmp_path_factory, melody):
    path = write_midi(melody, tmp_path_factory.mktemp("rt") / "melody.mid")
    score = read_score(path, steps_per_quarter=melody.steps_per_quarter)
    [back] = extract_melodies(score, min_notes=1, min_pitch_classes=1, split_gap_bars=None)
    assert back == melody.replace(source=f"{path}:track0")
    assert score.moved_onsets == 0


def test_written_file_is_standard_midi(tmp_path, c_major_scale):
    path = write_midi(c_major_scale, tmp_path / "scale.mid", program=40)
    assert path.read_bytes()[:4] == b"MThd"
    score = read_score(path)
    assert score.tracks[0].program == 40
    assert [n.pitch for n in score.tracks[0].notes] == list(c_major_scale.pitches)


def test_errors_are_melodyrnn_errors():
    assert issubclass(ReadError, MelodyRNNError)
