"""Sampling melodies from a trained network: one batched loop, strategies as logit filters.

The loop feeds one token per step to every sequence at once and carries the recurrent state,
so a 256-token melody costs 256 single-step forwards, never a re-run of the prefix. At each
step (as in nanoGPT's sample loop):

1. take the logits of the last position, (B, V);
2. forbid what the tokenizer's grammar or the user's constraints rule out (pitch range, scale,
   length; `rules.py`, tensor ops over the batch, no Python per row);
3. apply the strategy: divide by the temperature, keep the top-k, keep the nucleus (top-p);
4. softmax and draw (or argmax when the temperature is 0) with the melody's own uniform
   number for this step; advance every row's grammar state; feed the drawn token back in.

A row that ends (EOS) leaves the batch: its recurrent state, grammar state and lookback rows
are dropped, so the last forwards of a batch compute only the melodies still going, and the
results come back in the order asked for. A batch of a few rows (`rows.ROW_LOOP_ROWS`) takes
the same steps with each row's rules in Python (`rows.py`), which cost less there than tensor
ops; a seed gives the same tunes either way.

Beam search (`beam.py`) keeps, for each requested melody, the `beam` sequences of highest
log-likelihood, growing each by `branch` sampled tokens per step (Magenta's Melody RNN).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from melodyrnn.generate.beam import beam_search_ids, select_rows
from melodyrnn.generate.draw import draw
from melodyrnn.generate.lookback import BatchLookback
from melodyrnn.generate.prime import read_prefix
from melodyrnn.generate.rows import ROW_LOOP_ROWS, sample_rows
from melodyrnn.generate.rules import StepRules
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.lookback import uses_lookback

# Rows sampled at once (melodies, or melodies x beams): what a batch costs is bounded by this,
# so a run of any length holds at most one batch of sequences.
BATCH_ROWS = 64


@torch.inference_mode()
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
        if num <= ROW_LOOP_ROWS:  # a few rows: their rules in Python cost less than tensors
            return sample_rows(network, tokenizer, prefix, num, settings, seed, steps_per_bar)
        return _sample(network, tokenizer, prefix, num, settings, seed, steps_per_bar)
    finally:
        torch.set_num_threads(threads)


def _sample(network: torch.nn.Module, tokenizer: Any, prefix: list[int], num: int,
            settings: SampleSettings, seed: int | None, steps_per_bar: int) -> list[list[int]]:
    device = next(network.parameters()).device
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    prefix_notes = sum(tokenizer.token_pitch(t) is not None for t in prefix)
    rules = StepRules(tokenizer, settings, device, prefix_notes, steps_per_bar)
    eos = tokenizer.eos_id
    state = rules.grammar.from_states([tokenizer.grammar_state(prefix)]).expand(num, -1)
    notes = torch.full((num,), prefix_notes, dtype=torch.long, device=device)
    ending = torch.zeros(num, dtype=torch.bool, device=device)  # chose EOS mid-bar
    rows = torch.arange(num, device=device)  # the melody of each row still in the batch
    out = torch.full((num, settings.max_tokens), eos, dtype=torch.long, device=device)
    lengths = torch.full((num,), settings.max_tokens, dtype=torch.long, device=device)
    lookback = BatchLookback(tokenizer, rules.grammar, prefix, num, device) \
        if uses_lookback(network) else None
    ids = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    last, net_state = read_prefix(network, ids, lookback.prefix if lookback else None)  # (B, V)
    # one uniform per melody and step, melody by melody: a melody's numbers are the same
    # whatever the batch holds beside it, so its tune does not depend on the others
    randoms = torch.rand(num, settings.max_tokens, generator=generator).to(device)
    any_ending = False  # whether some row chose to end mid-bar
    for step in range(settings.max_tokens):
        mask, finishing = rules.for_step(step, state, notes, ending, any_ending)  # (B, V)
        uniforms = randoms[:, step] if len(rows) == num else randoms[rows, step]  # (B,)
        chosen = draw(last.masked_fill(~mask, -math.inf), settings, uniforms)  # (B,)
        if bool((chosen == eos).any()):  # the model ends a tune mid-bar:
            early = (chosen == eos) & ~rules.whole(state)
            if bool(early.any()):  # ... it finishes the bar first (a rest, greedily), then ends
                ending, any_ending = ending | early, True
                row_mask, _ = rules.for_step(step, state, notes, ending)
                chosen = torch.where(early, last.masked_fill(~row_mask, -math.inf).argmax(-1),
                                     chosen)
        if finishing is not None:  # end as soon as the grammar lets us
            chosen = torch.where(finishing & mask[:, eos], eos, chosen)
        if len(rows) == num:
            out[:, step] = chosen
        else:
            out[rows, step] = chosen
        state = rules.grammar.advance(state, chosen)  # the mask allowed it
        notes = notes + rules.is_pitch[chosen]
        done = chosen == eos
        if step == settings.max_tokens - 1:
            break
        if bool(done.any()):  # rows that ended leave the batch: nothing more is computed
            lengths[rows[done]] = step + 1
            keep = (~done).nonzero().squeeze(-1)
            if keep.numel() == 0:
                break
            rows, state, notes, ending, chosen = (x[keep] for x in (rows, state, notes,
                                                                    ending, chosen))
            net_state = select_rows(net_state, keep)
            if lookback is not None:
                lookback.select(keep)
        features = None if lookback is None else lookback.push(chosen, state)[:, None]
        logits, net_state = network(chosen.view(-1, 1), net_state, features)  # (B, 1, V)
        last = logits[:, -1, :]
    # a capped sequence is closed (its EOS appended) so it still decodes cleanly
    return [prefix + row[:n] + ([] if row[n - 1] == eos else [eos])
            for row, n in zip(out.tolist(), lengths.tolist(), strict=True)]
