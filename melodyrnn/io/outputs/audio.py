"""Play a melody: synthesize it to a waveform and write 16-bit PCM WAV files.

The good sound comes from fluidsynth with the General MIDI soundfont that pretty_midi ships
(TimGM6mb.sf2). Where the fluidsynth library is missing, a plain additive synth plays the same
note times, with a warning that says how to install fluidsynth. `detect_pitches` estimates the
pitch heard in the middle of each note, so tests (and people) can check what the audio plays.
"""

from __future__ import annotations

import inspect
import io
import math
import warnings
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from melodyrnn.core.melody import Melody
from melodyrnn.errors import ConfigError, MelodyRNNError
from melodyrnn.io.outputs.midi import as_played, to_pretty_midi

if TYPE_CHECKING:
    import numpy as np

Synth = Literal["auto", "fluidsynth", "plain"]
SYNTHS: tuple[str, ...] = ("auto", "fluidsynth", "plain")
TAIL_SECONDS = 1.0  # silence after the last note, so it rings out
PEAK = 0.89  # normalised peak amplitude: -1 dBFS, no clipping
# pyfluidsynth is a dependency of melodyrnn; the C library it loads is not on PyPI
INSTALL_HINT = ("install the FluidSynth library (Debian/Ubuntu: apt-get install libfluidsynth3; "
                "macOS: brew install fluid-synth), and pyfluidsynth if it is missing "
                "(pip install pyfluidsynth)")


class SynthFallbackWarning(UserWarning):
    """fluidsynth was not found, so the plain built-in synth played the melody."""


# --- fluidsynth -------------------------------------------------------------------------------

def fluidsynth_problem() -> str | None:
    """Why fluidsynth cannot be used here, or None when it can."""
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth: loads the C library on import)
    except ImportError as exc:
        text = str(exc)
        if "FluidSynth library" in text:
            return "the FluidSynth C library (libfluidsynth) is not installed"
        return f"pyfluidsynth is not importable ({text})"
    except OSError as exc:  # the library exists but cannot be loaded
        return f"the FluidSynth library cannot be loaded ({exc})"
    return None


def _fluidsynth_wave(melody: Melody, sample_rate: int, program: int,
                     soundfont: str | Path | None) -> np.ndarray:
    """fluidsynth's rendering of the melody as MIDI, float64 mono, unnormalised."""
    import pretty_midi

    instrument = to_pretty_midi(melody, program=program).instruments[0]
    sf2 = str(soundfont) if soundfont is not None else _default_soundfont()
    if not Path(sf2).is_file():
        raise ConfigError(f"soundfont {sf2} does not exist; give the path of an .sf2 file")
    # pretty_midi 0.2.11 renamed sf2_path to synthesizer (and warns about the old name)
    name = ("synthesizer" if "synthesizer" in inspect.signature(
        pretty_midi.Instrument.fluidsynth).parameters else "sf2_path")
    return instrument.fluidsynth(fs=sample_rate, **{name: sf2})


def _default_soundfont() -> str:
    import pretty_midi.fluidsynth

    return str(Path(pretty_midi.fluidsynth.__file__).with_name(
        pretty_midi.fluidsynth.DEFAULT_SF2))


# --- the plain synth --------------------------------------------------------------------------

# Relative amplitudes of harmonics 1, 2, 3, ...: the fundamental is the strongest, so the
# pitch a listener (or detect_pitches) hears is the note's own, never an octave off.
_HARMONICS = (1.0, 0.45, 0.25, 0.15, 0.08, 0.05)
_ATTACK, _DECAY, _SUSTAIN, _RELEASE = 0.008, 0.15, 0.55, 0.25  # seconds, level, seconds


def _plain_wave(melody: Melody, sample_rate: int) -> np.ndarray:
    """A sum of a few decaying harmonics per note under an ADSR envelope."""
    import numpy as np

    length = _length_samples(melody, sample_rate)
    out = np.zeros(length)
    step_seconds = melody.step_seconds
    release = int(_RELEASE * sample_rate)
    for note in melody.notes:
        start = round(note.start_step * step_seconds * sample_rate)
        held = max(1, round(note.duration_steps * step_seconds * sample_rate))
        n = min(held + release, length - start)
        t = np.arange(n) / sample_rate
        f0 = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
        tone = np.zeros(n)
        for k, amplitude in enumerate(_HARMONICS, start=1):
            if k * f0 < sample_rate / 2:  # no aliasing above Nyquist
                # higher harmonics die away sooner, as on a struck string
                tone += amplitude * np.exp(-t * 1.5 * k) * np.sin(2 * np.pi * k * f0 * t)
        out[start:start + n] += tone * _adsr(n, held, sample_rate) * (note.velocity / 127)
    return out


def _adsr(n: int, held: int, sample_rate: int) -> np.ndarray:
    """Envelope of `n` samples for a note held `held` samples, then released."""
    import numpy as np

    t = np.arange(n) / sample_rate
    attack_decay = np.where(
        t < _ATTACK, t / _ATTACK,
        _SUSTAIN + (1 - _SUSTAIN) * np.exp(-(t - _ATTACK) / (_DECAY / 3)))
    level_at_release = attack_decay[min(held, n) - 1]
    after = np.arange(n - held) / sample_rate
    release = level_at_release * np.exp(-after / (_RELEASE / 5))
    return np.concatenate([attack_decay[:held], release])


# --- public API -------------------------------------------------------------------------------

def _length_samples(melody: Melody, sample_rate: int) -> int:
    """The melody's length (trailing rests included) plus the ring-out tail, in samples."""
    return math.ceil((melody.seconds + TAIL_SECONDS) * sample_rate)


def _check(sample_rate: int, program: int, synth: str) -> None:
    if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 192_000:
        raise ConfigError(f"sample rate {sample_rate!r} must be a whole number of Hz, "
                          "8000-192000 (44100 is CD quality)")
    if not isinstance(program, int) or not 0 <= program <= 127:
        raise ConfigError(f"MIDI program {program!r} must be 0-127 (0 is acoustic piano)")
    if synth not in SYNTHS:
        raise ConfigError(f"synth '{synth}' is not one of {', '.join(SYNTHS)}")


def to_wav_array(melody: Melody, sample_rate: int = 44100, program: int = 0, *,
                 synth: Synth = "auto", soundfont: str | Path | None = None) -> np.ndarray:
    """The melody as played (repeats taken, from its first written step: `midi.as_played`)
    as mono float32 samples in [-1, 1], peak at -1 dBFS, 1 s tail after it.

    `program` is the General MIDI instrument (fluidsynth only; the plain synth has one
    timbre). `synth="auto"` uses fluidsynth when it is installed and the plain synth, with a
    `SynthFallbackWarning`, when not. `soundfont` is an .sf2 file (default: pretty_midi's).
    """
    import numpy as np

    _check(sample_rate, program, synth)
    melody = as_played(melody)
    problem = fluidsynth_problem() if synth != "plain" else None
    if synth == "fluidsynth" and problem:
        raise MelodyRNNError(f"cannot synthesize with fluidsynth: {problem}; {INSTALL_HINT}, "
                             "or choose the plain synth")
    if synth == "auto" and problem:
        warnings.warn(f"fluidsynth not found ({problem}); using the plain built-in synth. "
                      f"For a real piano sound, {INSTALL_HINT}.", SynthFallbackWarning,
                      stacklevel=2)
    length = _length_samples(melody, sample_rate)
    if not melody.notes:
        return np.zeros(length, dtype=np.float32)
    if synth == "plain" or problem:
        samples = _plain_wave(melody, sample_rate)
    else:
        samples = _fluidsynth_wave(melody, sample_rate, program, soundfont)
    samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
    peak = float(np.max(np.abs(samples)))
    if peak > 0:
        samples = samples * (PEAK / peak)
    return samples.astype(np.float32)


def to_wav_bytes(samples: np.ndarray, sample_rate: int = 44100, sample_width: int = 2) -> bytes:
    """Mono float samples in [-1, 1] as the bytes of a PCM WAV file: 16-bit by default,
    8-bit (unsigned, as WAV stores it) with `sample_width=1`."""
    import numpy as np

    clipped = np.clip(samples, -1.0, 1.0)
    if sample_width == 2:
        pcm = np.round(clipped * 32767).astype("<i2")
    elif sample_width == 1:
        pcm = np.round(clipped * 127 + 128).astype(np.uint8)
    else:
        raise ConfigError(f"WAV sample width {sample_width!r} must be 1 (8-bit) or 2 (16-bit) "
                          "bytes")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(sample_width)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(melody: Melody, path: str | Path, sample_rate: int = 44100, program: int = 0,
              *, synth: Synth = "auto", soundfont: str | Path | None = None) -> Path:
    """Write the melody as a mono 16-bit PCM WAV file; returns the path."""
    path = Path(path)
    samples = to_wav_array(melody, sample_rate, program, synth=synth, soundfont=soundfont)
    path.write_bytes(to_wav_bytes(samples, sample_rate))
    return path


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono float samples in [-1, 1], sample rate) of a 16-bit PCM WAV file."""
    import numpy as np

    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise MelodyRNNError(f"{path}: only 16-bit PCM WAV files can be read, this one "
                                 f"has {8 * wav.getsampwidth()}-bit samples")
        frames = wav.readframes(wav.getnframes())
        channels, sample_rate = wav.getnchannels(), wav.getframerate()
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).mean(axis=1)
    return pcm / 32768.0, sample_rate


# --- hearing it back --------------------------------------------------------------------------

def estimate_pitch(samples: np.ndarray, sample_rate: int, lowest: int = 21,
                   highest: int = 108) -> float | None:
    """The fundamental of a stretch of monophonic audio as a fractional MIDI pitch (or None
    when it is silent), by harmonic summation.

    For each candidate f0 (every 10 cents from `lowest` to `highest`), salience(f0) =
    sum over h = 1..8 of 0.8^(h-1) * sqrt|X(h * f0)|, with X the Hann-windowed spectrum and
    |X(f)| its largest magnitude within 30 cents of f. The weights fall with h, so f0 beats
    f0/2 (which only collects the same peaks at higher, lighter positions); the sqrt keeps one
    loud partial from outvoting the harmonic series. The best candidate is then refined from
    the exact frequencies of its partials.
    """
    import numpy as np

    if len(samples) < 64 or not np.any(samples):
        return None
    n_fft = max(1 << 16, 1 << math.ceil(math.log2(len(samples))))
    spectrum = np.sqrt(np.abs(np.fft.rfft(samples * np.hanning(len(samples)), n_fft)))
    bin_hz = sample_rate / n_fft
    # each harmonic of each candidate sees the largest magnitude within 30 cents of it
    candidates = np.arange(lowest, highest + 0.001, 0.1)
    f0 = 440.0 * 2.0 ** ((candidates - 69) / 12)
    salience = np.zeros(len(candidates))
    for h in range(1, 9):
        freq = h * f0
        lo = np.floor(freq * 2 ** (-0.3 / 12) / bin_hz).astype(int)
        hi = np.ceil(freq * 2 ** (0.3 / 12) / bin_hz).astype(int) + 1
        valid = hi < len(spectrum)
        peaks = np.zeros(len(candidates))
        peaks[valid] = [spectrum[a:b].max() for a, b in zip(lo[valid], hi[valid], strict=True)]
        salience += 0.8 ** (h - 1) * peaks
    return _refine(spectrum ** 2, bin_hz, f0[int(np.argmax(salience))])


def _refine(magnitude: np.ndarray, bin_hz: float, f0: float) -> float:
    """MIDI pitch of the harmonic series near `f0`: each partial's peak (interpolated on a
    parabola through log magnitudes) divided by its number, averaged by magnitude."""
    import numpy as np

    log_mag = np.log(magnitude + 1e-12)
    estimates, weights = [], []
    for h in range(1, 9):
        lo = int(h * f0 * 2 ** (-0.5 / 12) / bin_hz)
        hi = int(h * f0 * 2 ** (0.5 / 12) / bin_hz) + 2
        if hi >= len(magnitude) - 1:
            break
        k = lo + int(np.argmax(magnitude[lo:hi]))
        left, mid, right = log_mag[k - 1], log_mag[k], log_mag[k + 1]
        curvature = left - 2 * mid + right
        offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        estimates.append((k + offset) * bin_hz / h)
        weights.append(magnitude[k])
    if weights and sum(weights) > 0:
        f0 = float(np.average(estimates, weights=weights))
    return 69 + 12 * math.log2(f0 / 440.0)


def detect_pitches(samples: np.ndarray, sample_rate: int, melody: Melody,
                   window: Sequence[float] = (0.3, 0.9)) -> list[float | None]:
    """The fractional MIDI pitch heard in each note of `melody` as played (`midi.as_played`,
    as `to_wav_array` plays it; None where silent), from the part of the note between
    fractions `window` of its length: past the attack, before the next note."""
    melody = as_played(melody)
    detected: list[float | None] = []
    step_seconds = melody.step_seconds
    for note in melody.notes:
        seconds = note.duration_steps * step_seconds
        start = note.start_step * step_seconds + window[0] * seconds
        end = note.start_step * step_seconds + window[1] * seconds
        detected.append(estimate_pitch(
            samples[int(start * sample_rate):int(end * sample_rate)], sample_rate))
    return detected
