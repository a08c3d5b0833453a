"""MIDI reading: tick quantization, meta events, tempo changes, and the files it refuses."""

from __future__ import annotations

import struct

import pretty_midi
import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Note
from melodyrnn.errors import ReadError
from melodyrnn.io.inputs.midi import from_pretty_midi, qpm_from_microseconds, read_score

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


def test_midi_is_read_in_playing_order_without_written_form(tmp_path):
    # an upbeat G and a phrase, played twice: MIDI holds only the notes as played
    steps = list(range(3, 13))
    pitches = [67, 60, 62, 64, 65] * 2
    path = tmp_path / "played.mid"
    path.write_bytes(midi_bytes([e for p, s in zip(pitches, steps, strict=True)
                                 for e in note(p, 24 * s, 24 * s + 24)]))
    score = read_score(path)
    assert (score.form, score.pickup_steps) == ((), 0)
    assert [(n.pitch, n.start_step) for n in score.tracks[0].notes] == \
        list(zip(pitches, steps, strict=True))
    melody = from_pretty_midi(pretty_midi.PrettyMIDI(str(path)))
    assert (melody.form, melody.pickup_steps, melody.pitches) == ((), 0, pitches)
    assert melody.unfold() is melody


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
