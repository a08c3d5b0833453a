"""Sampling melodies from a trained network: one batched loop, strategies as logit filters.

The loop feeds one token per step to every sequence at once and carries the recurrent state,
so a 256-token melody costs 256 single-step forwards, never a re-run of the prefix. At each
step (as in nanoGPT's sample loop):

1. take the logits of the last position, (B, V);
2. forbid what the tokenizer's grammar or the user's constraints rule out (pitch range, scale);
3. apply the strategy: divide by the temperature, keep the top-k, keep the nucleus (top-p);
4. softmax and draw (or argmax when the temperature is 0); feed the drawn token back in.

Beam search keeps, for each requested melody, the `beam` sequences of highest log-likelihood,
growing each by `branch` sampled tokens per step (Magenta's Melody RNN beam search).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from melodyrnn.errors import ConfigError
from melodyrnn.music import Key

MIN_FREE_NOTES = 8  # without a length, a tune may end once it has added this many notes


@dataclass
class SampleSettings:
    """What to draw and when to stop; `None` means no limit from that setting."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    notes: int | None = None       # stop after this many notes (primer included)
    bars: int | None = None        # ... or this many bars
    seconds: float | None = None   # ... or this many seconds at `qpm`
    qpm: float = 120.0
    pitch_range: tuple[int, int] | None = None
    scale: Key | None = None
    max_tokens: int = 512          # hard cap on generated tokens per melody
    beam: int = 1
    branch: int = 2

    @property
    def has_length(self) -> bool:
        """Whether a length (notes, bars or seconds) was asked for."""
        return any(x is not None for x in (self.notes, self.bars, self.seconds))

    def __post_init__(self) -> None:
        if not self.temperature >= 0 or math.isinf(self.temperature):
            raise ConfigError(f"temperature {self.temperature} must be 0 or more (0 = greedy)")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k {self.top_k} must be at least 1")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p {self.top_p} must be above 0 and at most 1")
        for name in ("notes", "bars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} {value} must be at least 1")
        if self.seconds is not None and not self.seconds > 0:
            raise ConfigError(f"seconds {self.seconds} must be above 0")
        if self.beam < 1 or self.branch < 1:
            raise ConfigError(f"beam {self.beam} and branch {self.branch} must be at least 1")


# --- strategies: small functions of the logits -------------------------------------------------

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


# --- masks: grammar and constraints ------------------------------------------------------------

class Masks:
    """Boolean masks over the vocabulary, built once and looked up per grammar state."""

    def __init__(self, tokenizer: Any, settings: SampleSettings, device: torch.device,
                 prefix_notes: int = 0, steps_per_bar: int = 0) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = device
        self.prefix_notes = prefix_notes
        self.steps_per_bar = steps_per_bar
        allowed = torch.ones(tokenizer.vocab_size, dtype=torch.bool)
        for token_id in tokenizer.pitch_token_ids:
            pitch = tokenizer.token_pitch(token_id)
            low, high = settings.pitch_range or (0, 127)
            if not low <= pitch <= high:
                allowed[token_id] = False
            if settings.scale and pitch % 12 not in settings.scale.pitch_classes:
                allowed[token_id] = False
        for name in ("TimeSig_other", "Key_none"):  # when the model picks them, pick real ones
            if name in tokenizer.token_to_id:
                allowed[tokenizer.token_to_id[name]] = False
        if not allowed[list(tokenizer.pitch_token_ids)].any():
            raise ConfigError("the pitch range and scale together leave no pitch to play")
        self.constraint = allowed
        self.pitch_ids = torch.tensor(tokenizer.pitch_token_ids, dtype=torch.long)
        # grammar masks are cached tuples inside the tokenizer, so their identity is a cheap key
        # (hashing 400-odd booleans per row and step would cost more than the network)
        self._index: dict[tuple[int, bool, bool], int] = {}
        self._rows: list[Tensor] = []
        self._keep: list[tuple[bool, ...]] = []  # holds the tuples, so their ids stay unique
        self._table = torch.zeros(0, tokenizer.vocab_size, dtype=torch.bool, device=device)

    def _build(self, grammar: tuple[bool, ...], stop: bool, end_ok: bool) -> Tensor:
        eos = self.tokenizer.eos_id
        mask = torch.tensor(grammar, dtype=torch.bool) & self.constraint
        if stop:
            without_notes = mask.clone()
            without_notes[self.pitch_ids] = False
            mask = without_notes if without_notes.any() else mask
        if not end_ok and mask.sum() > mask[eos]:
            mask[eos] = False
        if not mask.any():  # after EOS nothing is grammatical: keep feeding EOS
            mask[eos] = True
        return mask

    def for_step(self, step: int, states: list[Any],
                 note_counts: list[int]) -> tuple[Tensor, list[bool]]:
        """(B, V) masks for this step of every sequence, and which rows are finishing."""
        settings, tok = self.settings, self.tokenizer
        # near the cap, finish the note in hand so the sequence still ends grammatically
        near_cap = step >= settings.max_tokens - 8
        if settings.has_length:
            finishing = [near_cap or reached(settings, c, s, tok.steps_per_quarter,
                                             self.steps_per_bar)
                         for s, c in zip(states, note_counts, strict=True)]
            may_end = finishing
        else:  # the model ends each tune itself, once it has added a few notes
            finishing = [near_cap] * len(states)
            may_end = [near_cap or c >= self.prefix_notes + MIN_FREE_NOTES for c in note_counts]
        return self.for_states(states, finishing, may_end), finishing

    def for_states(self, states: list[Any], finishing: list[bool],
                   may_end: list[bool]) -> Tensor:
        """(B, V) masks: grammar AND constraints. A finishing row may start no new note; a row
        that may not end yet (too short) may not choose EOS; a finished row gets EOS only."""
        index = []
        for state, stop, end_ok in zip(states, finishing, may_end, strict=True):
            grammar = self.tokenizer.allowed_next(state)
            key = (id(grammar), stop, end_ok)
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = len(self._rows)
                self._rows.append(self._build(grammar, stop, end_ok))
                self._keep.append(grammar)
            index.append(i)
        if len(self._rows) != len(self._table):
            self._table = torch.stack(self._rows).to(self.device)
        return self._table[torch.tensor(index, device=self.device)]


# --- the loop ----------------------------------------------------------------------------------

def reached(settings: SampleSettings, notes: int, state: Any, steps_per_quarter: int,
            steps_per_bar: int) -> bool:
    """Whether a sequence has as many notes, bars or seconds as asked for."""
    if settings.notes is not None and notes >= settings.notes:
        return True
    spb = state.steps_per_bar or steps_per_bar
    if settings.bars is not None and spb and state.step >= settings.bars * spb:
        return True
    if settings.seconds is not None:
        return state.step * 60.0 / (settings.qpm * steps_per_quarter) >= settings.seconds
    return False


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
            from melodyrnn.beam import beam_search_ids
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
    states = [start_state] * num
    note_counts = [prefix_notes] * num
    seqs = [list(prefix) for _ in range(num)]
    done = [False] * num
    ids = torch.tensor([prefix] * num, dtype=torch.long, device=device)  # (B, T0)
    logits, state = network(ids, None)
    last = logits[:, -1, :]  # (B, V)
    for step in range(settings.max_tokens):
        mask, finishing = masks.for_step(step, states, note_counts)  # (B, V)
        eos_ok = mask[:, tokenizer.eos_id]
        masked = last.masked_fill(~mask, -math.inf)
        chosen = draw(masked, settings, generator)  # (B,)
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
        logits, state = network(chosen.view(-1, 1), state)  # feed one token: (B, 1, V)
        last = logits[:, -1, :]
    for seq in seqs:  # a capped sequence is closed so it still decodes cleanly
        if seq[-1] != tokenizer.eos_id:
            seq.append(tokenizer.eos_id)
    return seqs
