"""`melodyrnn prepare`: build a token dataset from corpora, recipes, files or folders."""

from __future__ import annotations

import argparse

from melodyrnn.cli import flags
from melodyrnn.core.limits import LIMITS
from melodyrnn.prepare.recipes import corpus_names, resolve_recipe
from melodyrnn.tokenizers import ENCODINGS


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="build a token dataset from a corpus, files or folders",
        usage="%(prog)s [options] SOURCE [SOURCE ...]\n       %(prog)s --list",
        description="Build a token dataset (numpy shards + manifest.json) from named corpora, "
                    "recipe files, or files and folders of MIDI, MusicXML or ABC.",
        epilog="examples:\n  melodyrnn prepare --list\n"
               "  melodyrnn prepare essen-kinder --out corpora/essen-kinder\n"
               "  melodyrnn prepare my/midi/folder --out corpora/mine --strategy skyline\n"
               "  melodyrnn prepare oneills ryans --out corpora/folk --tokenizer grid\n"
               "  melodyrnn prepare big/abc --out corpora/big --file-timeout 30\n\n"
               "One run at a time writes an --out folder: a second run into it refuses and "
               "names the first one's pid.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # nargs="*" so that `--list` works alone; run() refuses a missing SOURCE otherwise
    p.add_argument("sources", nargs="*", metavar="SOURCE",
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
    p.add_argument("--tokenizer", choices=list(ENCODINGS), help="token encoding")
    p.add_argument("--form-tokens", action=argparse.BooleanOptionalAction, default=None,
                   help="note encoding: write repeat signs, endings and the pickup as tokens "
                        "(RepeatStart, RepeatEnd, Ending_N, Pickup_N)")
    p.add_argument("--steps-per-quarter", type=flags.positive_int,
                   help="quantization grid (4: sixteenths; 12: allows triplets)")
    p.add_argument("--valid", type=flags.fraction, help="share of tunes for validation")
    p.add_argument("--test", type=flags.fraction, help="share of tunes for testing")
    p.add_argument("--normalize-key", action="store_true", default=None,
                   help="transpose every melody to C major / A minor")
    p.add_argument("--transpose", type=flags.semitone_range, metavar="LOW:HIGH",
                   help="augment the training split with these transpositions, e.g. -5:6")
    p.add_argument("--jobs", type=flags.positive_int, help="worker processes (default: all cores)")
    p.add_argument("--file-timeout", type=flags.number(0, above=True), metavar="SECONDS",
                   help="skip (and report) a file that takes longer to read (default: "
                        f"{LIMITS['prepare_file_seconds'].default} s, or "
                        f"${LIMITS['prepare_file_seconds'].env})")
    p.add_argument("--no-cache", action="store_true", help="ignore cached extractions")
    p.add_argument("--force", action="store_true",
                   help="rebuild even if up to date (a run still writing the same --out is "
                        "never overridden: the second run refuses)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run, usage_error=p.error)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path
    if args.list:
        for name in corpus_names():
            recipe = resolve_recipe(name)
            assert recipe is not None  # every corpus name is a recipe file's stem
            print(f"{name:14s} {recipe.description}  [{recipe.license}]")
        return 0
    if not args.sources:
        args.usage_error("the following arguments are required: SOURCE (or --list)")
    out = args.out
    if out is None:
        stem = "+".join(Path(s).stem if s.endswith(".toml") else Path(s).name or s
                        for s in args.sources)
        out = str(Path("corpora") / stem)
    overrides = {"strategy": args.strategy, "min_notes": args.min_notes,
                 "min_pitch_classes": args.min_pitch_classes, "max_bars": args.max_bars,
                 "split_gap_bars": args.split_gap_bars, "tokenizer": args.tokenizer,
                 "form_tokens": args.form_tokens,
                 "steps_per_quarter": args.steps_per_quarter, "valid": args.valid,
                 "test": args.test, "normalize_key": args.normalize_key,
                 "transpose": args.transpose}
    # the build (numpy, the readers, the split hashing) loads with the command that runs it
    from melodyrnn.prepare.build import prepare

    report = prepare(args.sources, out, jobs=args.jobs, progress=not args.quiet,
                     use_cache=not args.no_cache, force=args.force,
                     file_seconds=args.file_timeout, **overrides)
    print(report.summary())
    return 0
