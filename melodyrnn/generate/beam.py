"""Beam search over token sequences, as in Magenta's Melody RNN.

For each requested melody, `beam` sequences are kept. Every step, each one is extended by
`branch` tokens drawn from its (temperature-scaled, masked) distribution; of the
beam x branch candidates, the `beam` with the highest log-likelihood under the model survive.
All melodies' beams run as one batch, and the recurrent state is reordered with the survivors.

The most likely continuation of a figure is often the figure again, so an unchecked beam loops
one bar for pages. A beam may therefore not play a figure of n notes (pitch and duration) more
often than real tunes do (`REPEAT_LIMITS`): the Duration that would complete it once more is
ruled out.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.prime import read_prefix
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.attention import AttentionState
from melodyrnn.models.lookback import LookbackRows
from melodyrnn.tokenizers.grammar import DURATION

# (figure length in notes, most times it may be played), as tunes are written (repeats once):
# in 600 folk training tunes the most played 4-note figure of a tune comes 6 times at the 99th
# percentile, and the most played 8-note figure 3 times at the 95th (4 at the 99th)
REPEAT_LIMITS: tuple[tuple[int, int], ...] = ((4, 6), (8, 3))


def blocked_durations(events: list[tuple[int, int]], pitch: int,
                      limits: tuple[tuple[int, int], ...] = REPEAT_LIMITS) -> set[int]:
    """Durations that would end a note of `pitch` after `events` (the notes so far, as
    (pitch, duration)) on a figure already played as often as `limits` allow."""
    blocked: set[int] = set()
    for n, most in limits:
        if len(events) < n - 1:
            continue
        head = events[len(events) - n + 1:]  # the n - 1 notes the next one would follow
        counts: dict[int, int] = {}
        for i in range(len(events) - n + 1):  # every earlier figure that starts the same way
            if events[i + n - 1][0] == pitch and events[i:i + n - 1] == head:
                d = events[i + n - 1][1]
                counts[d] = counts.get(d, 0) + 1
        blocked.update(d for d, c in counts.items() if c >= most)
    return blocked


def select_rows(state: Any, index: Tensor) -> Any:
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


def _events(tokenizer: Any, ids: list[int]) -> list[tuple[int, int]]:
    """(pitch, duration) of each note of the note encoding in `ids` (none for other encodings)."""
    events, pitch = [], -1
    for i in ids:
        kind = tokenizer._kinds[i]
        if kind == "Pitch":
            pitch = tokenizer._values[i]
        elif kind == "Duration" and pitch >= 0:
            events.append((pitch, tokenizer._values[i]))
    return events


@torch.inference_mode()
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
    events = [_events(tokenizer, prefix)] * rows  # (pitch, duration) of each note so far
    duration_id = {tokenizer._values[i]: i for i in tokenizer.kind_ids("Duration")}
    done = [False] * rows
    # only the first beam of each melody is live at the start, so beams do not duplicate
    scores = torch.tensor([0.0 if r % width == 0 else -math.inf for r in range(rows)],
                          device=device)
    lookback = LookbackRows(network, tokenizer, prefix, rows, device)  # features: None without
    last, state = read_prefix(network, torch.tensor([prefix] * rows, device=device),
                              lookback.prefix)  # (rows, V)
    for step in range(settings.max_tokens):
        mask, finishing = masks.for_step(step, states, counts)
        if duration_id:  # a Duration that would play a figure once too often is ruled out
            mask = mask.clone()
            for r, st in enumerate(states):
                if st.phase == DURATION and not done[r]:
                    for d in blocked_durations(events[r], st.pitch):
                        if d in duration_id and not finishing[r]:
                            mask[r, duration_id[d]] = False
            mask[~mask.any(dim=-1), tokenizer.eos_id] = True
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
        new_seqs, new_states, new_counts, new_done, new_events = [], [], [], [], []
        for parent, token, score in zip(parents.tolist(), chosen.tolist(), scores.tolist(),
                                        strict=True):
            seq, st, count = seqs[parent], states[parent], counts[parent]
            played = events[parent]
            if math.isinf(score):  # fewer legal candidates than beams: a dead beam, left as is
                new_seqs.append(seq)
                new_states.append(st)
                new_counts.append(count)
                new_done.append(True)
                new_events.append(played)
                continue
            if not done[parent]:
                if st.phase == DURATION and tokenizer._kinds[token] == "Duration":
                    played = [*played, (st.pitch, tokenizer._values[token])]
                seq = [*seq, token]
                st = tokenizer.advance_allowed(st, token)
                count += tokenizer.token_pitch(token) is not None
            new_seqs.append(seq)
            new_states.append(st)
            new_counts.append(count)
            new_done.append(done[parent] or token == tokenizer.eos_id)
            new_events.append(played)
        seqs, states, counts, done = new_seqs, new_states, new_counts, new_done
        events = new_events
        if all(done):
            break
        state = select_rows(state, parents)
        lookback.reorder(parents)
        logits, state = network(chosen.view(-1, 1), state, lookback.push(chosen))
        last = logits[:, -1, :]
    best_rows = [m * width for m in range(num)]  # topk keeps each melody's best beam first
    result = [seqs[r] for r in best_rows]
    for seq in result:
        if seq[-1] != tokenizer.eos_id:
            seq.append(tokenizer.eos_id)
    return result
