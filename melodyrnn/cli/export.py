"""`melodyrnn export`: turn a training checkpoint into a shareable model bundle."""

from __future__ import annotations

import argparse


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
    out = export_bundle(source, args.out, overwrite=args.force)
    print(f"wrote bundle {out} ({WEIGHTS_FILE}, {META_FILE}) from {source}")
    return 0
