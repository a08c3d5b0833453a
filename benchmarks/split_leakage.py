"""How much of a held-out split is copied from training: the grouped split against the old one.

    python benchmarks/split_leakage.py                  # the folk corpus (O'Neill's + Ryan's)
    python benchmarks/split_leakage.py essen --valid 0.1 --test 0.1

For each test tune, the longest run of notes (intervals, rests, durations: transposition
cannot hide a copy) that it shares with any training tune, by `evaluate.originality`. Both
splits are made in the same run from the same melodies: the split `prepare` makes (tunes that
share a 16-note run are one group, and the group is hashed), and the split by each tune's own
id alone that melodyrnn used before. Prints the share of test tunes sharing 16 and 24 notes
or more with training under each, and writes benchmarks/results/split_leakage.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from melodyrnn.core.melody import Melody
from melodyrnn.evaluate.originality import OriginalityIndex
from melodyrnn.prepare.recipes import recipe_for
from melodyrnn.prepare.sources import extract_recipe
from melodyrnn.prepare.splits import assign_splits, split_of, tune_group

RUNS = (16, 24)


def leakage(melodies: list[Melody], split_names: list[str]) -> dict[str, object]:
    """Test tunes, and the share of them sharing RUNS notes or more with a training tune."""
    train = [m for m, s in zip(melodies, split_names, strict=True) if s == "train"]
    test = [m for m, s in zip(melodies, split_names, strict=True) if s == "test"]
    runs = np.array([r.longest_shared_run for r in OriginalityIndex(train).check_all(test)])
    return {"train": len(train), "test": len(test),
            **{f"share_{k}": float(np.mean(runs >= k)) if len(runs) else 0.0 for k in RUNS},
            "median_run": float(np.median(runs)) if len(runs) else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="folk", help="corpus name or recipe")
    parser.add_argument("--valid", type=float, help="valid share (default: the recipe's)")
    parser.add_argument("--test", type=float, help="test share (default: the recipe's)")
    parser.add_argument("--out", default="benchmarks/results/split_leakage.json")
    args = parser.parse_args()
    recipe = recipe_for([args.corpus])
    valid = recipe.valid if args.valid is None else args.valid
    test = recipe.test if args.test is None else args.test
    melodies, _ = extract_recipe(recipe, progress=False)
    start = time.perf_counter()
    grouped = assign_splits(melodies, valid, test)
    seconds = time.perf_counter() - start
    rows: dict[str, dict[str, Any]] = {"grouped": leakage(melodies, grouped.of_melody),
            "by tune id": leakage(melodies, [split_of(tune_group(m.source), valid, test)
                                             for m in melodies])}
    groups = grouped.duplicate_groups()
    print(f"{args.corpus}: {len(melodies):,} melodies, {len(grouped.group_of_tune):,} tunes; "
          f"{len(groups):,} groups of tunes sharing 16+ notes ({sum(map(len, groups)):,} "
          f"tunes, largest {len(groups[0]) if groups else 0}); grouping took {seconds:.2f} s")
    print(f"{'split':12}{'train':>7}{'test':>6}" + "".join(f"{f'>={k} notes':>12}" for k in RUNS)
          + f"{'median run':>12}")
    for name, row in rows.items():
        print(f"{name:12}{row['train']:7,}{row['test']:6,}"
              + "".join(f"{100 * float(row[f'share_{k}']):11.1f}%" for k in RUNS)
              + f"{row['median_run']:12g}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"corpus": args.corpus, "valid": valid, "test": test,
                                          "groups": len(groups), **rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
