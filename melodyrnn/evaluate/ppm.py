"""PPM models of symbol sequences: bounded n-grams and unbounded PPM*, as in IDyOM.

Prediction by Partial Match (Cleary & Witten 1984; PPM*, Cleary & Teahan 1997) in the variants
Pearce & Wiggins (2004) compare for melody: escape methods A, B, C, D and X, interpolated
smoothing or backoff, update exclusion on or off, a fixed order bound or none. Counts live in a
context tree keyed by the reversed context, so the contexts of every length that end at a
position are one walk from the root.

For a context h of length k, c(h, s) counts s after h, n(h) = sum_s c(h, s) and T(h) is the
number of distinct symbols after h. Each context mixes its estimate with the next shorter one
h' (h without its oldest symbol), down to order 0 and the order -1 (uniform) model:

    escape   weight w(h)                          estimate of s
    A        n / (n + 1)                          c(h, s) / n
    B        (n - T) / n                          (c(h, s) - 1) / (n - T)
    C        n / (n + T)                          c(h, s) / n
    D        (n - T/2) / n                        (c(h, s) - 1/2) / (n - T/2)
    X        n / (n + T1 + 1), T1 = # seen once   c(h, s) / n

    interpolated:  p(s | h) = w(h) * estimate(s | h) + (1 - w(h)) * p(s | h')
    backoff:       p(s | h) = w(h) * estimate(s | h) if s was seen after h,
                              else (1 - w(h)) * p(s | h')

With `exclusion`, n(h) (and so w(h)) leaves out the counts of symbols already seen after the
next longer context. In backoff this is PPM's usual exclusion. In an interpolated model it is
what IDyOM's ppm-star does (those symbols keep their counts in the estimate, so the mixture is
renormalised at the end); without it, interpolation with escape C is Witten-Bell smoothing and
the mixture sums to one by itself. The order -1 model is 1/|A| ("uniform"), or IDyOM's
1 / (|A| + 1 - q) with q the number of symbols seen at order 0 ("idyom"). Every distribution
returned is normalised over the alphabet.

The first symbol of a sequence has the empty context: order 0 mixed with order -1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from melodyrnn.errors import ConfigError

ESCAPES = ("A", "B", "C", "D", "X")
SELECTIONS = ("deterministic", "longest")
ORDER_MINUS1 = ("uniform", "idyom")

# (k, d) per escape method: each count is shifted by k and the escape count T(h) divided by d
# (IDyOM's parametrisation; A's escape count is 1 and X's is T1 + 1, see _weight).
_SHIFT = {"A": (0.0, 1.0), "B": (-1.0, 1.0), "C": (0.0, 1.0), "D": (-0.5, 2.0), "X": (0.0, 1.0)}


class _Context:
    """One context: the symbols seen after it and the longer contexts that extend it."""

    __slots__ = ("counts", "longer")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.longer: dict[int, _Context] = {}  # keyed by the symbol one step further back


class PPMModel:
    """A PPM model over the symbols of `alphabet`, bounded at `order_bound` or unbounded (PPM*).

    `order_bound` is the longest context length used (2 = a trigram model); None is PPM*,
    which predicts from the shortest deterministic context (one distinct symbol seen after it)
    or, if none matches, the longest matching context (`selection="deterministic"`), or
    always from the longest matching context (`selection="longest"`). `update_exclusion`
    adds a symbol's count only in the longest context that had already seen it and in the
    longer ones where it is new (PPM's usual rule); otherwise in every context. (IDyOM's
    update-excluded counts follow a rule of their own, not reproduced here.) The defaults are
    IDyOM's long-term model: escape C, interpolated, unbounded, no update exclusion.
    """

    def __init__(self, alphabet: Iterable[int], order_bound: int | None = None,
                 escape: str = "C", interpolated: bool = True, exclusion: bool = True,
                 update_exclusion: bool = False, selection: str = "deterministic",
                 order_minus1: str = "idyom") -> None:
        self.alphabet = sorted(set(alphabet))
        if not self.alphabet:
            raise ConfigError("the alphabet is empty")
        if order_bound is not None and order_bound < 0:
            raise ConfigError(f"order bound {order_bound} must be >= 0 or None (unbounded)")
        if escape not in ESCAPES:
            raise ConfigError(f"escape method {escape!r} is not one of {', '.join(ESCAPES)}")
        if selection not in SELECTIONS:
            raise ConfigError(f"selection {selection!r} is not one of {', '.join(SELECTIONS)}")
        if order_minus1 not in ORDER_MINUS1:
            raise ConfigError(f"order_minus1 {order_minus1!r} is not one of "
                             f"{', '.join(ORDER_MINUS1)}")
        self.order_bound = order_bound
        self.escape = escape
        self.interpolated = interpolated
        self.exclusion = exclusion
        self.update_exclusion = update_exclusion
        self.selection = selection
        self.order_minus1 = order_minus1
        self._index = {symbol: i for i, symbol in enumerate(self.alphabet)}
        self._root = _Context()

    # ---- learning ---------------------------------------------------------------------------

    def fit(self, sequences: Iterable[Sequence[int]]) -> PPMModel:
        """Add every sequence's counts; returns self."""
        for seq in sequences:
            self.update(seq)
        return self

    def update(self, seq: Sequence[int]) -> None:
        """Add the counts of every symbol of one sequence, each after all its contexts."""
        for i, symbol in enumerate(seq):
            self.observe(seq[:i], symbol)

    def observe(self, history: Sequence[int], symbol: int) -> None:
        """Add one `symbol` seen after `history` (the sequence so far)."""
        if symbol not in self._index:
            raise ConfigError(f"symbol {symbol} is not in the alphabet {self.alphabet}")
        chain = self._contexts(history, create=True)
        first = 0
        if self.update_exclusion:
            # the longest context that has seen the symbol, and the longer ones (new to it)
            first = next((k for k in range(len(chain) - 1, -1, -1)
                          if symbol in chain[k].counts), 0)
        for context in chain[first:]:
            context.counts[symbol] = context.counts.get(symbol, 0) + 1

    # ---- prediction -------------------------------------------------------------------------

    def distribution(self, history: Sequence[int]) -> list[float]:
        """p(s | history) for every s in `self.alphabet`, in that order; sums to 1."""
        chain = self._contexts(history, create=False)
        top = self._select(chain)
        shift, _ = _SHIFT[self.escape]
        probs = [0.0] * len(self.alphabet)
        assigned: set[int] = set()  # symbols given mass by a longer context (backoff)
        excluded: dict[int, int] = {}  # the counts of the next longer context
        escape = 1.0
        for context in reversed(chain[:top + 1]):
            counts = context.counts
            node = sum(c + shift for s, c in counts.items()
                       if not (self.exclusion and s in excluded))
            weight = self._weight(node, counts)
            if node > 0:
                for s, c in counts.items():
                    estimate = escape * weight * (c + shift) / node
                    if self.interpolated:
                        probs[self._index[s]] += estimate
                    elif s not in assigned and estimate > 0:  # B gives c = 1 nothing: go on
                        probs[self._index[s]] = estimate
                        assigned.add(s)
            escape *= 1.0 - weight
            excluded = counts
        uniform = self._order_minus1_probability()
        for i, s in enumerate(self.alphabet):
            if self.interpolated or s not in assigned:
                probs[i] += escape * uniform
        total = sum(probs)
        return [p / total for p in probs]

    def prob(self, history: Sequence[int], symbol: int) -> float:
        """p(symbol | history)."""
        return self.distribution(history)[self._index[symbol]]

    def sequence_bits(self, seq: Sequence[int], learn: bool = False) -> list[float]:
        """-log2 p of each symbol given the ones before it; with `learn`, add each after it."""
        bits = []
        for i, symbol in enumerate(seq):
            bits.append(-math.log2(self.prob(seq[:i], symbol)))
            if learn:
                self.observe(seq[:i], symbol)
        return bits

    # ---- internals --------------------------------------------------------------------------

    def _contexts(self, history: Sequence[int], create: bool) -> list[_Context]:
        """The contexts ending the history, order 0 first, as long as the bound and counts allow."""
        longest = len(history) if self.order_bound is None else min(self.order_bound,
                                                                     len(history))
        chain = [self._root]
        for k in range(1, longest + 1):
            context = chain[-1].longer.get(history[-k])
            if context is None:
                if not create:
                    break  # never seen: nor is any longer context
                context = chain[-1].longer[history[-k]] = _Context()
            chain.append(context)
        return chain

    def _select(self, chain: list[_Context]) -> int:
        """The order of the context to predict from (PPM*: the shortest deterministic one)."""
        if self.order_bound is None and self.selection == "deterministic":
            for k in range(1, len(chain)):
                if len(chain[k].counts) == 1:
                    return k
        return len(chain) - 1

    def _weight(self, node: float, counts: dict[int, int]) -> float:
        """w(h): the share of the mixture a context keeps, from its (excluded) count `node`."""
        if self.escape == "A":
            escapes = 1.0
        elif self.escape == "X":
            escapes = sum(1 for c in counts.values() if c == 1) + 1.0
        else:
            escapes = len(counts) / _SHIFT[self.escape][1]
        return node / (node + escapes) if node + escapes > 0 else 0.0

    def _order_minus1_probability(self) -> float:
        if self.order_minus1 == "uniform":
            return 1.0 / len(self.alphabet)
        return 1.0 / (len(self.alphabet) + 1 - len(self._root.counts))


def cross_entropy(model: PPMModel, sequences: Iterable[Sequence[int]],
                  learn: bool = False) -> tuple[float, int]:
    """(total bits, symbols) of `sequences` under `model`; with `learn`, it adapts as it reads."""
    total, count = 0.0, 0
    for seq in sequences:
        bits = model.sequence_bits(seq, learn=learn)
        total += sum(bits)
        count += len(bits)
    return total, count


def combine_geometric(distributions: Sequence[Sequence[float]], bias: float) -> list[float]:
    """IDyOM's entropy-weighted geometric mean of distributions over one alphabet.

    Each distribution P_m gets the weight w_m = (H(P_m) / log2 |A|) ** -bias, so the more
    certain a model the more it counts; p(s) is proportional to prod_m P_m(s) ** (w_m / sum w).
    """
    max_entropy = math.log2(len(distributions[0]))
    weights = []
    for dist in distributions:
        entropy = -sum(p * math.log2(p) for p in dist if p > 0)
        # a floor keeps a (never quite) certain model from dividing by zero
        relative = max(entropy, 1e-12) / max_entropy if max_entropy > 0 else 1.0
        weights.append(relative ** -bias)
    total_weight = sum(weights)
    logs = [sum(w * math.log(dist[i]) for w, dist in zip(weights, distributions, strict=True))
            / total_weight for i in range(len(distributions[0]))]
    top = max(logs)  # shift before exp so tiny probabilities do not underflow to zero
    unnormalised = [math.exp(v - top) for v in logs]
    total = sum(unnormalised)
    return [p / total for p in unnormalised]
