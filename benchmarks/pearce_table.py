"""The README's table of Pearce's protocol, from benchmarks/results/pearce_<set>.json.

Each cell is a row's bits per note (with the spread over seeds), the folds of 10 in which it
is better than BOTH+ in brackets, and in bold where it is at or below BOTH+ overall. The second
table tests each row against BOTH+ fold by fold: the mean of the per-fold differences in bits
per note, and the two-sided p of an exact sign-flip test of that mean (every one of the 2^k
ways to swap the two models' figures within folds; the smallest p 10 folds can give is
2/1024 = 0.002). The folds are the units, as in the protocol's cross-validation, so this says
how consistently a row wins, not how large the win is.

    python benchmarks/pearce_table.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pearce import RESULTS, SETS  # the sets' order is the columns'

PRETRAINED = "pre-trained on essen (leak-free), fine-tuned"
# label in the table, and what the row's name is after its network's description
ROWS = (("LSTM on the nine folds", "nine", ""),
        ("+ STM", "nine", " + STM"),
        ("ensemble of {n}, + STM", "nine", ", ensemble of {n} seeds + STM"),
        ("pre-trained (leak-free), fine-tuned", "pre", ""),
        ("+ STM", "pre", " + STM"),
        ("ensemble of {n}, + STM", "pre", ", ensemble of {n} seeds + STM"),
        ("ensemble of {n}, + dynamic evaluation", "pre",
         ", ensemble of {n} seeds + dynamic evaluation"))
EXACT_UP_TO = 16  # folds; 2^16 sign patterns


def sign_flip_p(differences: Sequence[float]) -> float:
    """Two-sided p of an exact sign-flip test that the mean of paired `differences` is 0: the
    share of the 2^k sign patterns whose mean is at least as far from 0 as the observed one."""
    k = len(differences)
    if not 0 < k <= EXACT_UP_TO:
        raise ValueError(f"an exact sign-flip test needs 1 to {EXACT_UP_TO} differences, not {k}")
    observed = abs(sum(differences))
    extreme = sum(abs(sum(s * d for s, d in zip(signs, differences, strict=True)))
                  >= observed - 1e-12 for signs in itertools.product((1, -1), repeat=k))
    return extreme / 2 ** k


def _find(rows: list[dict[str, Any]], which: str, suffix: str, seeds: int) -> dict[str, Any]:
    pattern = (r"LSTM trained on the nine folds" if which == "nine"
               else r"LSTM \d+x\d+ " + re.escape(PRETRAINED))
    pattern += re.escape(suffix.format(n=seeds))
    matches = [row for row in rows if re.fullmatch(pattern, row["name"])]
    if len(matches) != 1:
        raise ValueError(f"{len(matches)} rows named like {pattern!r}")
    return matches[0]


def _both(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(row for row in rows if row["name"].startswith("BOTH+"))


def _cell(row: dict[str, Any], both: dict[str, Any]) -> str:
    figure = f"{row['bits_per_note']:.3f}" + (f" ± {row['sd']:.3f}" if "sd" in row else "")
    if row["bits_per_note"] <= both["bits_per_note"]:
        figure = f"**{figure}**"
    return f"{figure} ({row['vs_both']['folds_better']})"


def _test_cell(row: dict[str, Any], both: dict[str, Any]) -> str:
    diffs = [r - b for r, b in zip(row["per_fold"], both["per_fold"], strict=True)]
    return f"{statistics.fmean(diffs):+.3f}, p {sign_flip_p(diffs):.3f}"


def tables(results: dict[str, dict[str, Any]]) -> str:
    """The two markdown tables, sets as columns in the order of `results`."""
    seeds = {s: len(_find(r["rows"], "nine", "", 0)["per_seed"]) for s, r in results.items()}
    head = "| model | " + " | ".join(results) + " |\n|---|" + "---|" * len(results) + "\n"
    first = head + "| melodies, notes | " + " | ".join(
        f"{r['melodies']}, {r['notes']:,}" for r in results.values()) + " |\n"
    second = head
    counts = set(seeds.values())
    n = counts.pop() if len(counts) == 1 else "N"
    both = {s: _both(r["rows"]) for s, r in results.items()}
    first += "| BOTH+ (IDyOM) | " + " | ".join(
        f"{row['bits_per_note']:.3f}" for row in both.values()) + " |\n"
    for label, which, suffix in ROWS:
        name = label.format(n=n)
        found = {s: _find(r["rows"], which, suffix, seeds[s]) for s, r in results.items()}
        first += f"| {name} | " + " | ".join(_cell(found[s], both[s]) for s in results) + " |\n"
        second += f"| {name} | " + " | ".join(
            _test_cell(found[s], both[s]) for s in results) + " |\n"
    return first + "\n" + second


def load(sets: Sequence[str] = tuple(SETS), folder: Path = RESULTS) -> dict[str, dict[str, Any]]:
    return {s: json.loads((folder / f"pearce_{s}.json").read_text(encoding="utf-8"))
            for s in sets}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), help="columns, in order")
    args = parser.parse_args(argv)
    print(tables(load(args.sets)), end="")


if __name__ == "__main__":
    main()
