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

from melodyrnn import __version__, flags
from melodyrnn.errors import MelodyRNNError

# Subcommands handed whole to another parser (LightningCLI) instead of argparse.
_DELEGATED: dict[str, tuple[str, str]] = {
    "fit": ("melodyrnn.training", "run_cli"),
    "validate": ("melodyrnn.training", "run_cli"),
    "test": ("melodyrnn.training", "run_cli"),
    "export": ("melodyrnn.bundle", "export_main"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that ends a bad flag in one sentence: 'melodyrnn prepare: error: ...'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
    p.add_argument("--min-notes", type=flags.positive_int, help="drop melodies with fewer notes")
    p.add_argument("--min-pitch-classes", type=flags.positive_int,
                   help="drop melodies with fewer distinct pitch classes")
    p.add_argument("--max-bars", type=flags.positive_int, help="longest melody kept, in bars")
    p.add_argument("--split-gap-bars", type=float,
                   help="split melodies at rests at least this many bars long (0: never)")
    p.add_argument("--tokenizer", choices=["note", "grid"], help="token encoding")
    p.add_argument("--steps-per-quarter", type=flags.positive_int,
                   help="quantization grid (4: sixteenths; 12: allows triplets)")
    p.add_argument("--valid", type=flags.fraction, help="share of tunes for validation")
    p.add_argument("--test", type=flags.fraction, help="share of tunes for testing")
    p.add_argument("--normalize-key", action="store_true", default=None,
                   help="transpose every melody to C major / A minor")
    p.add_argument("--transpose", type=flags.semitone_range, metavar="LOW:HIGH",
                   help="augment the training split with these transpositions, e.g. -5:6")
    p.add_argument("--jobs", type=flags.positive_int, help="worker processes (default: all cores)")
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


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from melodyrnn.music import Key, parse_time_signature
    from melodyrnn.primer import parse_range
    p = sub.add_parser(
        "generate", help="write new melodies from a model (the bundled folk model by default)",
        description="Sample new melodies and write them as MIDI, MusicXML, score images and "
                    "audio.",
        epilog="examples:\n  melodyrnn generate\n"
               "  melodyrnn generate --num 4 --temperature 0.8 --top-p 0.95 --bars 16\n"
               "  melodyrnn generate --meter 6/8 --key D:dorian --primer \"D4 E4 F4 A4:2\"\n"
               "  melodyrnn generate --beam 4 --scale G:major --range D4:B5 --formats mid,png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model bundle or checkpoint (default: the bundled folk model)")
    p.add_argument("--num", type=flags.number(1, whole=True), default=1, help="how many melodies")
    p.add_argument("--temperature", type=flags.number(0), default=1.0,
                   help="randomness: 1 samples the model as is, lower is safer, 0 is greedy")
    p.add_argument("--top-k", type=flags.number(1, whole=True),
                   help="draw only from the k likeliest")
    p.add_argument("--top-p", type=flags.number(0, 1, above=True),
                   help="draw only from the likeliest tokens holding this much probability")
    p.add_argument("--beam", type=flags.number(1, whole=True), default=1,
                   help="beam search with this many beams (1: plain sampling)")
    p.add_argument("--branch", type=flags.number(1, whole=True), default=2,
                   help="candidates drawn per beam and step in beam search")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer", help="opening notes, e.g. \"C4 D4 E4 G4:2\" "
                        "(pitch or MIDI number or R for a rest, :BEATS in quarter notes)")
    primer.add_argument("--primer-file", help="take the opening from a melody file")
    p.add_argument("--meter", type=flags.checked(parse_time_signature),
                   help="time signature, e.g. 6/8")
    p.add_argument("--key", type=flags.checked(Key.parse),
                   help="key to condition on, e.g. D:dorian")
    p.add_argument("--scale", type=flags.checked(Key.parse),
                   help="play only notes of this key and mode, e.g. G:major")
    p.add_argument("--range", type=flags.checked(parse_range), dest="pitch_range",
                   metavar="LOW:HIGH", help="lowest and highest pitch, e.g. C3:C6 or 48:84")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--bars", type=flags.number(1, whole=True), help="length in bars")
    length.add_argument("--notes", type=flags.number(1, whole=True), help="length in notes")
    length.add_argument("--seconds", type=flags.number(0, above=True), help="length in seconds")
    p.add_argument("--qpm", type=flags.number(1, 1000), default=120.0,
                   help="tempo in quarter notes per minute")
    p.add_argument("--seed", type=flags.number(0, whole=True),
                   help="random seed; the same seed and settings give the same files")
    p.add_argument("--out", default="outputs", help="folder to write into (default: outputs)")
    p.add_argument("--name", default="melody", help="file name stem (default: melody)")
    p.add_argument("--formats", type=flags.formats, default=flags.formats("mid,musicxml,png,wav"),
                   help="comma-separated: mid, musicxml, mxl, svg, png, pdf, wav")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    import random

    from melodyrnn.api import load_model
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    model = load_model(args.model)
    melodies = model.generate(
        num=args.num, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        primer=args.primer or args.primer_file, notes=args.notes, bars=args.bars, seed=seed,
        seconds=args.seconds, beam=args.beam, branch=args.branch,
        meter=None if args.meter is None else "{}/{}".format(*args.meter), key=args.key,
        scale=args.scale, pitch_range=args.pitch_range, qpm=args.qpm)
    _write_all(melodies, args, stem=f"{args.name}-{seed}")
    return 0


def _write_all(melodies: list, args: argparse.Namespace, stem: str) -> None:
    """Write every melody in every format; refuse up front if any file exists."""
    from pathlib import Path

    from melodyrnn.errors import WriteError
    from melodyrnn.export import write_melody
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


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render", help="turn a melody file into a score image, audio or other formats",
        description="Read the melody of a MIDI, MusicXML or ABC file (the top line, skyline) "
                    "and write it in other formats.",
        epilog="examples:\n  melodyrnn render outputs/melody-7.mid --formats png,wav\n"
               "  melodyrnn render tune.abc --formats pdf --out scores",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="a .mid, .musicxml, .mxl or .abc file")
    p.add_argument("--formats", type=flags.formats, default=flags.formats("png,wav"),
                   help="comma-separated: mid, musicxml, mxl, svg, png, pdf, wav")
    p.add_argument("--out", help="folder to write into (default: beside the file)")
    p.add_argument("--all", action="store_true",
                   help="every melody in the file, not only the first")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=_run_render)


def _run_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from melodyrnn.errors import ReadError
    from melodyrnn.preprocess import read_melodies
    source = Path(args.file)
    melodies = read_melodies(source, strategy="skyline")
    if not melodies:
        raise ReadError(f"{source}: no melody found (no pitched notes)")
    if not args.all:
        melodies = melodies[:1]
    args.out = args.out or str(source.parent)
    _write_all(melodies, args, stem=source.stem)
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="held-out bits per note of a model against a smoothed n-gram",
        description="Score every melody of a dataset split with a model and with the best "
                    "interpolated n-gram (orders 1-8, escape method C, order chosen on the "
                    "valid split); print bits per note, nats per token, perplexity, accuracy.",
        epilog="examples:\n  melodyrnn evaluate --data corpora/folk\n"
               "  melodyrnn evaluate --model runs/folk/version_0 --data corpora/folk "
               "--split valid --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model bundle or checkpoint (default: the bundled model)")
    p.add_argument("--data", required=True, help="a dataset folder written by prepare")
    p.add_argument("--split", choices=["train", "valid", "test"], default="test")
    p.add_argument("--samples", help="a folder of generated melody files: compare their musical "
                                     "metrics with the split's and check them for copies of "
                                     "the training split, instead of scoring a model")
    p.add_argument("--plot", help="with --samples: also write metric histograms to this .png")
    p.add_argument("--no-baseline", action="store_true", help="skip the n-gram baseline")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    if args.samples:
        return _run_evaluate_samples(args)
    from melodyrnn.api import load_model
    from melodyrnn.evaluate import evaluate_dataset, format_table
    model = load_model(args.model)
    results = evaluate_dataset(model, args.data, args.split, baseline=not args.no_baseline)
    if args.json:
        print(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=2))
    else:
        print(format_table(results, f"{args.data}, split {args.split}:"))
    return 0


def _run_evaluate_samples(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from melodyrnn.corpora import expand_source, load_corpus
    from melodyrnn.metrics import compare_sets, format_comparison
    from melodyrnn.originality import OriginalityIndex, format_originality
    from melodyrnn.preprocess import read_melodies
    samples = [m for path in expand_source(args.samples) for m in read_melodies(path)]
    reference = load_corpus(args.data, split=args.split)
    training = load_corpus(args.data, split="train")
    comparison = compare_sets(samples, reference)
    originality = OriginalityIndex(training).check_all(samples)
    if args.json:
        print(json.dumps({"metrics": comparison,
                          "originality": [r.__dict__ for r in originality]}, indent=2,
                         default=float))
    else:
        print(format_comparison(comparison, f"{len(samples)} samples vs {len(reference)} "
                                            f"{args.split} melodies of {args.data}"))
        print()
        print(format_originality(originality))
    if args.plot:
        from melodyrnn.plots import plot_metric_histograms
        print(f"wrote {plot_metric_histograms(samples, reference, Path(args.plot))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = _Parser(prog="melodyrnn",
                     description="Learn melodies from MIDI scores with an LSTM; sample, score, "
                                 "render and play them.",
                     epilog="examples:\n  melodyrnn generate --num 2 --bars 16\n"
                            "  melodyrnn prepare essen-kinder --out "
                            "corpora/essen-kinder\n  melodyrnn fit --config configs/tiny.yaml "
                            "--data.path corpora/essen-kinder\n"
                            "  melodyrnn export runs/tiny/version_0/checkpoints/last.ckpt "
                            "my-model",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"melodyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_prepare(sub)
    _add_generate(sub)
    _add_render(sub)
    _add_evaluate(sub)
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
