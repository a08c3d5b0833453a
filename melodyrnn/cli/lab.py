"""`melodyrnn lab`: experiments on recurrent networks, measured on melodies (`melodyrnn/lab/`).

The lab's flags come from each experiment's `Options` dataclass (a flag per field, its help
from the field's metadata), so they are built only when `lab` runs: the experiments import
torch, which no other command should pay for at start-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from melodyrnn.cli import flags

_HELP = "run the lab's experiments on RNN, GRU and LSTM (gradients, clipping, truncated " \
        "BPTT, memory, inputs) and write plots, numbers and an HTML report"
_EXAMPLES = ("examples:\n  melodyrnn lab all --out lab\n"
             "  melodyrnn lab gradients --out lab --cells rnn,lstm --distance 80\n"
             "  melodyrnn lab tbptt --data corpora/folk --out lab-folk --seed 2\n"
             "  melodyrnn lab report --out lab")


def add(sub: argparse._SubParsersAction) -> None:
    """List `lab` in the top-level help; `run_lab` parses its arguments."""
    sub.add_parser("lab", help=_HELP, add_help=False)


def build_parser() -> argparse.ArgumentParser:
    """The parser of `melodyrnn lab`: one subcommand per experiment, `all` and `report`."""
    # the experiments import torch: loaded when `lab` runs, not at every command's start
    from melodyrnn.lab.suite import EXPERIMENTS, experiment

    parser = flags.Parser(
        prog="melodyrnn lab", description=_HELP[0].upper() + _HELP[1:] + ". Each experiment "
        "trains small networks on a prepared dataset (by default corpora/essen-kinder, built "
        "from music21's corpus on first use) and writes OUT/NAME/: PNG plots and NAME.json "
        "with every number, the settings and the versions behind them.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True,
                                  parser_class=flags.Parser)
    common: dict[str, dataclasses.Field[Any]] = {}
    for name in EXPERIMENTS:
        module = experiment(name)
        p = kinds.add_parser(name, help=module.SUMMARY,
                             description=module.SUMMARY[0].upper() + module.SUMMARY[1:] + ".",
                             epilog=f"example:\n  melodyrnn lab {name} --out lab",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        _data_flags(p)
        fields = dataclasses.fields(module.Options)
        for field in fields:
            _option(p, field)
        names = {f.name for f in fields}
        common = {f.name: f for f in fields} if not common else \
            {k: f for k, f in common.items() if k in names}
    p = kinds.add_parser("all", help="every experiment in turn, then report.html",
                         description="Run every experiment in turn (about 15 minutes on 2 CPU "
                                     "cores with the defaults) and write OUT/report.html.",
                         epilog="example:\n  melodyrnn lab all --out lab",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _data_flags(p)
    for field in common.values():
        _option(p, field)
    p = kinds.add_parser("report", help="rebuild OUT/report.html from the experiments' JSON",
                         description="Write OUT/report.html again from OUT/NAME/NAME.json.",
                         epilog="example:\n  melodyrnn lab report --out lab",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("lab"), help="the lab folder (default: lab)")
    return parser


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="a dataset folder written by `melodyrnn prepare` (default: "
                                  "corpora/essen-kinder, built on first use)")
    p.add_argument("--out", type=Path, default=Path("lab"),
                   help="folder for the results: OUT/NAME/ per experiment (default: lab)")


def _option(p: argparse.ArgumentParser, field: dataclasses.Field[Any]) -> None:
    """A flag for one Options field, typed by its default."""
    flag, default = "--" + field.name.replace("_", "-"), field.default
    help_text = f"{field.metadata.get('help', field.name)} (default: {_shown(default)})"
    if isinstance(default, bool):
        p.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                       default=None, help=help_text)
    elif isinstance(default, tuple):
        kind = type(default[0]) if default else str
        p.add_argument(flag, dest=field.name, type=_listed(kind), default=None,
                       metavar="A,B,...", help=help_text)
    else:
        p.add_argument(flag, dest=field.name, type=_typed(type(default)), default=None,
                       metavar=type(default).__name__.upper(), help=help_text)


def _shown(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _typed(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            what = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}") from None
    return parse


def _listed(kind: type) -> Any:
    one = _typed(kind)

    def parse(text: str) -> tuple[Any, ...]:
        items = tuple(one(part.strip()) for part in text.split(",") if part.strip())
        if not items:
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list")
        return items
    return parse


def run_lab(argv: list[str]) -> int:
    """Run `melodyrnn lab ...` (argv after `lab`); the exit code."""
    # the lab's stage, loaded when it runs
    from melodyrnn.lab import data, report, suite

    args = build_parser().parse_args(argv)
    out: Path = args.out
    if args.experiment == "report":
        path = report.write_report(out, report.read_results(out, suite.EXPERIMENTS))
        print(f"wrote {path}")
        return 0
    values = {k: v for k, v in vars(args).items() if k not in ("experiment", "data", "out")}
    began = time.perf_counter()
    if args.experiment == "all":
        suite.make_options(suite.experiment(suite.EXPERIMENTS[0]), values)  # refused early
        results = suite.run_all(data.load_lab_data(args.data), out, values)
        print(f"wrote {out / 'report.html'} ({len(results)} experiments in "
              f"{(time.perf_counter() - began) / 60:.1f} minutes; numbers and plots in "
              f"{out}/NAME/)")
        return 0
    module = suite.experiment(args.experiment)
    options = suite.make_options(module, values)
    result = module.run(data.load_lab_data(args.data), out, options, print)
    for sentence in result.reading:
        print(f"  {sentence}")
    print(f"wrote {out / result.name}/ ({', '.join([*result.plots, result.name + '.json'])}) "
          f"in {result.seconds:.0f} s")
    return 0
