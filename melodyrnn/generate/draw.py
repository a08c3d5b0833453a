"""The strategies of a sampler's draw, as filters over masked logits (B, V), and the draw.

Temperature divides the logits (0: greedy), top-k keeps the k largest, top-p (nucleus) keeps
the smallest set of most likely tokens whose probability sums to p; the draw inverts each
row's cumulative distribution at a uniform number the caller gives it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from melodyrnn.generate.settings import SampleSettings


def filter_top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row, -inf elsewhere."""
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, -math.inf)


def filter_top_p(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probability sums to at least p."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    drop = cumulative - torch.softmax(sorted_logits, dim=-1) >= p  # mass before this token
    sorted_logits = sorted_logits.masked_fill(drop, -math.inf)
    return torch.full_like(logits, -math.inf).scatter(-1, order, sorted_logits)


def draw(logits: Tensor, settings: SampleSettings, uniforms: Tensor) -> Tensor:
    """One token id per row from masked logits (B, V), by the settings' strategy, with one
    uniform number in [0, 1) per row (B,) for the draw.

    The draw inverts each row's cumulative distribution at its uniform: the first id whose
    cumulative probability exceeds it. That is the distribution `torch.multinomial` draws
    from, at a tenth of its cost for a (1000, 425) batch, and it needs one random number a
    row, which the caller can give each melody from its own stream."""
    if settings.temperature < 1e-4:  # the T -> 0 limit: greedy
        return logits.argmax(dim=-1)
    logits = logits / settings.temperature
    if settings.top_k is not None:
        logits = filter_top_k(logits, settings.top_k)
    if settings.top_p is not None:
        logits = filter_top_p(logits, settings.top_p)
    probs = torch.softmax(logits.float(), dim=-1)  # (B, V)
    cumulative = probs.cumsum(dim=-1)  # (B, V), non-decreasing
    total = cumulative[:, -1:]
    # u * total may round up to total itself; just below it the last possible id is drawn
    point = torch.minimum(uniforms.to(total)[:, None] * total,
                          torch.nextafter(total, torch.zeros_like(total)))
    # cumulative[i - 1] <= point < cumulative[i]: id i has probability above 0
    return torch.searchsorted(cumulative, point, right=True).squeeze(-1)
