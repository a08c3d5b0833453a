"""The `melodyrnn` command: prepare, fit, export, ...

Each subcommand parses and checks its flags here (a bad value ends in one sentence and exit
code 2), then calls the module that does the work. `fit` is Lightning's own CLI
(LightningCLI), so it takes `--config configs/NAME.yaml` and `--model.*`, `--data.*`,
`--trainer.*` overrides.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from melodyrnn import __version__
from melodyrnn.errors import MelodyRNNError

# Subcommands handed whole to another parser (LightningCLI) instead of argparse.
_DELEGATED: dict[str, tuple[str, str]] = {
    "fit": ("melodyrnn.training", "run_cli"),
    "validate": ("melodyrnn.training", "run_cli"),
    "test": ("melodyrnn.training", "run_cli"),
    "export": ("melodyrnn.training", "export_main"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that ends a bad flag in one sentence: 'melodyrnn prepare: error: ...'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1")
    return value


def _semitone_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not LOW:HIGH in semitones, "
                                         "e.g. -5:6") from None
    if low > high:
        raise argparse.ArgumentTypeError(f"'{text}': LOW must not exceed HIGH")
    return low, high


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="build a token dataset from a corpus, files or folders",
        description="Build a token dataset (numpy shards + manifest.json) from named corpora, "
                    "recipe files, or files and folders of MIDI, MusicXML or ABC.",
        epilog="examples:\n  melodyrnn prepare essen-kinder --out corpora/essen-kinder\n"
               "  melodyrnn prepare my/midi/folder --out corpora/mine --strategy skyline\n"
               "  melodyrnn prepare oneills ryans --out corpora/folk --tokenizer grid",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="corpus name (see --list), recipe .toml, file or folder")
    p.add_argument("--out", help="dataset folder to write (default: corpora/NAME)")
    p.add_argument("--list", action="store_true", help="list the named corpora and exit")
    p.add_argument("--strategy", choices=["skyline", "strict"],
                   help="melody extraction: highest sounding pitch, or monophonic tracks only")
    p.add_argument("--min-notes", type=_positive_int, help="drop melodies with fewer notes")
    p.add_argument("--min-pitch-classes", type=_positive_int,
                   help="drop melodies with fewer distinct pitch classes")
    p.add_argument("--max-bars", type=_positive_int, help="longest melody kept, in bars")
    p.add_argument("--split-gap-bars", type=float,
                   help="split melodies at rests at least this many bars long (0: never)")
    p.add_argument("--tokenizer", choices=["note", "grid"], help="token encoding")
    p.add_argument("--steps-per-quarter", type=_positive_int,
                   help="quantization grid (4: sixteenths; 12: allows triplets)")
    p.add_argument("--valid", type=_fraction, help="share of tunes for validation")
    p.add_argument("--test", type=_fraction, help="share of tunes for testing")
    p.add_argument("--normalize-key", action="store_true", default=None,
                   help="transpose every melody to C major / A minor")
    p.add_argument("--transpose", type=_semitone_range, metavar="LOW:HIGH",
                   help="augment the training split with these transpositions, e.g. -5:6")
    p.add_argument("--jobs", type=_positive_int, help="worker processes (default: all cores)")
    p.add_argument("--no-cache", action="store_true", help="ignore cached extractions")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from melodyrnn.corpora import corpus_names, resolve_recipe
    from melodyrnn.dataset import prepare
    if args.list:
        for name in corpus_names():
            recipe = resolve_recipe(name)
            print(f"{name:14s} {recipe.description}  [{recipe.license}]")
        return 0
    out = args.out
    if out is None:
        stem = "+".join(Path(s).stem if s.endswith(".toml") else Path(s).name or s
                        for s in args.sources)
        out = str(Path("corpora") / stem)
    overrides = {"strategy": args.strategy, "min_notes": args.min_notes,
                 "min_pitch_classes": args.min_pitch_classes, "max_bars": args.max_bars,
                 "split_gap_bars": args.split_gap_bars, "tokenizer": args.tokenizer,
                 "steps_per_quarter": args.steps_per_quarter, "valid": args.valid,
                 "test": args.test, "normalize_key": args.normalize_key,
                 "transpose": args.transpose}
    report = prepare(args.sources, out, jobs=args.jobs, progress=not args.quiet,
                     use_cache=not args.no_cache, force=args.force, **overrides)
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = _Parser(prog="melodyrnn",
                     description="Learn melodies from MIDI scores with an LSTM; sample, score, "
                                 "render and play them.",
                     epilog="examples:\n  melodyrnn prepare essen-kinder --out "
                            "corpora/essen-kinder\n  melodyrnn fit --config configs/tiny.yaml "
                            "--data.path corpora/essen-kinder\n"
                            "  melodyrnn export runs/tiny/version_0/checkpoints/last.ckpt "
                            "my-model",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"melodyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_prepare(sub)
    sub.add_parser("fit", help="train a model (LightningCLI: --config, --model.*, --data.*, "
                               "--trainer.*); `melodyrnn fit --help` lists every option")
    sub.add_parser("export", help="turn a training checkpoint into a shareable model bundle")
    return parser


def _delegate(command: str, rest: list[str]) -> int:
    import importlib
    module_name, func_name = _DELEGATED[command]
    func: Callable[[list[str]], int | None] = getattr(importlib.import_module(module_name),
                                                      func_name)
    args = [command, *rest] if func_name == "run_cli" else rest
    return int(func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `melodyrnn` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _DELEGATED:
            return _delegate(argv[0], argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except MelodyRNNError as exc:
        print(f"melodyrnn: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("melodyrnn: interrupted; outputs already written are complete, nothing partial "
              "was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
