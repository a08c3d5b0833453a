"""Sampling a few melodies at once, each row's rules in plain Python: `sample_rows`.

The tensor rules of `rules.py` cost the same few dozen tensor ops a step for 1 row or 1000,
and at one row those ops cost more than the network's forward. A batch of at most
`ROW_LOOP_ROWS` rows runs this loop instead. It takes the same steps as `sample._sample`
(the draw, a row that ends mid-bar finishing its bar, finishing rows ending as soon as they
may, finished rows leaving the batch), but each row's grammar is a `GrammarState` that the
tokenizer advances, its masks come from `Masks` (built once per grammar state and looked up),
and its lookback features from a `LookbackTracker`. The network, the uniforms and the draw
are shared, and `Masks` gives the masks of the tensor rules (the tests check both), so a seed
gives the same tunes from either loop: tests run both row for row.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from melodyrnn.generate.beam import select_rows
from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.draw import draw
from melodyrnn.generate.prime import read_prefix
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.lookback import LookbackTracker, uses_lookback

# Rows up to which a batch is sampled by this loop. Its Python costs about 10-20 microseconds
# a row and step, the tensor rules about a millisecond a step at any size: on 2 CPU cores the
# row loop took 0.6x the tensor loop's time at 1 to 8 rows and 0.9x at 32 (256 tokens each).
ROW_LOOP_ROWS = 32


def sample_rows(network: torch.nn.Module, tokenizer: Any, prefix: list[int], num: int,
                settings: SampleSettings, seed: int | None,
                steps_per_bar: int) -> list[list[int]]:
    """`num` token sequences that start with `prefix`, each ending in EOS (as `_sample`)."""
    device = next(network.parameters()).device
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    is_pitch = [tokenizer.token_pitch(t) is not None for t in range(tokenizer.vocab_size)]
    prefix_notes = sum(is_pitch[t] for t in prefix)
    masks = Masks(tokenizer, settings, device, prefix_notes, steps_per_bar)
    masks.whole_bars_only = False  # as the tensor rules: a row may choose to end mid-bar
    eos, advance = tokenizer.eos_id, tokenizer.advance_allowed
    states = [tokenizer.grammar_state(prefix)] * num
    notes, ending = [prefix_notes] * num, [False] * num
    rows = list(range(num))  # the melody of each row still in the batch
    out: list[list[int]] = [[] for _ in range(num)]
    trackers: list[LookbackTracker] | None = None
    features = None
    if uses_lookback(network):
        tracker = LookbackTracker(tokenizer)
        features = torch.tensor([[tracker.push(t) for t in prefix]] * num, device=device)
        trackers = [tracker.copy() for _ in range(num)]
    ids = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    last, net_state = read_prefix(network, ids, features)  # (B, V)
    randoms = torch.rand(num, settings.max_tokens, generator=generator).to(device)
    for step in range(settings.max_tokens):
        mask, finishing = masks.for_step(step, states, notes, ending)  # (B, V), [B]
        uniforms = randoms[:, step] if len(rows) == num else randoms[rows, step]
        chosen = draw(last.masked_fill(~mask, -math.inf), settings, uniforms).tolist()
        early = [c == eos and not masks.whole(s) for c, s in zip(chosen, states, strict=True)]
        if any(early):  # the model ends a tune mid-bar: it finishes the bar first (greedily)
            ending = [e or x for e, x in zip(ending, early, strict=True)]
            row_mask, _ = masks.for_step(step, states, notes, ending)
            rests = last.masked_fill(~row_mask, -math.inf).argmax(-1).tolist()
            chosen = [r if x else c for c, r, x in zip(chosen, rests, early, strict=True)]
        if any(finishing):  # end as soon as the grammar lets us
            eos_ok = mask[:, eos].tolist()
            chosen = [eos if f and ok else c
                      for c, f, ok in zip(chosen, finishing, eos_ok, strict=True)]
        for row, token in zip(rows, chosen, strict=True):
            out[row].append(token)
        states = [advance(s, c) for s, c in zip(states, chosen, strict=True)]
        notes = [n + is_pitch[c] for n, c in zip(notes, chosen, strict=True)]
        if step == settings.max_tokens - 1:
            break
        if eos in chosen:  # rows that ended leave the batch: nothing more is computed
            keep = [i for i, c in enumerate(chosen) if c != eos]
            if not keep:
                break
            rows, notes, chosen = ([x[i] for i in keep] for x in (rows, notes, chosen))
            states, ending = [states[i] for i in keep], [ending[i] for i in keep]
            net_state = select_rows(net_state, torch.tensor(keep, device=device))
            trackers = None if trackers is None else [trackers[i] for i in keep]
        features = None if trackers is None else torch.tensor(
            [[t.push(c)] for t, c in zip(trackers, chosen, strict=True)], device=device)
        token = torch.tensor(chosen, dtype=torch.long, device=device).view(-1, 1)
        logits, net_state = network(token, net_state, features)  # (B, 1, V)
        last = logits[:, -1, :]
    # a capped sequence is closed (its EOS appended) so it still decodes cleanly
    return [prefix + row + ([] if row[-1] == eos else [eos]) for row in out]
