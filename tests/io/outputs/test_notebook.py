"""Notebook display: a melody's HTML holds its engraved score and a small playable MP3 (or
an 8-bit WAV where MP3 cannot be written), shows no warnings, and a list of melodies shows
as a gallery."""

from __future__ import annotations

import base64
import io
import os
import re
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.io.outputs import audio, mp3, notebook

needs_mp3 = pytest.mark.skipif(mp3.mp3_problem() is not None,
                               reason=f"no MP3 encoder here: {mp3.mp3_problem()}")
URI = re.compile(r'<audio controls[^>]* src="data:(audio/[a-z]+);base64,([A-Za-z0-9+/=]+)"')
SCALE_PITCHES = [60, 62, 64, 65, 67, 69, 71, 72]


def eighths(bars: int) -> Melody:
    """`bars` bars of 4/4 eighth notes at 120 qpm, up and down the C major scale."""
    line = SCALE_PITCHES + SCALE_PITCHES[-2:0:-1]
    notes = [Note(line[i % len(line)], 2 * i, 2) for i in range(8 * bars)]
    return Melody(notes, key="C:major", source=f"{bars}-bars")


def audio_of(page: str) -> tuple[str, bytes]:
    match = URI.search(page)
    assert match, page[:500]
    return match.group(1), base64.b64decode(match.group(2))


def decode_mp3(data: bytes, tmp_path: Path) -> tuple[np.ndarray, int]:
    """(float samples, sample rate) of MP3 bytes, decoded by libsndfile (mpg123)."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples[:, 0], rate


@needs_mp3
@pytest.mark.parametrize(("bars", "most_bytes"), [(8, 150_000), (16, 300_000)])
def test_a_melodys_view_is_small(bars, most_bytes):
    page = eighths(bars)._repr_html_()
    mime, data = audio_of(page)
    assert mime == "audio/mpeg"
    # 32 kbit/s is 4 KB a second: 2 s a bar at 120 qpm, and the 1 s ring-out
    seconds = 2 * bars + audio.TAIL_SECONDS
    assert 0.8 * seconds * 4000 < len(data) < 1.3 * seconds * 4000
    assert len(page.encode()) < most_bytes


@needs_mp3
def test_the_mp3_plays_the_melodys_pitches(c_major_scale, tmp_path):
    page = notebook.melody_repr_html(c_major_scale)
    assert page.count('class="note"') == 8  # the score
    mime, data = audio_of(page)
    assert mime == "audio/mpeg"
    samples, rate = decode_mp3(data, tmp_path)
    assert rate == notebook.MP3_RATE
    # 4 s of scale and 1 s of ring-out, give or take the encoder's padding
    assert abs(len(samples) / rate - 5.0) < 0.1
    # the encoder's delay shifts the audio by a few milliseconds, well inside each note
    heard = audio.detect_pitches(samples, rate, c_major_scale)
    assert [round(p) for p in heard if p is not None] == SCALE_PITCHES


def test_viewing_prints_and_warns_nothing(c_major_scale, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = notebook.melody_repr_html(c_major_scale)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert "warning" not in page.lower()


def test_what_c_libraries_print_while_synthesizing_is_dropped(capfd):
    with notebook._quiet() as caught:
        os.write(2, b"fluidsynth: warning: No preset found on channel 9\n")
        warnings.warn("from the synth", UserWarning, stacklevel=1)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    assert [str(w.message) for w in caught] == ["from the synth"]


def test_without_fluidsynth_the_plain_synth_is_one_line_in_the_view(c_major_scale, capfd,
                                                                     monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_problem", lambda: "libfluidsynth is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SynthFallbackWarning would fail here
        page = notebook.melody_repr_html(c_major_scale)
    assert capfd.readouterr().err == ""
    lines = re.findall(r"<p [^>]*>(Played by the plain built-in synth: [^<]*)</p>", page)
    assert len(lines) == 1
    assert "libfluidsynth is not installed" in lines[0]
    assert audio_of(page)[1]  # still a player


def test_without_mp3_the_view_holds_an_8_bit_wav_and_says_so(c_major_scale, monkeypatch):
    monkeypatch.setattr(mp3, "mp3_problem", lambda: "the libsndfile library is not installed")
    page = notebook.melody_repr_html(c_major_scale)
    mime, data = audio_of(page)
    assert mime == "audio/wav"
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth()) == (notebook.WAV_RATE, 1)
        assert wav.getnframes() == notebook.WAV_RATE * 5  # 4 s of scale, 1 s of ring-out
    assert "Audio as 8-bit WAV" in page
    assert "libsndfile library is not installed" in page


def test_an_8_bit_wav_keeps_the_waveform():
    samples = np.sin(np.linspace(0, 20 * np.pi, 1000)) * 0.9
    with wave.open(io.BytesIO(audio.to_wav_bytes(samples, 8000, sample_width=1))) as wav:
        pcm = np.frombuffer(wav.readframes(1000), dtype=np.uint8)
    back = (pcm.astype(float) - 128) / 127
    assert np.max(np.abs(back - samples)) < 1 / 127


def test_a_sample_rate_mp3_cannot_take_falls_back_to_wav(c_major_scale):
    mime, _ = audio_of(notebook.melody_repr_html(c_major_scale, sample_rate=9000))
    assert mime == "audio/wav"
