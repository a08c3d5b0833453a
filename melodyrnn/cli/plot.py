"""`melodyrnn plot`: training curves, a piano roll, or metric histograms, as a PNG file.

Three kinds, one subcommand each: `curves` reads a run folder's metrics.csv (what `fit`
logs), `roll` draws one melody of a file, and `metrics` compares the per-melody metrics of a
folder of samples with a dataset split, as `melodyrnn evaluate --samples` does.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from melodyrnn.cli import flags
from melodyrnn.core.melody import Melody
from melodyrnn.errors import ReadError, WriteError

_VERSION = re.compile(r"version_(\d+)")


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot", help="draw training curves, a piano roll or metric histograms as a PNG",
        description="Draw a picture as a PNG file: the training curves of a run, the piano "
                    "roll of a melody, or histograms of the musical metrics of generated "
                    "samples against a dataset.",
        epilog="examples:\n  melodyrnn plot curves runs/folk/version_0 --out curves.png\n"
               "  melodyrnn plot roll outputs/melody-7.mid --out roll.png\n"
               "  melodyrnn plot metrics outputs --data corpora/folk --out metrics.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True,
                             parser_class=flags.Parser)
    curves = _kind(kinds, "curves", "loss, bits per note, accuracy per epoch and the "
                                    "gradient norm per step of a training run",
                   "melodyrnn plot curves runs/folk/version_0 --out curves.png\n"
                   "  melodyrnn plot curves runs/folk --out curves.png   (its newest version)")
    curves.add_argument("run", metavar="RUN",
                        help="a run folder (runs/NAME/version_N), a run name folder "
                             "(runs/NAME: its newest version) or a metrics.csv file")
    curves.set_defaults(func=run_curves)
    roll = _kind(kinds, "roll", "a piano roll of one melody of a file, bars numbered",
                 "melodyrnn plot roll outputs/melody-7.mid --out roll.png\n"
                 "  melodyrnn plot roll book.abc --index 3 --out tune3.png")
    roll.add_argument("file", help="a .mid, .musicxml, .mxl or .abc file")
    roll.add_argument("--index", type=flags.positive_int, default=1,
                      help="which melody of the file, from 1 (default: the first)")
    roll.set_defaults(func=run_roll)
    metrics = _kind(kinds, "metrics", "histograms of per-melody metrics of samples against "
                                      "a dataset split",
                    "melodyrnn plot metrics outputs --data corpora/folk --out metrics.png\n"
                    "  melodyrnn plot metrics many --data corpora/folk --split valid "
                    "--out m.png")
    metrics.add_argument("samples", metavar="SAMPLES",
                         help="a folder (or file, or glob) of generated melody files")
    metrics.add_argument("--data", required=True, help="a dataset folder written by prepare")
    metrics.add_argument("--split", choices=["train", "valid", "test"], default="test",
                         help="the dataset split to compare with (default: test)")
    metrics.set_defaults(func=run_metrics)


def _kind(kinds: argparse._SubParsersAction, name: str, what: str,
          example: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = kinds.add_parser(
        name, help=what, description=f"Draw {what}, as a PNG file.",
        epilog=f"examples:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=_png, help="the .png file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    return p


def _png(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"'{text}' does not end in .png; plots are written "
                                         "as PNG files")
    return path


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an existing --out before the work, not after it."""
    out: Path = args.out
    if out.is_dir():
        raise WriteError(f"{out} is a folder; give --out a file name ending in .png")
    if out.exists() and not args.force:
        raise WriteError(f"{out} already exists; use --force to overwrite it")


# --- curves ------------------------------------------------------------------------------------

def find_metrics_csv(run: Path) -> Path:
    """The metrics.csv of a run folder, of the newest version_N of a run name, or `run`."""
    if run.is_file():
        return run
    if not run.is_dir():
        raise ReadError(f"{run}: no such run folder; give a folder written by `melodyrnn fit` "
                        "(runs/NAME/version_N) or its metrics.csv")
    if (run / "metrics.csv").is_file():
        return run / "metrics.csv"
    versions = sorted((int(m[1]), p) for p in run.iterdir()
                      if (m := _VERSION.fullmatch(p.name)) and (p / "metrics.csv").is_file())
    if versions:
        return versions[-1][1] / "metrics.csv"
    raise ReadError(f"{run}: no metrics.csv in this folder nor in a version_N folder inside "
                    "it; give a run folder written by `melodyrnn fit` (runs/NAME/version_N)")


def run_curves(args: argparse.Namespace) -> int:
    # matplotlib and the plots load with the command that draws them
    from melodyrnn.evaluate.plots import plot_training_curves
    _check_out(args)
    metrics_csv = find_metrics_csv(Path(args.run))
    out = plot_training_curves(metrics_csv, args.out, force=args.force)
    print(f"wrote {out} (training curves of {metrics_csv})")
    return 0


# --- roll --------------------------------------------------------------------------------------

def run_roll(args: argparse.Namespace) -> int:
    # the plots (and matplotlib) load with the command that draws them
    from melodyrnn.evaluate.plots import plot_piano_roll

    # and the readers of files with the command that reads one
    from melodyrnn.prepare.extract import read_melodies

    _check_out(args)
    source = Path(args.file)
    melodies = read_melodies(source, strategy="skyline")
    if not melodies:
        raise ReadError(f"{source}: no melody found (no pitched notes)")
    if args.index > len(melodies):
        raise ReadError(f"{source} holds {_count(len(melodies))}; --index {args.index} is not "
                        f"one of them (choose 1 to {len(melodies)})")
    melody = melodies[args.index - 1].unfold()  # as played: a roll is a time line
    track = melody.source.rpartition(":")[2] if ":" in melody.source else ""
    # the title names the file, not the folder it was read from
    melody = melody.replace(source=f"{source.name}:{track}" if track else source.name)
    out = plot_piano_roll(melody, args.out, force=args.force)
    which = f"melody {args.index} of {len(melodies)}" if len(melodies) > 1 else "the melody"
    hint = " (--index picks another)" if len(melodies) > 1 else ""
    print(f"wrote {out} (piano roll of {which} in {source}, {_bars(melody)}){hint}")
    return 0


def _count(n: int) -> str:
    return f"{n} melod{'y' if n == 1 else 'ies'}"


def _bars(melody: Melody) -> str:
    n_bars = -(-melody.end_step // melody.steps_per_bar)
    return f"{len(melody.notes)} notes, {n_bars} bar{'s' * (n_bars != 1)}"


# --- metrics -----------------------------------------------------------------------------------

def read_sample_sets(samples: str, data: str, split: str) -> tuple[list[Melody], list[Melody]]:
    """(samples, the split's melodies), as `melodyrnn evaluate --samples` reads them."""
    # numpy and the corpus readers load with the command that reads them
    from melodyrnn.evaluate.samples import read_samples_played, read_split_played
    reference = read_split_played(data, split)
    return read_samples_played(samples, reference[0].steps_per_quarter), reference


def run_metrics(args: argparse.Namespace) -> int:
    # matplotlib and the plots load with the command that draws them
    from melodyrnn.evaluate.plots import plot_metric_histograms
    _check_out(args)
    generated, reference = read_sample_sets(args.samples, args.data, args.split)
    out = plot_metric_histograms(generated, reference, args.out,
                                 labels=("samples", f"{args.split} split"), force=args.force)
    print(f"wrote {out} (metrics of {_count(len(generated))} in {args.samples} vs "
          f"{_count(len(reference))} of the {args.split} split of {args.data})")
    return 0
