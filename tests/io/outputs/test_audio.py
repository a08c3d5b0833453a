"""Audio: WAV files that play the melody's notes, checked by hearing the pitches back.

The "listen" test: for each note, the fundamental frequency found in the middle of the note
(harmonic summation over the spectrum, then refined from the partials: `audio.estimate_pitch`)
rounded to the nearest MIDI number must equal the note's pitch exactly, octave included, and
lie within a quarter of a semitone of it (in tune).
"""

from __future__ import annotations

import wave

import numpy as np
import pytest

from melodyrnn.core.form import ENDING, REPEAT_END, Mark
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ConfigError, MelodyRNNError
from melodyrnn.io.outputs import audio

FLUIDSYNTH_PROBLEM = audio.fluidsynth_problem()
needs_fluidsynth = pytest.mark.skipif(
    FLUIDSYNTH_PROBLEM is not None,
    reason=f"fluidsynth is not usable here: {FLUIDSYNTH_PROBLEM} (apt-get install libfluidsynth3)")

RATE = 44100
TUNE = (60, 62, 64, 67, 69, 72)  # C4 D4 E4 G4 A4 C5
# A2 up to E6 and back, then the extremes of the detector's range that a piano plays well
WIDE = (45, 52, 57, 64, 69, 76, 81, 88, 84, 79, 72, 67, 60, 55, 48, 43, 40, 100, 96, 91)


def quarter_notes(pitches: tuple[int, ...], qpm: float = 120.0) -> Melody:
    """One quarter note per pitch, back to back, 4/4."""
    return Melody([Note(p, 4 * i, 4) for i, p in enumerate(pitches)], qpm=qpm)


def heard(samples: np.ndarray, melody: Melody) -> list[int]:
    """The MIDI pitch heard in each note, after checking that each is in tune."""
    detected = audio.detect_pitches(samples, RATE, melody)
    assert None not in detected
    assert all(abs(got - round(got)) < 0.25 for got in detected), detected
    return [round(got) for got in detected]


# --- hearing the notes ------------------------------------------------------------------------

@pytest.mark.parametrize("pitches", [TUNE, WIDE], ids=["tune", "wide"])
def test_plain_synth_plays_each_note_at_its_pitch(pitches):
    melody = quarter_notes(pitches)
    samples = audio.to_wav_array(melody, RATE, synth="plain")
    assert heard(samples, melody) == list(pitches)


@needs_fluidsynth
@pytest.mark.parametrize("pitches", [TUNE, WIDE], ids=["tune", "wide"])
def test_fluidsynth_piano_plays_each_note_at_its_pitch(pitches):
    melody = quarter_notes(pitches)
    samples = audio.to_wav_array(melody, RATE, program=0, synth="fluidsynth")
    assert heard(samples, melody) == list(pitches)


@needs_fluidsynth
def test_fluidsynth_plays_the_general_midi_program_asked_for():
    melody = quarter_notes(TUNE)
    piano = audio.to_wav_array(melody, RATE, program=0, synth="fluidsynth")
    for program in (40, 73):  # violin, flute
        samples = audio.to_wav_array(melody, RATE, program=program, synth="fluidsynth")
        assert heard(samples, melody) == list(TUNE)
        assert not np.allclose(samples[:len(piano)], piano[:len(samples)], atol=0.05)


def test_pitch_check_hears_an_octave_and_a_semitone():
    """The check can fail: audio of the tune moved up an octave (or a semitone) is heard as
    that, not as the notes the melody asks for."""
    melody = quarter_notes(TUNE)
    for shift in (12, 1):
        samples = audio.to_wav_array(melody.transpose(shift), RATE, synth="plain")
        assert heard(samples, melody) == [p + shift for p in TUNE]


def test_estimate_pitch_of_a_pure_tone_and_of_silence():
    t = np.arange(RATE // 4) / RATE
    assert audio.estimate_pitch(np.sin(2 * np.pi * 440.0 * t), RATE) == pytest.approx(69, abs=0.1)
    assert audio.estimate_pitch(np.zeros(RATE // 4), RATE) is None


# --- the waveform and the file ----------------------------------------------------------------

@pytest.mark.parametrize("synth", ["plain", pytest.param("fluidsynth", marks=needs_fluidsynth)])
def test_wav_file_is_mono_16_bit_normalised_with_a_ring_out_tail(tmp_path, synth):
    melody = quarter_notes(TUNE)  # 3 s at 120 qpm
    path = audio.write_wav(melody, tmp_path / "tune.wav", sample_rate=22050, synth=synth)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getcomptype() == "NONE"
        assert wav.getnframes() == 22050 * 4  # 3 s of music and 1 s of tail
    samples, rate = audio.read_wav(path)
    peak = np.abs(samples).max()
    assert peak == pytest.approx(audio.PEAK, abs=0.01)  # loud, and clear of clipping
    after_last_note = samples[3 * rate:int(3.1 * rate)]
    assert np.sqrt(np.mean(after_last_note ** 2)) > 0.005  # the last note rings on


def waltz_with_endings() -> Melody:
    """3/4 crotchets with a crotchet pickup: G | C D E |1 F E D :|2 C C, which plays
    G C D E F E D G C D E C C: 13 notes, 52 steps (13 beats)."""
    pitches = [67, 72, 74, 76, 77, 76, 74, 72, 72]
    notes = [Note(p, 8 + 4 * i, 4) for i, p in enumerate(pitches)]
    form = [Mark(24, ENDING, 1), Mark(36, REPEAT_END), Mark(36, ENDING, 2)]
    return Melody(notes, time_signature="3/4", pickup_steps=4, form=form)


@pytest.mark.parametrize("synth", ["plain", pytest.param("fluidsynth", marks=needs_fluidsynth)])
def test_audio_plays_the_repeat_and_endings_from_the_pickup(synth):
    melody = waltz_with_endings()
    samples = audio.to_wav_array(melody, RATE, synth=synth)
    assert heard(samples, melody) == [67, 72, 74, 76, 77, 76, 74, 67, 72, 74, 76, 72, 72]
    assert len(samples) == RATE * (13 // 2 + 1) + RATE // 2  # 6.5 s of music, 1 s of tail
    # the pickup sounds at once: no bar of silence before it
    assert np.abs(samples[:int(0.05 * RATE)]).max() > 0.05


def test_pitch_check_follows_the_playing_order():
    """The check can fail: a melody that plays its bars straight through is heard as that."""
    melody = waltz_with_endings()
    straight = melody.replace(form=())
    samples = audio.to_wav_array(straight, RATE, synth="plain")
    assert heard(samples, straight) == [67, 72, 74, 76, 77, 76, 74, 72, 72]
    expected = heard(audio.to_wav_array(melody, RATE, synth="plain"), melody)
    detected = audio.detect_pitches(samples, RATE, melody)
    assert [round(p) if p is not None else None for p in detected] != expected


def test_trailing_rests_are_part_of_the_audio():
    melody = Melody([Note(60, 0, 4)], end_step=16)  # one beat, then three beats' rest
    assert len(audio.to_wav_array(melody, 8000, synth="plain")) == 8000 * 3  # 2 s + 1 s tail


def test_empty_melody_is_silence():
    samples = audio.to_wav_array(Melody([], end_step=8), 8000)
    assert len(samples) == 8000 * 2 and not samples.any()


def test_wav_bytes_round_trip(tmp_path):
    samples = audio.to_wav_array(quarter_notes(TUNE), 16000, synth="plain")
    path = tmp_path / "x.wav"
    path.write_bytes(audio.to_wav_bytes(samples, 16000))
    back, rate = audio.read_wav(path)
    assert rate == 16000 and np.abs(back - samples).max() < 2 / 32768


# --- without fluidsynth -----------------------------------------------------------------------

def test_auto_falls_back_to_the_plain_synth_with_a_one_line_hint(monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_problem", lambda: "libfluidsynth is not installed")
    melody = quarter_notes(TUNE)
    with pytest.warns(audio.SynthFallbackWarning, match="apt-get install libfluidsynth3") as got:
        samples = audio.to_wav_array(melody, RATE)
    assert "\n" not in str(got[0].message)
    assert np.array_equal(samples, audio.to_wav_array(melody, RATE, synth="plain"))


def test_asking_for_fluidsynth_without_it_is_an_error(monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_problem", lambda: "libfluidsynth is not installed")
    with pytest.raises(MelodyRNNError, match="libfluidsynth3"):
        audio.to_wav_array(quarter_notes(TUNE), RATE, synth="fluidsynth")


@needs_fluidsynth
def test_missing_soundfont_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nothing\.sf2 does not exist"):
        audio.to_wav_array(quarter_notes(TUNE), synth="fluidsynth",
                           soundfont=tmp_path / "nothing.sf2")


@pytest.mark.parametrize(("options", "message"), [
    ({"sample_rate": 100}, "sample rate 100"),
    ({"program": 128}, "program 128"),
    ({"synth": "organ"}, "synth 'organ'"),
], ids=["rate", "program", "synth"])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        audio.to_wav_array(quarter_notes(TUNE), **options)
