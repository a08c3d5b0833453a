"""Beam search over token sequences, as in Magenta's Melody RNN.

For each requested melody, `beam` sequences are kept. Every step, each one is extended by
`branch` tokens drawn from its (temperature-scaled, masked) distribution; of the
beam x branch candidates, the `beam` with the highest log-likelihood under the model survive.
All melodies' beams run as one batch, and the recurrent state is reordered with the survivors.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.attention import AttentionState
from melodyrnn.models.lookback import LookbackRows


def _reorder(state: Any, index: Tensor) -> Any:
    """Pick batch rows of a recurrent state ((h, c) for an LSTM, h otherwise): (L, B, H);
    with attention an `AttentionState`, its window of past outputs too."""
    if isinstance(state, AttentionState):
        return state.index_select(index)
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _candidates(logp: Tensor, settings: SampleSettings, generator: torch.Generator) -> Tensor:
    """(B, branch) distinct token ids per row: drawn with temperature, or the best when T=0."""
    branch = settings.branch
    if settings.temperature < 1e-4:
        return torch.topk(logp, branch, dim=-1).indices
    probs = torch.softmax(logp / settings.temperature, dim=-1).cpu()
    drawn = torch.multinomial(probs, branch, replacement=False, generator=generator) \
        if int((probs > 0).sum(dim=-1).min()) >= branch else \
        torch.multinomial(probs, branch, replacement=True, generator=generator)
    return drawn.to(logp.device)


@torch.no_grad()
def beam_search_ids(network: torch.nn.Module, tokenizer: Any, prefix: list[int], num: int,
                    settings: SampleSettings, seed: int | None = 0,
                    steps_per_bar: int = 0) -> list[list[int]]:
    """The most likely sequence found for each of `num` melodies, each ending in EOS."""
    width, branch = settings.beam, settings.branch
    rows = num * width
    device = next(network.parameters()).device
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    states = [tokenizer.grammar_state(prefix)] * rows
    prefix_notes = sum(tokenizer.token_pitch(t) is not None for t in prefix)
    masks = Masks(tokenizer, settings, device, prefix_notes, steps_per_bar)
    counts = [prefix_notes] * rows
    seqs = [list(prefix) for _ in range(rows)]
    done = [False] * rows
    # only the first beam of each melody is live at the start, so beams do not duplicate
    scores = torch.tensor([0.0 if r % width == 0 else -math.inf for r in range(rows)],
                          device=device)
    lookback = LookbackRows(network, tokenizer, prefix, rows, device)  # features: None without
    logits, state = network(torch.tensor([prefix] * rows, device=device), None, lookback.prefix)
    last = logits[:, -1, :]  # (rows, V)
    for step in range(settings.max_tokens):
        mask, finishing = masks.for_step(step, states, counts)
        logp = torch.log_softmax(last.float().masked_fill(~mask, -math.inf), dim=-1)
        tokens = _candidates(logp, settings, generator)  # (rows, branch)
        cand = scores[:, None] + logp.gather(1, tokens)  # (rows, branch)
        for r in range(rows):
            if done[r]:  # a finished beam survives as itself, once
                tokens[r] = tokenizer.eos_id
                cand[r] = -math.inf
                cand[r, 0] = scores[r]
            elif finishing[r] and mask[r, tokenizer.eos_id]:
                tokens[r] = tokenizer.eos_id
                cand[r] = -math.inf
                cand[r, 0] = scores[r] + logp[r, tokenizer.eos_id]
        best = cand.view(num, width * branch).topk(width, dim=-1).indices  # (num, width)
        parents = (best // branch + torch.arange(num, device=device)[:, None] * width).view(-1)
        chosen = tokens.view(num, width * branch).gather(1, best).view(-1)
        scores = cand.view(num, width * branch).gather(1, best).view(-1)
        new_seqs, new_states, new_counts, new_done = [], [], [], []
        for parent, token, score in zip(parents.tolist(), chosen.tolist(), scores.tolist(),
                                        strict=True):
            seq, st, count = seqs[parent], states[parent], counts[parent]
            if math.isinf(score):  # fewer legal candidates than beams: a dead beam, left as is
                new_seqs.append(seq)
                new_states.append(st)
                new_counts.append(count)
                new_done.append(True)
                continue
            if not done[parent]:
                seq = [*seq, token]
                st = tokenizer.advance_allowed(st, token)
                count += tokenizer.token_pitch(token) is not None
            new_seqs.append(seq)
            new_states.append(st)
            new_counts.append(count)
            new_done.append(done[parent] or token == tokenizer.eos_id)
        seqs, states, counts, done = new_seqs, new_states, new_counts, new_done
        if all(done):
            break
        state = _reorder(state, parents)
        lookback.reorder(parents)
        logits, state = network(chosen.view(-1, 1), state, lookback.push(chosen))
        last = logits[:, -1, :]
    best_rows = [m * width for m in range(num)]  # topk keeps each melody's best beam first
    result = [seqs[r] for r in best_rows]
    for seq in result:
        if seq[-1] != tokenizer.eos_id:
            seq.append(tokenizer.eos_id)
    return result
