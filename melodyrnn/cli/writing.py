"""Writing a command's melodies: every melody in every format, refusing up front if a file
exists (so nothing is half-written), one line per file written."""

from __future__ import annotations

import argparse
from pathlib import Path

from melodyrnn.errors import WriteError
from melodyrnn.io import write_melody


def write_all(melodies: list, args: argparse.Namespace, stem: str) -> None:
    """Write every melody in every format; refuse up front if any file exists."""
    out = Path(args.out)
    names = [f"{stem}" if len(melodies) == 1 else f"{stem}-{i + 1:02d}"
             for i in range(len(melodies))]
    paths = [[out / f"{n}{suffix}" for suffix in args.formats] for n in names]
    existing = [str(p) for row in paths for p in row if p.exists()]
    if existing and not args.force:
        raise WriteError(f"{existing[0]} already exists"
                         + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
                         + "; use --force to overwrite")
    for melody, row in zip(melodies, paths, strict=True):
        for path in row:
            write_melody(melody, path, force=True)
            print(f"wrote {path}  ({len(melody)} notes, "
                  f"{melody.end_step / melody.steps_per_bar:.0f} bars, {melody.seconds:.1f} s)")
