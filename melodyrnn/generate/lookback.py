"""Lookback features of the rows a sampler grows, as tensors: `BatchLookback`.

The features are those of `models/lookback.py` (where the step falls in its bar, the ids that
followed a token of the same kind one and two bars earlier, and whether this token repeats
them); `LookbackTracker` reads one stream in Python, this reads a batch of rows with a fixed
number of tensor ops per token. Its table of "what followed (step, kind)" only needs the last
two bars, so it is a ring per row: slot (step mod R, kind) with R more than two of the
longest bar, tagged with the step it was written at, so a slot left from an earlier lap
reads as empty. Tests require the same features as `stream_features` on sampled rows.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from melodyrnn.core.meter import steps_per_bar
from melodyrnn.generate.grammar import SPB, STEP, BatchGrammar
from melodyrnn.models.lookback import BAR_POSITIONS, NO_POSITION, check_lookback_tokenizer
from melodyrnn.tokenizers.grammar import METERS


class BatchLookback:
    """The lookback trackers of `rows` rows that start from the same prefix."""

    def __init__(self, tokenizer: Any, grammar: BatchGrammar, prefix: list[int], rows: int,
                 device: torch.device) -> None:
        check_lookback_tokenizer(tokenizer.name, tokenizer.options())
        kinds = [token.kind for token in tokenizer.tokens]
        index = {kind: i for i, kind in enumerate(dict.fromkeys(kinds))}  # as LookbackTracker
        self.kind = torch.tensor([index[k] for k in kinds], device=device)  # (V,)
        self.kinds = len(index)
        self.pad = tokenizer.pad_id
        longest_bar = max(steps_per_bar(m, tokenizer.steps_per_quarter) for m in METERS)
        self.lap = 2 * longest_bar + 1  # ring steps: two bars back is never overwritten
        slots = self.lap * self.kinds
        self.tags = torch.full((1, slots), -1, dtype=torch.long, device=device)  # written at
        self.next = torch.full((1, slots), self.pad, dtype=torch.long, device=device)
        self.last_slot = torch.zeros(1, dtype=torch.long, device=device)
        self.started = False  # whether a position was read (it has a slot to fill)
        self.bars_back = torch.tensor([1, 2], device=device)
        self._arange = torch.arange(rows, device=device)
        self.last_step = torch.zeros(1, dtype=torch.long, device=device)
        self.predicted = torch.full((1, 2), self.pad, dtype=torch.long, device=device)
        state = grammar.from_states([tokenizer.grammar_state()])
        features = []
        for token in prefix:  # the prefix on one row, then every row starts from it
            ids = torch.tensor([token], device=device)
            state = grammar.advance(state, ids)
            features.append(self.push(ids, state))
        self.prefix = torch.stack(features, dim=1).expand(rows, -1, -1)  # (rows, T0, 5)
        for name in ("tags", "next", "last_slot", "last_step", "predicted"):
            value = getattr(self, name)
            setattr(self, name, value.expand(rows, *value.shape[1:]).clone())

    def push(self, ids: Tensor, state: Tensor) -> Tensor:
        """(B, 5) features of one new id per row; `state` (B, F): the grammar after it."""
        if self.started:  # what followed the position before: this id
            rows = self._rows(ids.size(0))
            self.next[rows, self.last_slot] = ids
            self.tags[rows, self.last_slot] = self.last_step
        self.started = True
        repeats = (ids[:, None] == self.predicted).long()  # (B, 2)
        step, spb, kind = state[:, STEP], state[:, SPB], self.kind[ids]
        back = step[:, None] - spb[:, None] * self.bars_back  # (B, 2)
        slots = back.remainder(self.lap) * self.kinds + kind[:, None]
        found = (spb[:, None] > 0) & (back >= 0) & (self.tags.gather(1, slots) == back)
        predicted = torch.where(found, self.next.gather(1, slots), self.pad)  # (B, 2)
        self.predicted = predicted
        self.last_slot = step.remainder(self.lap) * self.kinds + kind
        self.last_step = step
        position = torch.where(spb > 0, step % spb.clamp(min=1) * BAR_POSITIONS
                               // spb.clamp(min=1), NO_POSITION)
        return torch.cat([position[:, None], predicted, repeats], dim=1)

    def _rows(self, count: int) -> Tensor:
        return self._arange[:count]

    def select(self, index: Tensor) -> None:
        """Keep rows `index`, in that order (rows that ended leave the batch)."""
        for name in ("tags", "next", "last_slot", "last_step", "predicted"):
            setattr(self, name, getattr(self, name)[index])
