"""`melodyrnn evaluate`: held-out bits per note against an n-gram (and, with `--stm`, of the
model combined with a short-term model of each melody), or samples against tunes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from melodyrnn.cli.flags import checked
from melodyrnn.errors import ConfigError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="held-out bits per note of a model against a smoothed n-gram",
        description="Score every melody of a dataset split with a model and with the best "
                    "interpolated n-gram (orders 1-8, escape method C, order chosen on the "
                    "valid split); print bits per note, nats per token, perplexity, accuracy. "
                    "With --stm, also the model combined with a short-term model of each "
                    "melody, as IDyOM does: a PPM* model that learns the melody from its "
                    "first note on, mixed with the model by an entropy-weighted geometric "
                    "mean.",
        epilog="examples:\n  melodyrnn evaluate --data corpora/folk\n"
               "  melodyrnn evaluate --data corpora/folk --stm\n"
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
    p.add_argument("--stm", action="store_true",
                   help="add the row 'model + STM': the model combined with a short-term model "
                        "of each melody (its bias chosen on the valid split)")
    p.add_argument("--stm-bias", type=checked(_stm_bias), metavar="B",
                   help="the combination's bias (>= 0; 0 is the plain geometric mean; higher "
                        "favours the more certain model) instead of choosing it; implies --stm")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _stm_bias(text: str) -> float:
    # the check lives with the combination; numpy loads only when the flag is given
    from melodyrnn.evaluate.stm import check_bias
    return check_bias(text)


def run(args: argparse.Namespace) -> int:
    stm = args.stm or args.stm_bias is not None
    if args.samples:
        if stm:
            raise ConfigError("--stm and --stm-bias score a model; they do not apply to "
                              "--samples")
        return _run_evaluate_samples(args)
    # the scoring imports torch, so it loads only when a model is scored
    from melodyrnn.evaluate.likelihood import evaluate_dataset, format_table

    # the model loader imports torch too
    from melodyrnn.generate.model import load_model

    model = load_model(args.model)
    results = evaluate_dataset(model, args.data, args.split, baseline=not args.no_baseline,
                               progress=not args.quiet, stm=stm, stm_bias=args.stm_bias)
    if args.json:
        print(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=2))
    else:
        print(format_table(results, f"{args.data}, split {args.split}:"))
    return 0


def _run_evaluate_samples(args: argparse.Namespace) -> int:
    # numpy and the corpus readers load with this path only (every command imports this
    # module to build its parser): the metrics,
    from melodyrnn.evaluate.compare import compare_sets, format_comparison

    # the copy finder,
    from melodyrnn.evaluate.originality import OriginalityIndex, format_originality

    # the histograms,
    from melodyrnn.evaluate.plots import plot_metric_histograms

    # and the readers of tunes
    from melodyrnn.evaluate.samples import read_samples_played, read_split_played

    # decoding the training split back from its tokens takes seconds for a few thousand
    # tunes, so a bar names each phase as it runs
    with _phases(5, args.quiet) as bar:
        bar.set_postfix_str(f"reading the {args.split} split")
        reference = read_split_played(args.data, args.split)
        bar.update()
        bar.set_postfix_str("reading the train split")
        training = read_split_played(args.data, "train")
        bar.update()
        bar.set_postfix_str(f"reading {args.samples}")
        samples = read_samples_played(args.samples, reference[0].steps_per_quarter)
        bar.update()
        bar.set_postfix_str("comparing metrics")
        comparison = compare_sets(samples, reference)
        bar.update()
        bar.set_postfix_str("looking for copies")
        originality = OriginalityIndex(training).check_all(samples)
        bar.update()
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
        print(f"wrote {plot_metric_histograms(samples, reference, Path(args.plot))}")
    return 0


def _phases(total: int, quiet: bool) -> Any:
    """A progress bar of `total` phases on stderr; silent when quiet or not on a terminal."""
    from tqdm import tqdm
    return tqdm(total=total, desc="evaluate", unit="phase", file=sys.stderr, leave=False,
                disable=quiet or not sys.stderr.isatty())
