"""Sampling melodies from a trained network: one batched loop, strategies as logit filters.

The loop feeds one token per step to every sequence at once and carries the recurrent state,
so a 256-token melody costs 256 single-step forwards, never a re-run of the prefix. At each
step (as in nanoGPT's sample loop):

1. take the logits of the last position, (B, V);
2. forbid what the tokenizer's grammar or the user's constraints rule out (pitch range, scale);
3. apply the strategy: divide by the temperature, keep the top-k, keep the nucleus (top-p);
4. softmax and draw (or argmax when the temperature is 0); feed the drawn token back in.

Beam search (`beam.py`) keeps, for each requested melody, the `beam` sequences of highest
log-likelihood, growing each by `branch` sampled tokens per step (Magenta's Melody RNN).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from melodyrnn.generate.beam import beam_search_ids
from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.prime import read_prefix
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.lookback import LookbackRows

# Rows sampled at once (melodies, or melodies x beams): what a batch costs is bounded by this,
# so a run of any length holds at most one batch of sequences.
BATCH_ROWS = 64


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


def draw(logits: Tensor, settings: SampleSettings, generator: torch.Generator) -> Tensor:
    """One token id per row from masked logits, by the settings' strategy."""
    if settings.temperature < 1e-4:  # the T -> 0 limit: greedy
        return logits.argmax(dim=-1)
    logits = logits / settings.temperature
    if settings.top_k is not None:
        logits = filter_top_k(logits, settings.top_k)
    if settings.top_p is not None:
        logits = filter_top_p(logits, settings.top_p)
    probs = torch.softmax(logits.float(), dim=-1)  # (B, V)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


@torch.no_grad()
def sample_ids(network: torch.nn.Module, tokenizer: Any, prefix: list[int], num: int,
               settings: SampleSettings, seed: int | None = 0,
               steps_per_bar: int = 0) -> list[list[int]]:
    """`num` token sequences that start with `prefix` (BOS ... primer), each ending in EOS."""
    # A few sequences make steps too small to share among threads: on CPU the threads would
    # mostly wait for each other (several times slower on a busy machine), so use one.
    threads = torch.get_num_threads()
    if num * settings.beam <= 16 and next(network.parameters()).device.type == "cpu":
        torch.set_num_threads(1)
    try:
        if settings.beam > 1:
            return beam_search_ids(network, tokenizer, prefix, num, settings, seed,
                                   steps_per_bar)
        return _sample(network, tokenizer, prefix, num, settings, seed, steps_per_bar)
    finally:
        torch.set_num_threads(threads)


def _sample(network: torch.nn.Module, tokenizer: Any, prefix: list[int], num: int,
            settings: SampleSettings, seed: int | None, steps_per_bar: int) -> list[list[int]]:
    device = next(network.parameters()).device
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    start_state = tokenizer.grammar_state(prefix)
    prefix_notes = sum(tokenizer.token_pitch(t) is not None for t in prefix)
    masks = Masks(tokenizer, settings, device, prefix_notes, steps_per_bar)
    masks.whole_bars_only = False  # a row that ends mid-bar finishes its bar first
    ending = [False] * num
    states = [start_state] * num
    note_counts = [prefix_notes] * num
    seqs = [list(prefix) for _ in range(num)]
    done = [False] * num
    ids = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    lookback = LookbackRows(network, tokenizer, prefix, num, device)  # features: None without
    last, state = read_prefix(network, ids, lookback.prefix)  # (B, V)
    for step in range(settings.max_tokens):
        mask, finishing = masks.for_step(step, states, note_counts, ending)  # (B, V)
        eos_ok = mask[:, tokenizer.eos_id]
        masked = last.masked_fill(~mask, -math.inf)
        chosen = draw(masked, settings, generator)  # (B,)
        for i, token in enumerate(chosen.tolist()):  # the model ends a tune mid-bar:
            if token == tokenizer.eos_id and not done[i] and not masks.whole(states[i]):
                ending[i] = True  # ... it finishes the bar first (a rest), then ends
                row = masks.for_step(step, [states[i]], [note_counts[i]], [True])[0][0]
                chosen[i] = last[i].masked_fill(~row, -math.inf).argmax()
        for i, stop in enumerate(finishing):  # end as soon as the grammar lets us
            if stop and eos_ok[i]:
                chosen[i] = tokenizer.eos_id
        for i, token in enumerate(chosen.tolist()):
            if done[i]:
                continue
            seqs[i].append(token)
            states[i] = tokenizer.advance_allowed(states[i], token)  # the mask allowed it
            note_counts[i] += tokenizer.token_pitch(token) is not None
            done[i] = token == tokenizer.eos_id
        if all(done):
            break
        # feed one token: (B, 1, V)
        logits, state = network(chosen.view(-1, 1), state, lookback.push(chosen))
        last = logits[:, -1, :]
    for seq in seqs:  # a capped sequence is closed so it still decodes cleanly
        if seq[-1] != tokenizer.eos_id:
            seq.append(tokenizer.eos_id)
    return seqs
