"""What every reader believes of a file only up to a limit: its size, and the length and note
count of each track it holds (see `core.limits`).

An input file is read whole, but never more than `max_file_bytes` of it (a file that grows
while read, or a device that never ends, stops there too); a track is refused before notes or
steps of that size are built, so a 48-byte file cannot ask for gigabytes.
"""

from __future__ import annotations

from pathlib import Path

from melodyrnn.core.limits import limit, over_limit
from melodyrnn.errors import ReadError

# music21 builds a time signature in time that grows steeply with its beats (1 s at 128/4,
# 15 s at 512/4, hours at 9994/4); `core.meter` reads 1-64, so the notation readers refuse
# more before music21 sees it
MAX_BEATS = 64


def read_input_bytes(path: Path, kind: str) -> bytes:
    """The bytes of `path`, refused with a ReadError if missing, unreadable or too large.

    `kind` names the file for the messages ("MIDI file", "ABC file").
    """
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a directory, not a {kind}")
    most = limit("max_file_bytes")
    try:
        size = path.stat().st_size
        if size > most:
            raise ReadError(over_limit("max_file_bytes", size, str(path)))
        with path.open("rb") as stream:
            data = stream.read(most + 1)  # the size stat gave need not be the size read
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > most:
        raise ReadError(f"{path} is larger than the limit of {most:,} bytes (size of one "
                        "input file); set MELODYRNN_MAX_FILE_BYTES to allow more")
    return data


def check_track_size(subject: str, notes: int, end_step: int) -> None:
    """Raise a ReadError if a track of `notes` notes ending at `end_step` is over the limits
    of one melody (`subject` names the file and track in the message)."""
    if notes > limit("max_melody_notes"):
        raise ReadError(over_limit("max_melody_notes", notes, subject))
    if end_step > limit("max_melody_steps"):
        raise ReadError(over_limit("max_melody_steps", end_step, subject))
