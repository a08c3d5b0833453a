"""Compressed audio for pages: samples as MP3 bytes, through libsndfile.

MP3 is the one compressed format that Chrome, Firefox, Safari and Edge all play in an
`<audio>` element. It is encoded by libsndfile (1.1 or later, built with LAME), reached
through `soundfile` when that is installed and otherwise straight through ctypes: the
FluidSynth library that plays our melodies depends on libsndfile, so where FluidSynth is
installed it usually is too. `mp3_problem()` says why MP3 cannot be written here, if it cannot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import inspect
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.errors import MelodyRNNError

if TYPE_CHECKING:
    import numpy as np

# MPEG-2 Layer III (16-24 kHz) is what LAME writes at 22.05 kHz; libsndfile maps its
# compression level linearly from the highest bitrate (level 0) to the lowest (level 1)
_MPEG2_KBPS = (8, 160)
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_SF_FORMAT_MP3 = 0x230000 | 0x0082  # SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III
_SFM_WRITE = 0x20
_SFC_SET_COMPRESSION_LEVEL = 0x1301
_SFC_SET_BITRATE_MODE = 0x1305
_SF_BITRATE_MODE_CONSTANT = 0  # constant bitrate: every player knows the duration at once


class _SFInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def _compression_level(kbps: int, sample_rate: int) -> float:
    """libsndfile's compression level (0-1) that asks LAME for `kbps` at this rate."""
    low, high = (_MPEG2_KBPS if sample_rate < 32000 else (32, 320))
    if sample_rate < 16000:
        low, high = 8, 64  # MPEG-2.5
    return min(1.0, max(0.0, (high - kbps) / (high - low)))


@functools.cache
def _libsndfile() -> Any:
    """The libsndfile C library with the signatures used here, or None where it is missing."""
    name = ctypes.util.find_library("sndfile")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_SFInfo)]
    lib.sf_format_check.argtypes = [ctypes.POINTER(_SFInfo)]
    lib.sf_writef_float.restype = ctypes.c_int64
    lib.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    lib.sf_strerror.restype = ctypes.c_char_p
    lib.sf_strerror.argtypes = [ctypes.c_void_p]
    return lib


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
    if _soundfile() is not None:
        return None
    lib = _libsndfile()
    if lib is None:
        return "the libsndfile library is not installed"
    info = _SFInfo(0, 22050, 1, _SF_FORMAT_MP3, 0, 0)
    if not lib.sf_format_check(ctypes.byref(info)):
        return "this libsndfile cannot write MP3 (it needs version 1.1 or later, built with LAME)"
    return None


def to_mp3_bytes(samples: np.ndarray, sample_rate: int = 22050, kbps: int = 32) -> bytes:
    """Mono float samples in [-1, 1] as the bytes of a constant-bitrate MP3 file."""
    import numpy as np

    problem = mp3_problem()
    if problem:
        raise MelodyRNNError(f"cannot write MP3: {problem}; install libsndfile 1.1 or later "
                             "(pip install soundfile brings one), or write a WAV file")
    if sample_rate not in MP3_SAMPLE_RATES:
        raise MelodyRNNError(f"sample rate {sample_rate} Hz cannot be written as MP3; use one "
                             f"of {', '.join(map(str, MP3_SAMPLE_RATES))}")
    data = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
    level = _compression_level(kbps, sample_rate)
    sf = _soundfile()
    if sf is not None:
        buffer = io.BytesIO()
        sf.write(buffer, data, sample_rate, format="MP3", subtype="MPEG_LAYER_III",
                 compression_level=level, bitrate_mode="CONSTANT")
        return buffer.getvalue()
    with tempfile.TemporaryDirectory(prefix="melodyrnn-mp3-") as folder:
        path = Path(folder) / "melody.mp3"
        _write_with_libsndfile(path, data, sample_rate, level)
        return path.read_bytes()


def _write_with_libsndfile(path: Path, data: np.ndarray, sample_rate: int,
                           level: float) -> None:
    """Encode float32 mono `data` into the MP3 file `path` by libsndfile's C API."""
    lib = _libsndfile()
    info = _SFInfo(0, sample_rate, 1, _SF_FORMAT_MP3, 0, 0)
    handle = lib.sf_open(os.fsencode(path), _SFM_WRITE, ctypes.byref(info))
    if not handle:
        raise MelodyRNNError(f"libsndfile cannot write MP3 to {path}: "
                             f"{lib.sf_strerror(None).decode(errors='replace')}")
    try:
        mode = ctypes.c_int(_SF_BITRATE_MODE_CONSTANT)
        lib.sf_command(handle, _SFC_SET_BITRATE_MODE, ctypes.byref(mode), ctypes.sizeof(mode))
        compression = ctypes.c_double(level)
        lib.sf_command(handle, _SFC_SET_COMPRESSION_LEVEL, ctypes.byref(compression),
                       ctypes.sizeof(compression))
        written = lib.sf_writef_float(handle, data.ctypes.data, len(data))
    finally:
        lib.sf_close(handle)
    if written != len(data):
        raise MelodyRNNError(f"libsndfile wrote {written} of {len(data)} samples to {path}")
