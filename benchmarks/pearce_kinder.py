"""The earlier command line of benchmarks/pearce.py, kept so that its commands still run.

`--corpus SET` names the set (`essen-kinder`, the default, is kinder0.abc; any name that
pearce.py's `--set` takes works too), LSTM rows need `--lstm`, and the PPM variant rows are in
unless `--no-variants`. Every other option is pearce.py's and passes through:

    python benchmarks/pearce_kinder.py --corpus fink0 --lstm --pretrain essen --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pearce import main as pearce_main

ALIASES = {"essen-kinder": "kinder"}


def translate(argv: Sequence[str]) -> list[str]:
    """pearce.py's arguments for an argument list of this command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--corpus", default="essen-kinder")
    parser.add_argument("--lstm", action="store_true")
    parser.add_argument("--no-variants", action="store_true")
    known, rest = parser.parse_known_args(argv)
    return (["--set", ALIASES.get(known.corpus, known.corpus)]
            + ([] if known.lstm else ["--no-lstm"])
            + ([] if known.no_variants else ["--variants"]) + rest)


if __name__ == "__main__":
    raise SystemExit(pearce_main(translate(sys.argv[1:])))
