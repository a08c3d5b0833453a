"""`melodyrnn render`: turn a melody file into a score image, audio or other formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from melodyrnn.cli import flags
from melodyrnn.cli.writing import write_all
from melodyrnn.errors import ReadError
from melodyrnn.prepare.extract import read_melodies


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render", help="turn a melody file into a score image, audio or other formats",
        description="Read the melody of a MIDI, MusicXML or ABC file (the top line, skyline) "
                    "and write it in other formats.",
        epilog="examples:\n  melodyrnn render outputs/melody-7.mid --formats png,wav\n"
               "  melodyrnn render tune.abc --formats pdf --out scores",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="a .mid, .musicxml, .mxl or .abc file")
    p.add_argument("--formats", type=flags.formats, default=flags.formats("png,wav"),
                   help="comma-separated: mid, musicxml, mxl, svg, png, pdf, wav, abc")
    p.add_argument("--out", help="folder to write into (default: beside the file)")
    p.add_argument("--all", action="store_true",
                   help="every melody in the file, not only the first")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source = Path(args.file)
    melodies = read_melodies(source, strategy="skyline")
    if not melodies:
        raise ReadError(f"{source}: no melody found (no pitched notes)")
    if not args.all:
        melodies = melodies[:1]
    args.out = args.out or str(source.parent)
    write_all(melodies, args, stem=source.stem)
    return 0
