"""IDyOM's short-term model (STM) of one melody, and its combination with a network.

The STM is a PPM* model (unbounded order, interpolated, escape X, exclusion and update
exclusion, IDyOM's order -1) that starts empty at each melody and learns each token right
after predicting it: `PPMModel(alphabet, order_bound=None, escape="X", interpolated=True,
exclusion=True, update_exclusion=True, selection="deterministic", order_minus1="idyom")`
fed one melody. That model builds a context tree of every suffix of every history, O(n^2)
Python objects and a list of |A| floats per position; here the same counts come from the
melody itself, with numpy:

    M[a, b] = the length of the longest common suffix of seq[:a] and seq[:b]
            = M[a - 1, b - 1] + 1 if seq[a - 1] = seq[b - 1], else 0

A context of length k ending at i has occurred at every earlier position j with M[i, j] >= k.
With update exclusion, the symbol at j was counted in the contexts of lengths f(j) .. j, where
f(j) = max{M[j, j'] : 1 <= j' < j, seq[j'] = seq[j]} (0 if none) is the longest context that had
already seen it; and a context has seen s (a key in its counts) exactly when s followed one of
its occurrences. So c_k(s) = #{1 <= j < i : seq[j] = s, f(j) <= k <= M[i, j]}, which is all the
mixture of `PPMModel.distribution` needs.

The first token (BOS) is given: it is part of every history but never predicted or learnt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from melodyrnn.errors import ConfigError


def check_bias(value: float | str) -> float:
    """The combination's bias as a float >= 0, or a ConfigError naming the value."""
    try:
        bias = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"STM bias {value!r} is not a number") from None
    if not 0 <= bias < math.inf:  # also refuses nan
        raise ConfigError(f"STM bias {value} must be a finite number >= 0")
    return bias


def stm_distributions(seq: Sequence[int], vocab_size: int) -> np.ndarray:
    """(len(seq) - 1, vocab_size): row i - 1 is the STM's p(s | seq[:i]), learning as it goes."""
    ids = np.asarray(seq, dtype=np.int64)
    n = len(ids)
    out = np.empty((max(n - 1, 0), vocab_size))
    if n < 2:
        return out
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ConfigError(f"token ids run from {ids.min()} to {ids.max()}, outside a "
                          f"vocabulary of {vocab_size}")
    # the melody's own tokens, numbered 0 .. u - 1: every count lives among them, so the
    # arrays per position are u wide, not |A|; the other tokens get the order -1 share only
    alphabet, ids = np.unique(ids, return_inverse=True)
    size = len(alphabet)
    mixture = np.empty((n - 1, size))
    shares = np.empty(n - 1)
    # row i of M, for j = 0 .. i (one row at a time: O(n) memory), and f(j) for j < i
    matches = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        same = ids[i - 1] == ids[:i]  # ids[i - 1] == ids[j - 1] for j = 1 .. i
        matches[1:i + 1] = np.where(same, matches[:i] + 1, 0)
        mixture[i - 1], shares[i - 1] = _mixture(ids[1:i], matches[1:i], first[1:i], size,
                                                 vocab_size)
        # the contexts of lengths f(i) .. i learn ids[i]: f(i) is the longest that had seen
        # it, after a learnt ids[j] = ids[i] (the given first token was never learnt)
        seen = matches[1:i][ids[1:i] == ids[i]]
        first[i] = seen.max() if len(seen) else 0
    out[:] = shares[:, None]
    out[:, alphabet] += mixture
    out /= out.sum(axis=1, keepdims=True)
    return out


def _mixture(symbols: np.ndarray, lengths: np.ndarray, first: np.ndarray, size: int,
             vocab_size: int) -> tuple[np.ndarray, float]:
    """The STM's unnormalised distribution after a history whose learnt tokens are `symbols`
    (of `size` in all), each with its context match length to the history's end and its
    f(j): the counts' part (size,), and the order -1 part that every token of the
    vocabulary gets."""
    if not len(symbols):  # nothing learnt: order 0 is empty, the order -1 model is uniform
        return np.zeros(size), 1.0 / vocab_size
    # PPM*'s context: the shortest deterministic one (one symbol seen after it) or else the
    # longest. Context k has seen s iff s followed a match of length >= k, so k is
    # deterministic iff only the best-matched symbol has a match that long.
    best = int(np.argmax(lengths))
    longest = int(lengths[best])
    others = lengths[symbols != symbols[best]]
    top = min(int(others.max()) + 1 if len(others) else 1, longest)
    counts = _counts_by_order(symbols, lengths, first, top, size)  # (top + 1, size)
    seen = counts > 0
    # exclusion: a context's total leaves out the symbols of the next longer one
    excluded = np.zeros_like(seen)
    excluded[:-1] = seen[1:]
    totals = np.where(excluded, 0, counts).sum(axis=1).astype(np.float64)
    singletons = (counts == 1).sum(axis=1)
    weights = totals / (totals + singletons + 1.0)  # escape X
    # the share that escapes to order k from the longer ones: prod over k' > k of 1 - w(k')
    left = np.cumprod((1.0 - weights)[::-1])[::-1]  # left[k] = prod over k' >= k
    reaching = np.append(left[1:], 1.0)
    scale = np.divide(reaching * weights, totals, out=np.zeros_like(totals),
                      where=totals > 0)
    # IDyOM's order -1: 1 / (|A| + 1 - the number of symbols seen at order 0)
    return scale @ counts, float(left[0]) / (vocab_size + 1 - int(seen[0].sum()))


def _counts_by_order(symbols: np.ndarray, lengths: np.ndarray, first: np.ndarray, top: int,
                     size: int) -> np.ndarray:
    """c_k(s) for k = 0 .. top: each learnt symbol counts in orders f(j) .. its match length."""
    high = np.minimum(lengths, top)
    counted = first <= high
    symbols, low, high = symbols[counted], first[counted], high[counted]
    cells = (top + 2) * size
    # +1 where a symbol's run of orders starts, -1 past its end; a sum down the orders
    changes = (np.bincount(low * size + symbols, minlength=cells)
               - np.bincount((high + 1) * size + symbols, minlength=cells))
    return np.cumsum(changes.reshape(top + 2, size), axis=0)[:top + 1]


def entropy_bits(log_probs: np.ndarray) -> np.ndarray:
    """H = -sum p log2 p of each row of natural-log distributions (..., V) -> (...)."""
    probs = np.exp(log_probs)
    terms = np.where(probs > 0, probs * log_probs, 0.0)
    return -terms.sum(axis=-1) / math.log(2)


def combine_log_probs(log_probs: Sequence[np.ndarray], bias: float,
                      entropies: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Row by row, the log of `ppm.combine_geometric` of models' (T, V) log distributions:
    weight w_m = (H(P_m) / log2 V) ** -bias, p(s) proportional to prod_m P_m(s) ** (w_m /
    sum w). `entropies` (each (T,), from `entropy_bits`) saves computing them again."""
    vocab_size = log_probs[0].shape[-1]
    max_entropy = math.log2(vocab_size)
    if entropies is None:
        entropies = [entropy_bits(lp) for lp in log_probs]
    # a floor keeps a (never quite) certain model from dividing by zero, as combine_geometric
    weights = [(np.maximum(h, 1e-12) / max_entropy) ** -bias if max_entropy > 0
               else np.ones_like(h) for h in entropies]
    total = sum(weights)
    mixed = sum((w / total)[:, None] * lp for w, lp in zip(weights, log_probs, strict=True))
    top = mixed.max(axis=-1, keepdims=True)  # shift before exp so nothing underflows
    return mixed - top - np.log(np.exp(mixed - top).sum(axis=-1, keepdims=True))


class CombinedScores:
    """Running totals of a network combined with each melody's STM, one set per bias."""

    def __init__(self, biases: Sequence[float]) -> None:
        self.biases = [check_bias(b) for b in biases]
        self.log_likelihood = [0.0] * len(self.biases)  # nats
        self.correct = [0] * len(self.biases)

    def add(self, seq: Sequence[int], log_probs: np.ndarray) -> None:
        """Add one melody: `log_probs` (len(seq) - 1, V) is the network's log p(. | seq[:i])."""
        network = np.asarray(log_probs, dtype=np.float64)
        if not len(network):
            return
        stm = np.log(stm_distributions(seq, network.shape[1]))  # order -1: never 0
        models = [network, stm]
        entropies = [entropy_bits(lp) for lp in models]
        targets = np.asarray(seq[1:], dtype=np.int64)
        positions = np.arange(len(targets))
        for b, bias in enumerate(self.biases):
            combined = combine_log_probs(models, bias, entropies)  # (T, V)
            self.log_likelihood[b] += float(combined[positions, targets].sum())
            self.correct[b] += int((combined.argmax(axis=-1) == targets).sum())
