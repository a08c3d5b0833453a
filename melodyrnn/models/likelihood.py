"""How likely token sequences are under a language model: the totals and the figures from them.

With N predicted tokens, M notes among them and L the total log-likelihood in nats:

    nats per token = -L / N,   perplexity = exp(-L / N),   bits per note = -L / ln 2 / M,

and next-token accuracy is the share of the N tokens that were the model's most likely choice.
Training logs, `MelodyModel.score` and `melodyrnn evaluate` all report these, from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# exp() of more overflows a float; a loss that high is an untrained model, not a figure to read
_MAX_EXPONENT = 700.0


class LikelihoodFigures:
    """The figures of likelihood totals; mixed into every result type that holds the totals."""

    log_likelihood: float  # nats, summed over all predicted tokens (<= 0)
    tokens: int  # predicted tokens
    notes: int  # notes among them
    correct: int  # tokens that were the model's most likely choice

    @property
    def nats_per_token(self) -> float:
        """Cross-entropy in nats per predicted token, -L / N."""
        return -self.log_likelihood / max(1, self.tokens)

    @property
    def perplexity(self) -> float:
        """exp of the nats per token."""
        return math.exp(min(self.nats_per_token, _MAX_EXPONENT))

    @property
    def bits_per_note(self) -> float:
        """-log2 p(all tokens) / number of notes: every token of a note is charged to it."""
        return -self.log_likelihood / math.log(2) / max(1, self.notes)

    @property
    def accuracy(self) -> float:
        """Share of predicted tokens that were the model's most likely choice."""
        return self.correct / max(1, self.tokens)


@dataclass(frozen=True)
class Likelihood(LikelihoodFigures):
    """Totals of scoring some token sequences; see the module docstring for the figures."""

    log_likelihood: float
    tokens: int
    notes: int
    correct: int = 0
