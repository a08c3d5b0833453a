"""Write a melody to a file chosen by suffix, atomically, never clobbering by accident.

Each output format is one row of `WRITERS`: a suffix, a function `(melody, path, **options)`
and the options it takes. New formats (.svg, .png, .pdf, .wav) are new rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn.errors import MelodyRNNError, WriteError
from melodyrnn.music import Melody


@dataclass(frozen=True)
class Writer:
    """How to write one kind of file: the function and the keyword options it accepts."""

    write: Callable[..., Any]
    options: frozenset[str] = frozenset()
    description: str = ""


def _write_midi(melody: Melody, path: Path, program: int = 0) -> None:
    from melodyrnn import midi_io
    midi_io.write_midi(melody, path, program=program)


def _write_musicxml(melody: Melody, path: Path) -> None:
    from melodyrnn import notation_io
    notation_io.write_musicxml(melody, path)  # .mxl is compressed, chosen by suffix


def _render(name: str) -> Callable[..., Any]:
    """A writer from render.py or audio.py, imported only when that format is asked for."""
    def write(melody: Melody, path: Path, **options: Any) -> None:
        import importlib
        module, func = name.split(":")
        getattr(importlib.import_module(f"melodyrnn.{module}"), func)(melody, path, **options)
    return write


_MIDI = Writer(_write_midi, frozenset({"program"}), "standard MIDI file")
_MUSICXML = Writer(_write_musicxml, frozenset(), "MusicXML score")
WRITERS: dict[str, Writer] = {
    ".mid": _MIDI,
    ".midi": _MIDI,
    ".musicxml": _MUSICXML,
    ".xml": _MUSICXML,
    ".mxl": Writer(_write_musicxml, frozenset(), "compressed MusicXML score"),
    ".svg": Writer(_render("render:write_svg"), frozenset({"title", "page_width", "scale"}),
                   "score image (vector)"),
    ".png": Writer(_render("render:write_png"),
                   frozenset({"title", "page_width", "scale", "zoom"}), "score image"),
    ".pdf": Writer(_render("render:write_pdf"), frozenset({"title", "page_width"}),
                   "printable score"),
    ".wav": Writer(_render("audio:write_wav"),
                   frozenset({"sample_rate", "program", "synth", "soundfont"}), "audio"),
}

# --formats names -> file suffix
FORMATS = {"mid": ".mid", "midi": ".mid", "musicxml": ".musicxml", "xml": ".musicxml",
           "mxl": ".mxl", "svg": ".svg", "png": ".png", "pdf": ".pdf", "wav": ".wav"}


def write_melody(melody: Melody, path: str | Path, force: bool = True,
                 **options: Any) -> Path:
    """Write `melody` to `path` in the format its suffix names; returns the path.

    The file appears whole or not at all (written beside it, then renamed); an existing file
    is replaced only when `force` is true; missing parent folders are created.
    """
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise WriteError(f"{path}: cannot write '{path.suffix or '(no suffix)'}' files; "
                         f"supported suffixes are {', '.join(WRITERS)}")
    unknown = sorted(set(options) - writer.options)
    if unknown:
        accepted = ", ".join(sorted(writer.options)) or "none"
        raise WriteError(f"{path}: option {', '.join(unknown)} does not apply to "
                         f"{path.suffix} files (options: {accepted})")
    return write_atomic(path, lambda tmp: writer.write(melody, tmp, **options), force)


def write_atomic(path: str | Path, write: Callable[[Path], Any], force: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    The file appears whole or not at all; an existing file is replaced only when `force` is
    true; missing parent folders are created. Library errors become a WriteError naming `path`.
    """
    path = Path(path)
    if path.exists() and not force:
        raise WriteError(f"{path} already exists; use --force (force=True) to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{path}: cannot create its folder ({exc.strerror or exc})") from exc
    # Same folder, so os.replace is atomic; same suffix, so writers that choose a format by
    # suffix (.mxl is compressed) see the right one. Not mkstemp: its 0600 mode would stick.
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except MelodyRNNError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # a library failing mid-write: report it, leave nothing behind
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: writing failed ({type(exc).__name__}: {exc})") from exc
    return path
