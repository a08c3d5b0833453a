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

The counts live in sorted integer arrays, one `_Level` per context length k: each context of
length k is numbered by the number of its last k-1 symbols and its first symbol, so a key is
`id(h') * R + symbol` (R the radix, at least the alphabet size) and never overflows however
long the context; c(h, w) is found by `searchsorted` on the key `id(h) * R + w`. Scoring runs
the recursion for every position of every sequence at once, one context length at a time, and
the probability after length k is that of the order k+1 model: one pass scores every order.
Each step is the same double-precision arithmetic as the formula above, so the figures are
those of a dictionary-of-counts model to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.errors import ConfigError

Step = Callable[[], None]  # called once per context length done, e.g. a progress bar's update


@dataclass(frozen=True)
class _Level:
    """The counts of every training context of one length k, as sorted arrays."""

    context_keys: np.ndarray  # (C,) sorted keys id(h') * R + first symbol of h; [0] for k = 0
    pair_keys: np.ndarray  # (P,) sorted keys id(h) * R + w of every (h, w) seen
    pair_counts: np.ndarray  # (P,) c(h, w)
    totals: np.ndarray  # (C,) c(h)
    distinct: np.ndarray  # (C,) T(h)


@dataclass(frozen=True)
class _Positions:
    """Sequences flattened: every symbol, its index in its sequence, and the sequence starts."""

    symbols: np.ndarray  # (N,) int64
    index: np.ndarray  # (N,) int64, 0 at the first symbol of each sequence
    starts: np.ndarray  # (S + 1,) offsets of the sequences in `symbols`, then N

    @classmethod
    def of(cls, sequences: Iterable[Sequence[int] | np.ndarray]) -> _Positions:
        arrays = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        symbols = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        index = np.arange(len(symbols), dtype=np.int64) - np.repeat(starts[:-1], lengths)
        if len(symbols) and symbols.min() < 0:
            raise ConfigError(f"n-gram symbols must be token ids of at least 0, got "
                              f"{int(symbols.min())}")
        return cls(symbols, index, starts)


class NGramModel:
    """An interpolated n-gram model of a fixed `order` (1 = no context) over `alphabet_size`.

    `fit` and `update` only collect sequences; the counts are built when first needed, so
    interleaving `update` with queries recounts everything each time (`evaluate.ppm` is the
    model for online learning).
    """

    def __init__(self, order: int, alphabet_size: int) -> None:
        if order < 1:
            raise ConfigError(f"n-gram order {order} must be at least 1")
        if alphabet_size < 1:
            raise ConfigError(f"alphabet size {alphabet_size} must be at least 1")
        self.order = order
        self.alphabet_size = alphabet_size
        self._sequences: list[np.ndarray] = []
        self._levels: list[_Level] | None = None
        self._radix = alphabet_size

    def fit(self, sequences: Iterable[Sequence[int]], step: Step | None = None) -> NGramModel:
        """Count every symbol (from the second on) after each of its contexts."""
        for seq in sequences:
            self.update(seq)
        self._count(step)
        return self

    def update(self, seq: Sequence[int]) -> None:
        """Add one sequence's counts (also used for online, short-term models)."""
        self._sequences.append(np.asarray(seq, dtype=np.int64).reshape(-1))
        self._levels = None

    def prob(self, history: Sequence[int], symbol: int) -> float:
        """p(symbol | the last order-1 symbols of history)."""
        query = _Positions.of([[*history, symbol]])
        at = np.array([len(history)], dtype=np.int64)
        return float(self._probs_at(query, at, self.order)[0, -1])

    def log_prob(self, seq: Sequence[int]) -> float:
        """Natural log of p(seq[1:] | seq[0])."""
        return sum(map(math.log, self.probs([seq]).tolist()))

    def probs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """p of every symbol of every sequence from its second on, in order (flat)."""
        return self.probs_by_order(sequences)[:, -1]

    def probs_by_order(self, sequences: Sequence[Sequence[int]], order: int | None = None,
                       step: Step | None = None) -> np.ndarray:
        """(N, order) array: column o - 1 holds `probs` under the same counts at order o,
        for o up to `order` (default and at most the model's)."""
        order = self.order if order is None else order
        if not 1 <= order <= self.order:
            raise ConfigError(f"n-gram order {order} must be from 1 to the model's {self.order}")
        query = _Positions.of(sequences)
        return self._probs_at(query, np.flatnonzero(query.index >= 1), order, step)

    def _count(self, step: Step | None = None) -> list[_Level]:
        """The count arrays of every context length below the order, built once."""
        if self._levels is not None:
            return self._levels
        train = _Positions.of(self._sequences)
        if len(train.symbols):
            self._radix = max(self.alphabet_size, int(train.symbols.max()) + 1)
        radix, symbols, index = self._radix, train.symbols, train.index
        at = np.flatnonzero(index >= 1)  # every predicted position has a context of length 0
        ids = np.zeros(len(at), dtype=np.int64)
        context_keys = np.zeros(1, dtype=np.int64)
        levels = []
        for k in range(self.order):
            if k:
                keep = index[at] >= k  # positions with k symbols before them
                at = at[keep]
                context_keys, ids = np.unique(ids[keep] * radix + symbols[at - k],
                                              return_inverse=True)
                ids = ids.reshape(-1)
            pair_keys, pair_counts = np.unique(ids * radix + symbols[at], return_counts=True)
            size = len(context_keys)
            levels.append(_Level(context_keys, pair_keys, pair_counts,
                                 np.bincount(ids, minlength=size),
                                 np.bincount(pair_keys // radix, minlength=size)))
            if step is not None:
                step()
        self._levels = levels
        return levels

    def _probs_at(self, query: _Positions, at: np.ndarray, order: int,
                  step: Step | None = None) -> np.ndarray:
        """(len(at), order): p(symbols[at] | context) after each context length 0..order-1."""
        levels = self._count()
        radix, symbols, index = self._radix, query.symbols, query.index
        p = np.full(len(at), 1.0 / self.alphabet_size)
        out = np.empty((len(at), order))
        live = np.arange(len(at))  # rows whose context of the current length was seen
        ids = np.zeros(len(at), dtype=np.int64)
        for k in range(order):
            level = levels[k]
            if k:
                keep = index[at[live]] >= k
                live, ids = live[keep], ids[keep]
                first = symbols[at[live] - k]
                ids, seen = _lookup(level.context_keys, ids * radix + np.minimum(first, radix - 1))
                seen &= first < radix  # a symbol never counted: an unseen context
                live, ids = live[seen], ids[seen]
            if k == 0 and level.totals[0] == 0:
                live, ids = live[:0], ids[:0]  # nothing was counted: uniform for every order
            wanted = symbols[at[live]]
            slot, found = _lookup(level.pair_keys, ids * radix + np.minimum(wanted, radix - 1))
            count = np.where(found & (wanted < radix), level.pair_counts[slot], 0)
            total, distinct = level.totals[ids], level.distinct[ids]
            p[live] = (count + distinct * p[live]) / (total + distinct)
            out[:, k] = p
            if step is not None:
                step()
        return out


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each key sits in `sorted_keys` (clipped to a valid index), and whether it is there."""
    slot = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    found = sorted_keys[slot] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    return slot, found


def sequence_sums(values: np.ndarray, sequences: Sequence[Sequence[int]]) -> list[float]:
    """The natural log of `values` (one per predicted symbol, as `probs` gives them) summed
    per sequence, in order, as `log_prob` would give each."""
    logs = list(map(math.log, values.tolist()))
    sums, start = [], 0
    for seq in sequences:
        end = start + max(len(seq) - 1, 0)
        sums.append(sum(logs[start:end]))
        start = end
    return sums


def best_order(train: Sequence[Sequence[int]], valid: Sequence[Sequence[int]], alphabet_size: int,
               orders: Iterable[int] = range(1, 9), step: Step | None = None,
               ) -> tuple[int, dict[int, float]]:
    """The order with the lowest validation nats per symbol, and that figure for each order."""
    _, scores = fit_by_order(train, valid, alphabet_size, orders, step)
    return min(scores, key=scores.__getitem__), scores


def fit_by_order(train: Sequence[Sequence[int]], valid: Sequence[Sequence[int]],
                 alphabet_size: int, orders: Iterable[int] = range(1, 9),
                 step: Step | None = None) -> tuple[NGramModel, dict[int, float]]:
    """A model of the highest of `orders` fitted on `train`, and the validation nats per
    symbol of each order (a model of lower order shares the counts of its context lengths)."""
    orders = list(orders)
    if not orders:
        raise ConfigError("best_order needs at least one n-gram order to try")
    model = NGramModel(max(orders), alphabet_size).fit(train, step)
    by_order = model.probs_by_order(valid, step=step)
    symbols = sum(max(len(s) - 1, 0) for s in valid)
    scores = {order: -sum(sequence_sums(by_order[:, order - 1], valid)) / max(1, symbols)
              for order in orders}
    return model, scores
