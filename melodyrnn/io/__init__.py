"""Music files in and out: one suffix registry for reading scores and writing melodies.

Readers live in `io/inputs/` and writers in `io/outputs/`, one module per format, mirroring
each other. `read_scores(path)` and `write_melody(melody, path)` choose by suffix from the
tables below; a new format is a new row. Each format module imports its heavy library
(symusic, music21, pretty_midi, verovio, fluidsynth) inside the functions that use it, so this
package imports quickly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn._files import atomic_write
from melodyrnn.core.melody import Melody
from melodyrnn.core.score import Score
from melodyrnn.errors import ReadError, WriteError
from melodyrnn.io.inputs import abc, midi, musicxml
from melodyrnn.io.outputs import abc as abc_out
from melodyrnn.io.outputs import audio, engrave
from melodyrnn.io.outputs import midi as midi_out
from melodyrnn.io.outputs import musicxml as musicxml_out

__all__ = ["FORMATS", "READERS", "READ_SUFFIXES", "WRITERS", "Writer", "read_scores",
           "write_melody"]

# --- reading ---------------------------------------------------------------------------------

Reader = Callable[[Path, int, "Counter[str] | None"], list[Score]]


def _read_midi(path: Path, steps_per_quarter: int, drops: Counter[str] | None) -> list[Score]:
    return [midi.read_score(path, steps_per_quarter=steps_per_quarter)]


def _read_musicxml(path: Path, steps_per_quarter: int,
                   drops: Counter[str] | None) -> list[Score]:
    return musicxml.read_musicxml(path, steps_per_quarter, drops)


# suffix -> reader(path, steps_per_quarter, drops) giving one Score per piece or tune
READERS: dict[str, Reader] = {
    ".mid": _read_midi, ".midi": _read_midi, ".kar": _read_midi,
    ".musicxml": _read_musicxml, ".mxl": _read_musicxml, ".xml": _read_musicxml,
    ".abc": abc.read_abc,
}
READ_SUFFIXES: tuple[str, ...] = tuple(READERS)


def read_scores(path: str | Path, steps_per_quarter: int = 4,
                drops: Counter[str] | None = None) -> list[Score]:
    """Every score in a MIDI, MusicXML or ABC file (an ABC book gives one per tune).

    Tunes of an ABC book that cannot be read are skipped and counted in `drops`; a file that
    cannot be read at all raises ReadError naming it.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a directory, not a music file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReadError(f"{path}: unknown file type '{path.suffix}'; readable files end in "
                        f"{', '.join(READ_SUFFIXES)}")
    return reader(path, steps_per_quarter, drops)


# --- writing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Writer:
    """How to write one kind of file: the function and the keyword options it accepts."""

    write: Callable[..., Any]
    options: frozenset[str] = frozenset()
    description: str = ""


_MIDI = Writer(midi_out.write_midi, frozenset({"program"}), "standard MIDI file")
_MUSICXML = Writer(musicxml_out.write_musicxml, frozenset(), "MusicXML score")
WRITERS: dict[str, Writer] = {
    ".mid": _MIDI,
    ".midi": _MIDI,
    ".musicxml": _MUSICXML,
    ".xml": _MUSICXML,
    # .mxl is compressed; write_musicxml chooses by suffix
    ".mxl": Writer(musicxml_out.write_musicxml, frozenset(), "compressed MusicXML score"),
    ".svg": Writer(engrave.write_svg, frozenset({"title", "page_width", "scale"}),
                   "score image (vector)"),
    ".png": Writer(engrave.write_png, frozenset({"title", "page_width", "scale", "zoom"}),
                   "score image"),
    ".pdf": Writer(engrave.write_pdf, frozenset({"title", "page_width"}), "printable score"),
    ".wav": Writer(audio.write_wav, frozenset({"sample_rate", "program", "synth", "soundfont"}),
                   "audio"),
    ".abc": Writer(abc_out.write_abc, frozenset({"title"}), "ABC tune"),
}

# --formats names -> file suffix
FORMATS = {"mid": ".mid", "midi": ".mid", "musicxml": ".musicxml", "xml": ".musicxml",
           "mxl": ".mxl", "svg": ".svg", "png": ".png", "pdf": ".pdf", "wav": ".wav",
           "abc": ".abc"}


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
    return atomic_write(path, lambda tmp: writer.write(melody, tmp, **options), force)
