"""The sampler's rules of a step over a batch, as tensors: the grammar AND the user's
constraints, the length asked for, and where a tune may end.

The same rules as `constraints.Masks` (which beam search reads per row), with
`whole_bars_only` off as the sampler runs it: a row that may end chooses EOS where it likes,
and one that chooses it mid-bar is marked `ending` and finishes its bar (no new note, a rest
to the bar's end) first. Once a row's length is decided (`settings.end_target`), nothing
sounds or rests past its end; at the end it starts no new note, repeat or ending and closes
the form it has open; a row that may not end yet may not choose EOS. Every rule is a few
tensor ops over the batch, so a step costs the same ops for 1 row or 1000.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from melodyrnn.generate.constraints import constraint_mask, time_advance
from melodyrnn.generate.grammar import PHASE, PHASES, SPB, START_STEP, STEP, batch_grammar
from melodyrnn.generate.settings import CAP_MARGIN, MIN_FREE_NOTES, SampleSettings
from melodyrnn.tokenizers.grammar import DURATION

NO_TARGET = 2**62  # the end step of a row whose length is not decided yet


class StepRules:
    """Masks over the vocabulary for every row of a step, and which rows are finishing."""

    def __init__(self, tokenizer: Any, settings: SampleSettings, device: torch.device,
                 prefix_notes: int = 0, steps_per_bar: int = 0) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.grammar = batch_grammar(tokenizer, device)
        self.steps_per_bar = steps_per_bar
        self.enough = prefix_notes + MIN_FREE_NOTES  # notes before a free tune may end
        self.eos = tokenizer.eos_id
        self.constraint = constraint_mask(tokenizer, settings).to(device)  # (V,)
        self.advance = time_advance(tokenizer).to(device)  # (V,)
        self.is_rest = torch.tensor([k == "Rest" for k in tokenizer._kinds], device=device)
        starts = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
        starts[list(tokenizer.pitch_token_ids) + list(tokenizer.form_opening_ids)] = True
        self.starts = starts.to(device)  # (V,) what a finishing row may not begin
        self.is_pitch = torch.zeros(tokenizer.vocab_size, dtype=torch.long, device=device)
        self.is_pitch[list(tokenizer.pitch_token_ids)] = 1

    def for_step(self, step: int, state: Tensor, notes: Tensor, ending: Tensor,
                 any_ending: bool = True) -> tuple[Tensor, Tensor | None]:
        """(B, V) masks of this step for rows in `state` (B, F) with `notes` (B,) notes so far,
        `ending` (B,) those that chose to end mid-bar (`any_ending`: whether any did); and
        (B,) which rows are finishing, None when none can be."""
        settings = self.settings
        # near the cap, finish the note in hand so the sequence still ends grammatically
        near_cap = step >= settings.max_tokens - CAP_MARGIN
        last_chance = step >= settings.max_tokens - 4  # ... or at least end grammatically
        if not (settings.has_length or near_cap or any_ending):  # no row has an end yet
            return self.masks(state, None, notes >= self.enough, None), None
        target = self._target(state, notes)
        if near_cap or any_ending:
            here = self.bar_end(state)
            target = torch.minimum(target, here) if near_cap else \
                torch.where(ending, torch.minimum(target, here), target)
        decided = target < NO_TARGET
        room = torch.where(decided, (target - state[:, STEP]).clamp(min=0), NO_TARGET)
        finishing = decided & (ending | (room == 0))
        if near_cap:
            finishing = decided
        elif settings.notes is not None:
            finishing |= decided & (notes >= settings.notes)
        free = ~decided & (notes >= self.enough) if not settings.has_length else None
        may_end = decided if last_chance else room == 0
        if free is not None:
            may_end = may_end | free
        return self.masks(state, finishing, may_end, room), finishing

    def masks(self, state: Tensor, finishing: Tensor | None, may_end: Tensor,
              room: Tensor | None) -> Tensor:
        """(B, V) masks: grammar AND constraints. A `finishing` row may start no new note and
        closes its form first; a row that may not end may not choose EOS (unless nothing else
        is left); a row with `room` steps left may not sound or rest past them (NO_TARGET:
        no limit)."""
        mask, closing = self.grammar.allowed(state)
        mask = mask & self.constraint
        if room is not None:
            mask &= self.advance <= room[:, None]
        if finishing is not None and bool(finishing.any()):
            mask = self._finish(mask, closing, finishing)
        eos = mask[:, self.eos]
        count = mask.sum(-1)
        mask[:, self.eos] = eos & (may_end | (count == 1)) | (count == 0)  # after EOS: EOS
        return mask

    def _finish(self, mask: Tensor, closing: Tensor | None, finishing: Tensor) -> Tensor:
        """The masks of finishing rows: only rests left, the longest allowed (so no short
        one strands the row); no new note, repeat or ending; an open form closed first."""
        rests = torch.where(mask & self.is_rest, self.advance, -1)  # (B, V)
        mask &= ~(finishing[:, None] & self.is_rest &
                  (self.advance < rests.amax(-1, keepdim=True)))
        without = mask & ~self.starts
        mask = torch.where((finishing & without.any(-1))[:, None], without, mask)
        if closing is not None:  # an open repeat or ending would forbid EOS for good
            mask = torch.where((finishing & closing.any(-1))[:, None], closing, mask)
        return mask

    def whole(self, state: Tensor) -> Tensor:
        """(B,) whether each row may end here, its last bar complete (`complete_bar`)."""
        spb = self._spb(state)
        step, start = state[:, STEP], state[:, START_STEP]
        per_bar = spb.clamp(min=1)
        on_bar = (step % per_bar == 0) | ((step - start) % per_bar == 0)
        return (spb == 0) | (step > start) & (state[:, PHASE] != PHASES.index(DURATION)) \
            & on_bar

    def bar_end(self, state: Tensor) -> Tensor:
        """(B,) where the bar each row stands in is complete, after the note in hand
        (`settings.bar_end`)."""
        waiting = (state[:, PHASE] == PHASES.index(DURATION)).long()
        return _complete_bar(state[:, STEP] + waiting, state[:, START_STEP], self._spb(state))

    def _spb(self, state: Tensor) -> Tensor:
        return torch.where(state[:, SPB] > 0, state[:, SPB], self.steps_per_bar)

    def _target(self, state: Tensor, notes: Tensor) -> Tensor:
        """(B,) the step each row is to end at (`settings.end_target`), NO_TARGET if free."""
        settings, spq = self.settings, self.tokenizer.steps_per_quarter
        start, spb = state[:, START_STEP], self._spb(state)
        if settings.bars is not None:
            return start + settings.bars * torch.where(spb > 0, spb, 4 * spq)
        if settings.seconds is not None:
            steps = math.ceil(settings.seconds * settings.qpm * spq / 60.0 - 1e-9)
            return _complete_bar(torch.full_like(start, max(steps, 1)), start, spb)
        if settings.notes is not None:
            return torch.where(notes >= settings.notes, self.bar_end(state), NO_TARGET)
        return torch.full_like(start, NO_TARGET)


def _complete_bar(step: Tensor, start: Tensor, spb: Tensor) -> Tensor:
    """`settings.complete_bar` per row: the first step at or after `step` where a tune
    begun at `start` may end; `step` itself where the bar length is not known (0)."""
    per_bar = spb.clamp(min=1)
    at = torch.maximum(step, start + 1)
    on_line = -(-at // per_bar) * per_bar
    completing = start + -(-(at - start) // per_bar) * per_bar
    return torch.where(spb > 0, torch.minimum(on_line, completing), step)
