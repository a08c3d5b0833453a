"""Smoothed n-gram models over token sequences: the baseline every melody model must beat.

Interpolated smoothing with escape method C (Moffat 1990; Witten-Bell), as in the n-gram
models of Pearce & Wiggins (2004) and IDyOM. For a context h of length n-1 and its shorter
context h':

    p(w | h) = (c(h, w) + T(h) * p(w | h')) / (c(h) + T(h))

where c(h, w) counts w after h in training, c(h) = sum_w c(h, w), and T(h) is the number of
distinct symbols seen after h (the escape count of method C). Unseen contexts fall through to
h'. The recursion ends in the order-0 model mixed with a uniform distribution over the
alphabet, so no symbol ever gets probability zero.

Sequences are scored from their second symbol (the first, BOS or the first note, is given).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from melodyrnn.errors import ConfigError


class NGramModel:
    """An interpolated n-gram model of a fixed `order` (1 = no context) over `alphabet_size`."""

    def __init__(self, order: int, alphabet_size: int) -> None:
        if order < 1:
            raise ConfigError(f"n-gram order {order} must be at least 1")
        if alphabet_size < 1:
            raise ConfigError(f"alphabet size {alphabet_size} must be at least 1")
        self.order = order
        self.alphabet_size = alphabet_size
        # counts[k][context of length k] -> {symbol: count}
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [
            defaultdict(lambda: defaultdict(int)) for _ in range(order)]
        self._totals: list[dict[tuple[int, ...], tuple[int, int]]] = [{} for _ in range(order)]

    def fit(self, sequences: Iterable[Sequence[int]]) -> NGramModel:
        """Count every symbol (from the second on) after each of its contexts."""
        for seq in sequences:
            self.update(seq)
        return self

    def update(self, seq: Sequence[int]) -> None:
        """Add one sequence's counts (also used for online, short-term models)."""
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
        """(c(h), T(h)) for a context, cached until it changes."""
        cached = self._totals[k].get(context)
        if cached is None:
            table = self.counts[k].get(context)
            cached = (sum(table.values()), len(table)) if table else (0, 0)
            self._totals[k][context] = cached
        return cached

    def prob(self, history: Sequence[int], symbol: int) -> float:
        """p(symbol | the last order-1 symbols of history)."""
        p = 1.0 / self.alphabet_size
        longest = min(self.order - 1, len(history))
        for k in range(longest + 1):  # from order 0 up to the longest context
            context = tuple(history[len(history) - k:]) if k else ()
            total, distinct = self._stats(k, context)
            if total == 0:
                break  # an unseen context: longer ones are unseen too
            count = self.counts[k][context].get(symbol, 0)
            p = (count + distinct * p) / (total + distinct)
        return p

    def log_prob(self, seq: Sequence[int]) -> float:
        """Natural log of p(seq[1:] | seq[0])."""
        return sum(math.log(self.prob(seq[:i], seq[i])) for i in range(1, len(seq)))


def best_order(train: Sequence[Sequence[int]], valid: Sequence[Sequence[int]], alphabet_size: int,
               orders: Iterable[int] = range(1, 9)) -> tuple[int, dict[int, float]]:
    """The order with the lowest validation nats per symbol, and that figure for each order."""
    model = NGramModel(max(orders), alphabet_size).fit(train)
    scores: dict[int, float] = {}
    symbols = sum(len(s) - 1 for s in valid)
    for order in orders:
        view = _truncated(model, order)
        scores[order] = -sum(view.log_prob(s) for s in valid) / max(1, symbols)
    return min(scores, key=scores.__getitem__), scores


def _truncated(model: NGramModel, order: int) -> NGramModel:
    """A view of a fitted model that uses contexts up to `order`-1 only (counts are shared)."""
    view = NGramModel(order, model.alphabet_size)
    view.counts = model.counts[:order]
    view._totals = model._totals[:order]
    return view
