"""Pearce's melody-prediction protocol on Essen sets: IDyOM's rows and LSTMs from several seeds.

The protocol of Pearce & Wiggins (2004, JNMR, "Improved methods for statistical modelling of
monophonic music") and Pearce (2005, PhD thesis): every melody of a set, 10-fold
cross-validation, the cross-entropy of each note's chromatic pitch in bits per note, averaged
over every note (the first note included: order 0 and the uniform order -1 predict it). The
alphabet is every pitch of the set (IDyOM's viewpoint domain). Folds: the melody indices
shuffled with `random.Random(--seed)`, fold f takes positions f, f + k, f + 2k, ... of that
order (IDyOM draws its own partition, which cannot be rebuilt here).

PPM rows use melodyrnn.evaluate.ppm with IDyOM's mixture; published figures exist for kinder
only. BOTH+ is scored fold by fold, and every other row is compared with it fold by fold
(folds better and worse, the mean difference). `--variants` adds rows that show what each
PPM detail is worth.

LSTM rows (`--lstm`; `melodyrnn.evaluate.pitch_lstm`) run once per seed (`--seeds`, 3 by
default) and report the mean and standard deviation over seeds. Every choice is made inside
the nine training folds: each fold holds out a tenth of its training melodies (the inner
split), which stops training early and picks, by bits per note there, the network size from
`GRID`, the step size of dynamic evaluation and the bias of the short-term model. Rows: the
LSTM alone; with dynamic evaluation (an SGD step after each note); and each combined with a
short-term PPM model of the melody being read, as IDyOM's BOTH+ combines its LTM+ and STM.

With more than one seed, each LSTM row has an ensemble row too: the mean of the seeds'
distributions on each test fold. `--jobs N` runs the (seed, fold) tasks in N processes.

`--pretrain CORPUS` adds the same rows for one network per seed pre-trained on CORPUS, then
fine-tuned per fold. The pre-training pool leaves out every melody of the set's own file and
every melody that `melodyrnn.evaluate.leakage` links to a melody of the set (copies in any
key, the split fingerprint's shared runs, 16 shared intervals, edit similarity 0.75), and the
JSON says how many each rule dropped. Its vocabulary holds every pitch of the pool and the set;
a note's probability is renormalised over the set's alphabet, as the other rows predict.

    python benchmarks/pearce.py --set kinder --no-lstm
    python benchmarks/pearce.py --set kinder --pretrain essen --jobs 2
    python benchmarks/pearce.py --set fink0 --seeds 1 --lstm-folds 2

`benchmarks/pearce_table.py` prints the README's tables from the JSON files this writes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.evaluate.ppm import PPMModel, combine_geometric, cross_entropy
from melodyrnn.prepare.corpus import load_corpus

RESULTS = Path(__file__).resolve().parent / "results"
ESSEN = "music21:essenFolksong/"
SETS = {"kinder": f"{ESSEN}kinder0.abc", "dva0": f"{ESSEN}dva0.abc",
        "fink0": f"{ESSEN}fink0.abc", "ballad10": f"{ESSEN}ballad10.abc"}

PPM_STAR: dict[str, Any] = {
    "order_bound": None, "escape": "C", "interpolated": True, "exclusion": True,
    "update_exclusion": False, "selection": "deterministic", "order_minus1": "idyom"}
ORDER_2 = {**PPM_STAR, "order_bound": 2}
STM = {**PPM_STAR, "escape": "X", "update_exclusion": True}  # IDyOM's default STM
LTM_STM_BIAS = 7.0  # IDyOM's default *ltm-stm-bias*, geometric combination
# name, PPMModel options, learn from test melodies (LTM+), published kinder figure
PPM_ROWS: list[tuple[str, dict[str, Any], bool, float]] = [
    ("n-gram order 2, interpolated, escape C", ORDER_2, False, 2.613),
    ("PPM* (escape C, interpolated, unbounded order, no update exclusion)", PPM_STAR, False,
     2.428),
    ("LTM+ (the PPM* row, also learning each test melody as it is read)", PPM_STAR, True, 2.237),
]
BOTH_ROW = ("BOTH+ (LTM+ with a per-melody STM: PPM* escape X, update exclusion; "
            "geometric combination, bias 7)", 2.106)

VARIANTS: list[tuple[str, dict[str, Any], bool]] = [
    ("variant: order 2, Witten-Bell (no exclusion, uniform order -1)",
     {**ORDER_2, "exclusion": False, "order_minus1": "uniform"}, False),
    ("variant: order 2, no exclusion", {**ORDER_2, "exclusion": False}, False),
    ("variant: order 2, uniform order -1", {**ORDER_2, "order_minus1": "uniform"}, False),
    ("variant: order 2, update exclusion", {**ORDER_2, "update_exclusion": True}, False),
    ("variant: order 2, backoff", {**ORDER_2, "interpolated": False}, False),
    ("variant: order 1", {**ORDER_2, "order_bound": 1}, False),
    ("variant: order 3", {**ORDER_2, "order_bound": 3}, False),
    ("variant: order 3, update exclusion",
     {**ORDER_2, "order_bound": 3, "update_exclusion": True}, False),
    ("variant: order 4", {**ORDER_2, "order_bound": 4}, False),
    ("variant: PPM*, update exclusion", {**PPM_STAR, "update_exclusion": True}, False),
    ("variant: PPM*, Witten-Bell (no exclusion, uniform order -1)",
     {**PPM_STAR, "exclusion": False, "order_minus1": "uniform"}, False),
    ("variant: PPM*, Witten-Bell, update exclusion",
     {**PPM_STAR, "exclusion": False, "order_minus1": "uniform", "update_exclusion": True},
     False),
    ("variant: PPM*, longest matching context", {**PPM_STAR, "selection": "longest"}, False),
    ("variant: PPM*, backoff, update exclusion (classic PPM*)",
     {**PPM_STAR, "interpolated": False, "update_exclusion": True}, False),
    *((f"variant: PPM*, escape {e}", {**PPM_STAR, "escape": e}, False) for e in "ABDX"),
    ("variant: LTM+, update exclusion", {**PPM_STAR, "update_exclusion": True}, True),
]

Folds = list[list[int]]


def make_folds(n_items: int, k: int, seed: int) -> Folds:
    """k disjoint, sorted lists of item indices from a seeded shuffle (sizes differ by <= 1)."""
    order = list(range(n_items))
    random.Random(seed).shuffle(order)
    return [sorted(order[f::k]) for f in range(k)]


def training_set(seqs: list[list[int]], folds: Folds, f: int) -> list[list[int]]:
    """Every melody outside fold f, in index order."""
    return [seqs[i] for g, fold in enumerate(folds) if g != f for i in fold]


def ppm_fold_bits(seqs: list[list[int]], folds: Folds, alphabet: list[int],
                  options: dict[str, Any], learn: bool) -> list[float]:
    """Total bits of each fold under a PPM model trained on the other folds."""
    out = []
    for f, fold in enumerate(folds):
        model = PPMModel(alphabet, **options).fit(training_set(seqs, folds, f))
        out.append(cross_entropy(model, [seqs[i] for i in fold], learn=learn)[0])
    return out


def both_fold_bits(seqs: list[list[int]], folds: Folds, alphabet: list[int],
                   bias: float) -> list[float]:
    """Total bits of each fold under LTM+ combined with a short-term model of each melody."""
    index = {pitch: i for i, pitch in enumerate(alphabet)}
    out = []
    for f, fold in enumerate(folds):
        ltm = PPMModel(alphabet, **PPM_STAR).fit(training_set(seqs, folds, f))
        total = 0.0
        for i in fold:
            seq, stm = seqs[i], PPMModel(alphabet, **STM)
            for j, pitch in enumerate(seq):
                dist = combine_geometric([ltm.distribution(seq[:j]), stm.distribution(seq[:j])],
                                         bias)
                total -= math.log2(dist[index[pitch]])
                ltm.observe(seq[:j], pitch)
                stm.observe(seq[:j], pitch)
        out.append(total)
    return out


def make_row(name: str, runs: Sequence[Sequence[float]], fold_notes: Sequence[int],
             config: dict[str, Any], seconds: float, published: float | None = None,
             both: Sequence[float] | None = None) -> dict[str, Any]:
    """A results row from per-fold bits of one or more runs (seeds): the bits per note of
    each run, their mean and spread, each fold's mean, and the comparison with BOTH+."""
    notes = sum(fold_notes)
    per_run = [sum(run) / notes for run in runs]
    per_fold = [statistics.fmean(run[f] for run in runs) / n for f, n in enumerate(fold_notes)]
    mean = statistics.fmean(per_run)
    row: dict[str, Any] = {"name": name, "bits_per_note": round(mean, 4), "notes": notes,
                           "folds": len(fold_notes), "runs": len(runs)}
    if len(runs) > 1:
        row.update(sd=round(statistics.stdev(per_run), 4),
                   per_seed=[round(b, 4) for b in per_run])
    row["per_fold"] = [round(b, 4) for b in per_fold]
    if both is not None:
        diff = [b - s / n for b, s, n in zip(per_fold, both, fold_notes, strict=True)]
        row["vs_both"] = {"folds_better": sum(d < 0 for d in diff),
                          "folds_worse": sum(d > 0 for d in diff),
                          "mean_difference": round(statistics.fmean(diff), 4)}
    if published is not None:
        row["published"] = published
    row.update(config=config, seconds=round(seconds, 1))
    spread = f" ± {row['sd']:.4f}" if "sd" in row else ""
    versus = row.get("vs_both")
    print(f"{name[:70]:<70} {mean:7.4f}{spread:<9}"
          + (f" pub. {published:.3f}" if published is not None else "")
          + (f" vs BOTH+ {versus['folds_better']}/{len(fold_notes)} better, "
             f"{versus['mean_difference']:+.4f}" if versus else ""), flush=True)
    return row


def ppm_rows(seqs: list[list[int]], folds: Folds, alphabet: list[int],
             published: bool, variants: bool) -> tuple[list[dict[str, Any]], list[float]]:
    """The PPM rows and BOTH+ (and with `variants` what each model detail is worth), and
    BOTH+'s bits per fold."""
    fold_notes = [sum(len(seqs[i]) for i in fold) for fold in folds]
    start = time.perf_counter()
    both = both_fold_bits(seqs, folds, alphabet, LTM_STM_BIAS)
    both_seconds = time.perf_counter() - start
    rows = []
    for name, options, learn, figure in PPM_ROWS:
        start = time.perf_counter()
        bits = ppm_fold_bits(seqs, folds, alphabet, options, learn)
        rows.append(make_row(name, [bits], fold_notes, {**options, "learn": learn},
                             time.perf_counter() - start, figure if published else None, both))
    config = {"ltm": PPM_STAR, "stm": STM, "combination": "geometric", "bias": LTM_STM_BIAS,
              "learn": True}
    rows.append(make_row(BOTH_ROW[0], [both], fold_notes, config, both_seconds,
                         BOTH_ROW[1] if published else None))
    for name, options, learn in VARIANTS if variants else []:
        start = time.perf_counter()
        bits = ppm_fold_bits(seqs, folds, alphabet, options, learn)
        rows.append(make_row(name, [bits], fold_notes, {**options, "learn": learn},
                             time.perf_counter() - start, both=both))
    return rows, both


def set_melodies(name: str) -> tuple[str, list[Melody]]:
    """(source, melodies with notes) of a set name of SETS, or any corpus or source."""
    source = SETS.get(name, name)
    return source, [m for m in load_corpus(source) if m.notes]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/pearce.py --set kinder --pretrain essen",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="kinder",
                        help=f"one of {', '.join(SETS)} (Essen files), or a corpus or source")
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold shuffle")
    parser.add_argument("--seeds", type=int, default=3, help="LSTM runs, seeds 0 .. N-1")
    parser.add_argument("--no-lstm", action="store_true", help="the PPM rows only")
    parser.add_argument("--variants", action="store_true",
                        help="also the PPM variant rows (what each model detail is worth)")
    parser.add_argument("--lstm-folds", type=int, default=None,
                        help="LSTM rows on the first N folds only (a timing run)")
    parser.add_argument("--pretrain", metavar="CORPUS", default=None,
                        help="also pre-train one LSTM per seed on CORPUS (e.g. essen), the set "
                             "and its near-duplicates left out, and fine-tune it per fold")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes for the LSTM runs (one thread each; the same figures "
                             "for any number)")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/pearce_SET.json)")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds has to be at least 2, got {args.folds}")
    if args.seeds < 1:
        parser.error(f"--seeds has to be at least 1, got {args.seeds}")
    if args.lstm_folds is not None and not 1 <= args.lstm_folds <= args.folds:
        parser.error(f"--lstm-folds has to be between 1 and --folds, got {args.lstm_folds}")
    if args.jobs < 1:
        parser.error(f"--jobs has to be at least 1, got {args.jobs}")
    if args.pretrain and args.no_lstm:
        parser.error("--pretrain trains LSTMs: leave out --no-lstm")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    source, melodies = set_melodies(args.set)
    seqs = [[n.pitch for n in m.notes] for m in melodies]
    if len(seqs) < args.folds:
        print(f"{args.set}: {len(seqs)} melodies cannot fill {args.folds} folds",
              file=sys.stderr)
        return 2
    alphabet = sorted({pitch for seq in seqs for pitch in seq})
    folds = make_folds(len(seqs), args.folds, args.seed)
    print(f"{args.set} ({source}): {len(seqs)} melodies, {sum(map(len, seqs))} notes, "
          f"{len(alphabet)} pitches ({alphabet[0]}-{alphabet[-1]}), {args.folds} folds, "
          f"fold seed {args.seed}", flush=True)
    rows, both = ppm_rows(seqs, folds, alphabet, source == SETS["kinder"], args.variants)
    result: dict[str, Any] = {
        "set": args.set, "source": source, "melodies": len(seqs),
        "notes": sum(map(len, seqs)), "alphabet_size": len(alphabet), "folds": args.folds,
        "fold_seed": args.seed}
    if not args.no_lstm:
        from pearce_lstm import lstm_rows, pretrain_rows  # (torch loads only for these rows)

        seeds = list(range(args.seeds))
        rows += lstm_rows(seqs, folds, alphabet, seeds, both, args.lstm_folds, args.jobs)
        if args.pretrain:
            extra, leakage = pretrain_rows(melodies, source, seqs, folds, alphabet,
                                           args.pretrain, seeds, both, args.lstm_folds,
                                           args.jobs)
            rows += extra
            result["pretraining_pool"] = leakage
    result["rows"] = rows
    out = args.out or RESULTS / f"pearce_{args.set}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
