"""`melodyrnn export`: turn a training checkpoint into a shareable model bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from melodyrnn._files import folder_lock, os_reason, write_fix
from melodyrnn.errors import WriteError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="turn a training checkpoint into a shareable model bundle",
        description="Write a model bundle (model.safetensors + bundle.json) from a Lightning "
                    "checkpoint or a run directory (its best checkpoint).",
        epilog="examples:\n  melodyrnn export runs/folk/version_0 models/folk\n"
               "  melodyrnn export runs/folk/version_0/checkpoints/last.ckpt models/folk-last",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a .ckpt file, or a run directory (its best checkpoint)")
    p.add_argument("out", help="bundle directory to write (model.safetensors, bundle.json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # torch loads with the bundle module, so only when a bundle is written
    from melodyrnn.models.bundle import META_FILE, WEIGHTS_FILE, export_bundle, find_checkpoint

    source = find_checkpoint(args.checkpoint)
    out = Path(args.out)
    fix = "choose another bundle folder"
    if out.exists() and not out.is_dir():  # never replaced, --force or not: it is no bundle
        raise WriteError(f"{out} is a file, not a bundle folder; remove it or {fix}")
    with folder_lock(out, fix=fix):
        try:
            written = export_bundle(source, out, overwrite=args.force)
        except OSError as exc:  # a folder the bundle writer could not make
            raise WriteError(f"{exc.filename or out}: cannot write the bundle "
                             f"({os_reason(exc)}); {write_fix(exc, fix)}") from None
    print(f"wrote bundle {written} ({WEIGHTS_FILE}, {META_FILE}) from {source}")
    return 0
