"""Compressed audio for pages: samples as MP3 bytes, through soundfile (libsndfile).

MP3 is the one compressed format that Chrome, Firefox, Safari and Edge all play in an
`<audio>` element. It is encoded by libsndfile (1.1 or later, built with LAME), which the
`soundfile` wheels carry. `mp3_problem()` says why MP3 cannot be written here, if it cannot
(a soundfile built against an older system libsndfile).
"""

from __future__ import annotations

import functools
import inspect
import io
from typing import TYPE_CHECKING, Any

from melodyrnn.errors import MelodyRNNError

if TYPE_CHECKING:
    import numpy as np

# MPEG-2 Layer III (16-24 kHz) is what LAME writes at 22.05 kHz; libsndfile maps its
# compression level linearly from the highest bitrate (level 0) to the lowest (level 1)
_MPEG2_KBPS = (8, 160)
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _compression_level(kbps: int, sample_rate: int) -> float:
    """libsndfile's compression level (0-1) that asks LAME for `kbps` at this rate."""
    low, high = (_MPEG2_KBPS if sample_rate < 32000 else (32, 320))
    if sample_rate < 16000:
        low, high = 8, 64  # MPEG-2.5
    return min(1.0, max(0.0, (high - kbps) / (high - low)))


@functools.cache
def _soundfile() -> Any:
    """The `soundfile` module when it is installed, writes MP3 and takes a bitrate (0.13 or
    later), else None."""
    try:
        import soundfile  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except (ImportError, OSError):
        return None
    takes_bitrate = "bitrate_mode" in inspect.signature(soundfile.write).parameters
    return soundfile if takes_bitrate and "MP3" in soundfile.available_formats() else None


@functools.cache
def mp3_problem() -> str | None:
    """Why MP3 cannot be written here, or None when it can."""
    if _soundfile() is None:
        return ("soundfile 0.13 or later with a libsndfile that writes MP3 (1.1 or later, "
                "built with LAME) is not installed")
    return None


def to_mp3_bytes(samples: np.ndarray, sample_rate: int = 22050, kbps: int = 32) -> bytes:
    """Mono float samples in [-1, 1] as the bytes of a constant-bitrate MP3 file."""
    import numpy as np

    problem = mp3_problem()
    if problem:
        raise MelodyRNNError(f"cannot write MP3: {problem}; `pip install -U soundfile` brings "
                             "one that does, or write a WAV file")
    if sample_rate not in MP3_SAMPLE_RATES:
        raise MelodyRNNError(f"sample rate {sample_rate} Hz cannot be written as MP3; use one "
                             f"of {', '.join(map(str, MP3_SAMPLE_RATES))}")
    data = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
    level = _compression_level(kbps, sample_rate)
    buffer = io.BytesIO()
    _soundfile().write(buffer, data, sample_rate, format="MP3", subtype="MPEG_LAYER_III",
                       compression_level=level, bitrate_mode="CONSTANT")
    return buffer.getvalue()
