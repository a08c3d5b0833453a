"""Form of a model's samples beside held-out real tunes: endings, bars, length, repeated parts.

Generates --num melodies from a model (the bundled folk model by default, at its own settings:
temperature 1, the model ends each tune and picks its meter and key) and sets them beside the
test split of --data, feature by feature (`melodyrnn.evaluate.form`): tunes that end on the
tonic, whose written final bar is whole or completes the pickup, their length in bars as
played, parts that come back, how much of them repeats (4-note figures and whole bars, with the
Yang & Lerch overlap of the distributions), notes outside the key, pitch range. A logistic
regression then tries to tell samples from real tunes on these features (cross-validated
accuracy; 50% = indistinguishable). The same comparison of the valid split against the test
split is the reference: what two sets of real tunes give (the "valid" column of overlaps).

Two conditioned checks follow: --num-conditioned samples asked for 6/8 in D dorian (notes
outside the mode, against the corpus's dorian tunes; notes across the middle of a 6/8 bar,
against its 6/8 tunes), and the meters and modes the model picks by itself, against the
train split's shares (total variation distance). The goals are printed with pass/fail.

    python benchmarks/form.py
    python benchmarks/form.py --num 200 --temperature 0.9 --data corpora/folk

Writes benchmarks/results/form.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from melodyrnn._files import atomic_write_text
from melodyrnn.core.melody import Melody
from melodyrnn.evaluate.compare import feature_overlap, total_variation
from melodyrnn.evaluate.discriminate import discriminate
from melodyrnn.evaluate.form import (
    FORM_FEATURES,
    form_features,
    half_bar_crossing_rate,
    out_of_key_rate,
)

CHUNK = 100  # samples per generate call, so that progress shows
# features whose distributions are compared by overlap (the rest are yes/no shares)
OVERLAP_FEATURES = ("played_bars", "figure_repetition_rate", "bar_repetition_rate",
                    "out_of_key_rate", "pitch_range")
GOALS = ("complete final bar >= 95%", "ends on tonic within 10 points of real",
         "figure repetition overlap >= 0.7", "bar repetition overlap >= 0.7",
         "classifier accuracy <= 70%")


def feature_table(melodies: Sequence[Melody]) -> dict[str, np.ndarray]:
    """Every form feature of every melody: name -> array (NaN where undefined)."""
    rows = [form_features(m) for m in melodies]
    return {name: np.array([r[name] for r in rows], dtype=float) for name in FORM_FEATURES}


def pooled_rate(melodies: Sequence[Melody], rate: Callable[[Melody], float]) -> float:
    """A per-note rate over all the notes (as played) of a set: sum(rate * notes) / sum(notes)."""
    hits = total = 0.0
    for m in melodies:
        value = rate(m)
        if not math.isnan(value):
            notes = len(m.unfold().notes)
            hits, total = hits + value * notes, total + notes
    return hits / total if total else math.nan


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else math.nan


def compare_form(samples: Sequence[Melody], real: Sequence[Melody],
                 seed: int = 0) -> dict[str, Any]:
    """Per-feature figures of samples and real tunes, overlaps, and the classifier test."""
    gen, ref = feature_table(samples), feature_table(real)
    rows: dict[str, dict[str, float]] = {}
    for name in FORM_FEATURES:
        rows[name] = {"samples": _mean(gen[name]), "real": _mean(ref[name]),
                      "samples_defined": int(np.isfinite(gen[name]).sum()),
                      "real_defined": int(np.isfinite(ref[name]).sum())}
    for name in ("played_bars", "pitch_range"):
        rows[name].update(samples_median=_median(gen[name]), real_median=_median(ref[name]))
    for name in OVERLAP_FEATURES:
        rows[name]["overlap"], rows[name]["kl"] = feature_overlap(gen[name], ref[name],
                                                                  seed=seed)
    # a share of all the notes; the overlap is that of the per-tune rates
    rows["out_of_key_notes"] = {"samples": pooled_rate(samples, out_of_key_rate),
                                "real": pooled_rate(real, out_of_key_rate),
                                "overlap": rows["out_of_key_rate"]["overlap"]}
    rows["written_with_repeat_signs"] = {"samples": float(np.mean([bool(m.form)
                                                                   for m in samples])),
                                         "real": float(np.mean([bool(m.form) for m in real]))}
    result: dict[str, Any] = {"samples": len(samples), "real": len(real), "rows": rows}
    names = list(FORM_FEATURES)
    if min(len(samples), len(real)) >= 5:
        test = discriminate(np.column_stack([gen[n] for n in names]),
                            np.column_stack([ref[n] for n in names]), names, seed=seed)
        result["classifier"] = {
            "accuracy": test.accuracy, "accuracy_std": test.accuracy_std,
            "per_class": test.per_class, "folds": test.folds, "repeats": test.repeats,
            "feature_accuracy": test.feature_accuracy, "weights": test.weights}
    return result


def compare_conditioned(conditioned: Sequence[Melody], corpus: Sequence[Melody]) -> dict[str, Any]:
    """Samples asked for 6/8 in D dorian: notes outside the mode against the corpus's dorian
    tunes, notes across the middle of the bar against its 6/8 tunes."""
    dorian = [m for m in corpus if m.key is not None and m.key.mode == "dorian"]
    six_eight = [m for m in corpus if m.time_signature == (6, 8)]
    return {"samples": len(conditioned), "real_dorian": len(dorian),
            "real_6/8": len(six_eight),
            "out_of_mode_notes": {"samples": pooled_rate(conditioned, out_of_key_rate),
                                  "real": pooled_rate(dorian, out_of_key_rate)},
            "half_bar_crossing_notes": {"samples": pooled_rate(conditioned,
                                                               half_bar_crossing_rate),
                                        "real": pooled_rate(six_eight, half_bar_crossing_rate)}}


def _shares(counts: Counter[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.most_common()} if total else {}


def compare_choices(samples: Sequence[Melody], train: Sequence[Melody]) -> dict[str, Any]:
    """Shares of each meter and mode the model chose, against the train split's."""
    def meter(m: Melody) -> str:
        return f"{m.time_signature[0]}/{m.time_signature[1]}"

    def mode(m: Melody) -> str:
        return m.key.mode if m.key else "no key"

    out: dict[str, Any] = {}
    for name, of in (("meter", meter), ("mode", mode)):
        gen, ref = Counter(map(of, samples)), Counter(map(of, train))
        out[name] = {"samples": _shares(gen), "train": _shares(ref),
                     "total_variation": total_variation(gen, ref)}
    return out


def goals(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured value, passed) for each goal of GOALS that could be measured."""
    rows = result["form"]["rows"]
    out = []
    final = rows["complete_final_bar"]["samples"]
    out.append((GOALS[0], f"{final:.1%}", final >= 0.95))
    gap = rows["ends_on_tonic"]["samples"] - rows["ends_on_tonic"]["real"]
    out.append((GOALS[1], f"{100 * gap:+.1f} points", abs(gap) <= 0.10))
    for goal, name in zip(GOALS[2:4], ("figure_repetition_rate", "bar_repetition_rate"),
                          strict=True):
        overlap = rows[name]["overlap"]
        out.append((goal, f"{overlap:.3f}", overlap >= 0.7))
    if "classifier" in result["form"]:
        accuracy = result["form"]["classifier"]["accuracy"]
        out.append((GOALS[4], f"{accuracy:.1%}", accuracy <= 0.70))
    return [(g, v, bool(p)) for g, v, p in out]


# (row key, label, format) for the main table; "%" prints a share as a percentage
TABLE = (("ends_on_tonic", "ends on the tonic", "%"),
         ("complete_final_bar", "complete final bar (as written)", "%"),
         ("played_bars", "bars as played: median", "median"),
         ("bars_multiple_of_4", "  bar count a multiple of 4", "%"),
         ("bars_multiple_of_8", "  bar count a multiple of 8", "%"),
         ("repeats_a_part", "repeats a part (AABB-like)", "%"),
         ("written_with_repeat_signs", "  written with repeat signs", "%"),
         ("figure_repetition_rate", "4-note figures repeated: mean", ".3f"),
         ("bar_repetition_rate", "bars repeating an earlier bar: mean", ".3f"),
         ("out_of_key_notes", "notes outside the key (of all notes)", "%"),
         ("pitch_range", "pitch range, semitones: median", "median"))


def _cell(row: dict[str, float], side: str, how: str) -> str:
    value = row.get(f"{side}_median" if how == "median" else side, math.nan)
    if math.isnan(value):
        return "-"
    return f"{value:.1%}" if how == "%" else f"{value:.3f}" if how == ".3f" else f"{value:g}"


def format_report(result: dict[str, Any]) -> str:
    """The tables and the goals, as printed."""
    form = result["form"]
    reference = result.get("reference", {"rows": {}})
    lines = [f"{'':<38} {'samples':>9} | {'real':<9} {'overlap':>7} {'(valid)':>7}",
             f"{'tunes':<38} {form['samples']:>9} | {form['real']:<9}"]
    for key, label, how in TABLE:
        row = form["rows"][key]
        overlaps = [row.get("overlap", math.nan),
                    reference["rows"].get(key, {}).get("overlap", math.nan)]
        lines.append(f"{label:<38} {_cell(row, 'samples', how):>9} | "
                     f"{_cell(row, 'real', how):<9} "
                     + " ".join(f"{'' if math.isnan(v) else f'{v:.3f}':>7}" for v in overlaps))
    lines.append("overlap: Yang & Lerch overlap of the distributions, samples against real; "
                 "(valid): the\nsame for the valid split's tunes against the test split's")
    no_key = form["samples"] - form["rows"]["ends_on_tonic"]["samples_defined"], \
        form["real"] - form["rows"]["ends_on_tonic"]["real_defined"]
    if any(no_key):
        lines.append(f"(tunes without a key, left out of the tonic and key rows: "
                     f"{no_key[0]} samples, {no_key[1]} real)")
    if "classifier" in form:
        c = form["classifier"]
        top = sorted(c["feature_accuracy"].items(), key=lambda kv: -kv[1])[:3]
        lines += ["", f"classifier (logistic regression, {c['folds']}-fold x {c['repeats']}, "
                      f"{c['per_class']} tunes a side): {c['accuracy']:.1%} "
                      f"(+- {c['accuracy_std']:.1%}); 50% = indistinguishable",
                  "  separate most, alone: " + ", ".join(f"{n} {a:.0%}" for n, a in top)]
        if "classifier" in reference:
            lines.append(f"  reference: {reference['samples']} valid tunes against the "
                         f"{reference['real']} test tunes, "
                         f"{reference['classifier']['accuracy']:.1%}")
    if "conditioned" in result:
        c = result["conditioned"]
        lines += ["", f"asked for 6/8 in D dorian ({c['samples']} samples)",
                  f"{'  notes outside the mode':<38} "
                  f"{_cell(c['out_of_mode_notes'], 'samples', '%'):>9} | "
                  f"{_cell(c['out_of_mode_notes'], 'real', '%'):<9} "
                  f"(real: {c['real_dorian']} dorian tunes)",
                  f"{'  notes across the middle of the bar':<38} "
                  f"{_cell(c['half_bar_crossing_notes'], 'samples', '%'):>9} | "
                  f"{_cell(c['half_bar_crossing_notes'], 'real', '%'):<9} "
                  f"(real: {c['real_6/8']} 6/8 tunes)"]
    if "choices" in result:
        lines += ["", "meter and mode the model picks (samples | train split), top 5:"]
        for name, c in result["choices"].items():
            top = list(c["samples"].items())[:5]
            lines.append(f"  {name:<6} " + ", ".join(
                f"{k} {v:.0%}|{c['train'].get(k, 0.0):.0%}" for k, v in top)
                + f"; total variation {c['total_variation']:.3f}")
    lines += ["", "goals:"] + [f"  {'pass' if ok else 'FAIL'}  {goal}: {value}"
                               for goal, value, ok in goals(result)]
    return "\n".join(lines)


def generate_samples(model: Any, num: int, seed: int, label: str,
                     **settings: Any) -> list[Melody]:
    """`num` samples in calls of CHUNK (chunk k drawn with seed * 1000 + k), with progress."""
    out: list[Melody] = []
    start = time.perf_counter()
    for k in range(-(-num // CHUNK)):
        out += model.generate(num=min(CHUNK, num - len(out)), seed=seed * 1000 + k, **settings)
        print(f"  {label}: {len(out)}/{num} samples, {time.perf_counter() - start:.0f} s",
              flush=True)
    return out


def _at_least(minimum: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"{what} has to be at least {minimum:g}, "
                                             f"got {text}")
        return value
    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="corpora/folk", help="a dataset written by prepare")
    parser.add_argument("--model", help="bundle or checkpoint (default: the bundled model)")
    parser.add_argument("--num", type=lambda t: int(_at_least(1, "--num")(t)), default=500,
                        help="samples at the model's settings (default 500)")
    parser.add_argument("--num-conditioned", type=lambda t: int(_at_least(0, "--num-"
                                                                          "conditioned")(t)),
                        default=200, help="samples asked for 6/8 in D dorian (0: skip)")
    parser.add_argument("--temperature", type=_at_least(0, "--temperature"), default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/form.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; prints the report, writes --out and returns what it wrote."""
    import melodyrnn as mr

    args = parse_args(argv)
    start = time.perf_counter()
    model = mr.load_model(args.model)
    print(f"model {model.path}; data {args.data}", flush=True)
    samples = generate_samples(model, args.num, args.seed, "default settings",
                               temperature=args.temperature)
    conditioned = generate_samples(model, args.num_conditioned, args.seed, "6/8 in D dorian",
                                   temperature=args.temperature, meter="6/8", key="D:dorian") \
        if args.num_conditioned else []
    train, test = mr.load_corpus(args.data, split="train"), mr.load_corpus(args.data, split="test")
    valid = mr.load_corpus(args.data, split="valid")
    corpus = train + valid + test
    print(f"  {len(test)} test tunes, {len(corpus)} in all; measuring", flush=True)
    result: dict[str, Any] = {
        "model": str(model.path), "data": str(args.data), "num": args.num,
        "temperature": args.temperature, "seed": args.seed,
        "form": compare_form(samples, test, seed=args.seed),
        "choices": compare_choices(samples, train)}
    if len(valid) >= 1 and len(test) >= 2:
        result["reference"] = compare_form(valid, test, seed=args.seed)
    if conditioned:
        result["conditioned"] = compare_conditioned(conditioned, corpus)
    result["goals"] = [{"goal": g, "value": v, "passed": ok} for g, v, ok in goals(result)]
    result["seconds"] = time.perf_counter() - start
    print()
    print(format_report(result))
    atomic_write_text(args.out, json.dumps(_clean(result), indent=2) + "\n")
    print(f"\n{result['seconds']:.0f} s; wrote {args.out}")
    return result


def _clean(value: Any) -> Any:
    """JSON-ready: NaN as null, inside dicts and lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


if __name__ == "__main__":
    main()
