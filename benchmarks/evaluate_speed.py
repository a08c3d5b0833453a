"""Time `melodyrnn evaluate`: the count-array n-gram against the dictionary one it replaced.

    python benchmarks/evaluate_speed.py                      # corpora/folk, the bundled model
    python benchmarks/evaluate_speed.py --data corpora/essen-kinder --model runs/kinder/version_0
    python benchmarks/evaluate_speed.py --no-command         # the n-gram and the model only

In one run, on the same splits:

- the n-gram baseline as `melodyrnn evaluate` computes it (fit orders 1-8 on train, choose the
  order on valid, score test) twice: with `melodyrnn.evaluate.likelihood.evaluate_ngram`, and
  with `ReferenceNGramModel` below, the pure-Python dictionaries of counts that evaluate used
  before. Both must agree within 0.001 bits per note (and on the order, and on every order's
  valid figure to 4 decimals), or the script exits with an error; it prints the times and
  their ratio;
- the model's scoring (`evaluate_network`, batches of 32 whole tunes) with torch's default
  oneDNN LSTM kernel and with its native one, taking turns, so the faster is known for
  evaluate's shapes (best wall and best CPU seconds: CPU seconds leave out waiting for a
  busy core);
- the whole command, `python -m melodyrnn evaluate --data DATA --json --quiet`, in a fresh
  process (start-up and reading included), unless --no-command.

Times are wall-clock seconds, the best of `--rounds`; on a machine shared with other work they
are inflated, and the ratios measured within the run are the figures to compare.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

# --- the reference: the dictionary n-gram evaluate used before (kept verbatim, for checks) ---


class ReferenceNGramModel:
    """REFERENCE ONLY: interpolated escape-C n-gram in Python dictionaries of tuples, as
    `melodyrnn.evaluate.ngram.NGramModel` was before its counts moved to sorted arrays."""

    def __init__(self, order: int, alphabet_size: int) -> None:
        self.order = order
        self.alphabet_size = alphabet_size
        # counts[k][context of length k] -> {symbol: count}
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [
            defaultdict(lambda: defaultdict(int)) for _ in range(order)]
        self._totals: list[dict[tuple[int, ...], tuple[int, int]]] = [{} for _ in range(order)]

    def fit(self, sequences: Iterable[Sequence[int]]) -> ReferenceNGramModel:
        for seq in sequences:
            self.update(seq)
        return self

    def update(self, seq: Sequence[int]) -> None:
        seq = list(seq)
        for i in range(1, len(seq)):
            symbol = seq[i]
            for k in range(self.order):
                if k > i:
                    break
                context = tuple(seq[i - k:i])
                self.counts[k][context][symbol] += 1
                self._totals[k].pop(context, None)

    def _stats(self, k: int, context: tuple[int, ...]) -> tuple[int, int]:
        cached = self._totals[k].get(context)
        if cached is None:
            table = self.counts[k].get(context)
            cached = (sum(table.values()), len(table)) if table else (0, 0)
            self._totals[k][context] = cached
        return cached

    def prob(self, history: Sequence[int], symbol: int) -> float:
        p = 1.0 / self.alphabet_size
        longest = min(self.order - 1, len(history))
        for k in range(longest + 1):
            context = tuple(history[len(history) - k:]) if k else ()
            total, distinct = self._stats(k, context)
            if total == 0:
                break
            count = self.counts[k][context].get(symbol, 0)
            p = (count + distinct * p) / (total + distinct)
        return p

    def log_prob(self, seq: Sequence[int]) -> float:
        return sum(math.log(self.prob(seq[:i], seq[i])) for i in range(1, len(seq)))


def reference_best_order(train: Sequence[Sequence[int]], valid: Sequence[Sequence[int]],
                         alphabet_size: int, orders: Iterable[int] = range(1, 9),
                         ) -> tuple[int, dict[int, float]]:
    """REFERENCE ONLY: the old `best_order` (one model of the top order, viewed per order)."""
    orders = list(orders)
    model = ReferenceNGramModel(max(orders), alphabet_size).fit(train)
    scores: dict[int, float] = {}
    symbols = sum(len(s) - 1 for s in valid)
    for order in orders:
        view = ReferenceNGramModel(order, alphabet_size)
        view.counts, view._totals = model.counts[:order], model._totals[:order]
        scores[order] = -sum(view.log_prob(s) for s in valid) / max(1, symbols)
    return min(scores, key=scores.__getitem__), scores


def reference_evaluate_ngram(train: list[list[int]], valid: list[list[int]],
                             test: list[list[int]], alphabet_size: int, pitch_ids: set[int],
                             ) -> dict[str, Any]:
    """REFERENCE ONLY: the old `evaluate_ngram` (refit at the chosen order, score test)."""
    order, by_order = reference_best_order(train, valid or train, alphabet_size)
    model = ReferenceNGramModel(order, alphabet_size).fit(train)
    total, notes = 0.0, 0
    for seq in test:
        for i in range(1, len(seq)):
            total += math.log(model.prob(seq[:i], seq[i]))
        notes += sum(t in pitch_ids for t in seq[1:])
    return {"order": order, "by_order": by_order, "log_likelihood": total,
            "bits_per_note": -total / math.log(2) / max(1, notes)}


# --- the timings ---


def best_of(rounds: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest wall-clock seconds of `rounds` calls, and the last call's result."""
    best, result = math.inf, None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def compare_ngrams(data: str, rounds: int) -> dict[str, Any]:
    """Both n-grams on the dataset's splits: their times, ratio and figures (checked equal)."""
    from melodyrnn.evaluate.likelihood import evaluate_ngram, read_sequences
    from melodyrnn.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(Path(data) / "tokenizer.json")
    pitch_ids = set(tokenizer.pitch_token_ids)
    train, valid, test = (read_sequences(data, s) for s in ("train", "valid", "test"))
    new_s, new = best_of(rounds, lambda: evaluate_ngram(train, valid, test,
                                                        tokenizer.vocab_size, pitch_ids))
    old_s, old = best_of(1, lambda: reference_evaluate_ngram(train, valid, test,
                                                             tokenizer.vocab_size, pitch_ids))
    gap = abs(new.bits_per_note - old["bits_per_note"])
    new_by_order = new.extra["valid_nats_per_token_by_order"]
    old_by_order = {str(k): round(v, 4) for k, v in old["by_order"].items()}
    if gap > 1e-3 or new.extra["order"] != old["order"] or new_by_order != old_by_order:
        sys.exit(f"the n-grams disagree: {new.to_dict()} against the reference {old}")
    return {"reference_seconds": old_s, "seconds": new_s, "ratio": old_s / new_s,
            "bits_per_note": new.bits_per_note, "reference_bits_per_note": old["bits_per_note"],
            "order": new.extra["order"], "valid_nats_per_token_by_order": new_by_order}


def time_model(data: str, model_path: str | None, rounds: int) -> dict[str, tuple[float, float]]:
    """Best wall and CPU seconds to score the split with the model, with oneDNN's LSTM and
    with torch's own, the two taking turns round by round."""
    import torch

    import melodyrnn as mr
    from melodyrnn.evaluate.likelihood import evaluate_network, read_sequences

    model = mr.load_model(model_path)
    test = read_sequences(data, "test")
    pitch_ids = set(model.tokenizer.pitch_token_ids)
    seconds = {"onednn": (math.inf, math.inf), "native": (math.inf, math.inf)}
    for _ in range(rounds):
        for name, onednn in (("onednn", True), ("native", False)):
            with torch.backends.mkldnn.flags(enabled=onednn):
                wall, cpu = time.perf_counter(), time.process_time()
                evaluate_network(model.network, test, pitch_ids, tokenizer=model.tokenizer)
                took = (time.perf_counter() - wall, time.process_time() - cpu)
            seconds[name] = (min(seconds[name][0], took[0]), min(seconds[name][1], took[1]))
    return seconds


def time_command(data: str, model_path: str | None) -> tuple[float, dict[str, Any]]:
    """Wall-clock seconds of the whole `evaluate` command in a fresh process, and its JSON."""
    cmd = [sys.executable, "-m", "melodyrnn", "evaluate", "--data", data, "--json", "--quiet"]
    if model_path:
        cmd += ["--model", model_path]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="corpora/folk", help="a dataset folder from prepare")
    parser.add_argument("--model", help="bundle or checkpoint (default: the bundled model)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs of the "
                                                              "fast sides (the reference: one)")
    parser.add_argument("--no-command", action="store_true",
                        help="skip timing the whole evaluate command")
    args = parser.parse_args()
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{args.data}, {os.cpu_count()} cores, OMP_NUM_THREADS {threads}")
    ngram = compare_ngrams(args.data, args.rounds)
    print(f"n-gram (fit 1-8, choose on valid, score test): reference "
          f"{ngram['reference_seconds']:.2f} s, count arrays {ngram['seconds']:.2f} s, "
          f"{ngram['ratio']:.1f}x faster; "
          f"{ngram['order']}-gram {ngram['bits_per_note']:.6f} bits/note against "
          f"{ngram['reference_bits_per_note']:.6f}")
    model = time_model(args.data, args.model, args.rounds)
    print("model scoring (wall, CPU s): oneDNN LSTM {:.2f}, {:.2f}; native LSTM {:.2f}, {:.2f}"
          .format(*model["onednn"], *model["native"]))
    if not args.no_command:
        seconds, figures = time_command(args.data, args.model)
        print(f"melodyrnn evaluate --data {args.data}: {seconds:.2f} s; model "
              f"{figures['model']['bits_per_note']:.3f}, baseline "
              f"{figures['baseline']['bits_per_note']:.3f} bits per note")


if __name__ == "__main__":
    main()
