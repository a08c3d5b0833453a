"""Masks over the vocabulary: the tokenizer's grammar AND the user's constraints, per step.

Pitch range and scale are hard constraints; the grammar mask makes every sample decode cleanly.
A tune ends only where its last bar is complete: a full bar, or the bar that completes the
pickup it began with (so that it lasts whole bars). Once a length is decided
(`settings.end_target`), no note or rest may run past the end; at the end a row may start no
new note, repeat or ending, and closes the repeat or ending it has open before anything else
(the grammar allows EOS only once the form is closed); a row that may not end yet may not
choose EOS. Masks are built once per grammar state and room left, and looked up by the
state's identity.

`Masks` reads one `GrammarState` per row: beam search uses it, and it is the reference that
the sampler's tensor rules (`rules.py`) are tested against. The pitch constraints and the
steps each id moves time on are shared by both (`constraint_mask`, `time_advance`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from melodyrnn.errors import ConfigError
from melodyrnn.generate.settings import (
    CAP_MARGIN,
    MIN_FREE_NOTES,
    SampleSettings,
    bar_end,
    end_target,
)
from melodyrnn.tokenizers.grammar import DURATION

TIMED = frozenset({"Duration", "Rest", "Hold"})  # note-encoding tokens that move time on


def constraint_mask(tokenizer: Any, settings: SampleSettings) -> Tensor:
    """(V,) the ids the user's constraints leave: pitches in the range and scale, and no
    "meter or key not known" token (when the model picks them, it picks real ones)."""
    allowed = torch.ones(tokenizer.vocab_size, dtype=torch.bool)
    low, high = settings.pitch_range or (0, 127)
    for token_id in tokenizer.pitch_token_ids:
        pitch = tokenizer.token_pitch(token_id)
        if not low <= pitch <= high:
            allowed[token_id] = False
        if settings.scale and pitch % 12 not in settings.scale.pitch_classes:
            allowed[token_id] = False
    allowed[tokenizer.unknown_prefix_ids] = False
    if not allowed[list(tokenizer.pitch_token_ids)].any():
        raise ConfigError("the pitch range and scale together leave no pitch to play")
    return allowed


def time_advance(tokenizer: Any) -> Tensor:
    """(V,) steps each id moves time on (Duration, Rest, Hold of the note encoding), else 0."""
    return torch.tensor([max(tokenizer._values[i], 0) if tokenizer._kinds[i] in TIMED else 0
                         for i in range(tokenizer.vocab_size)], dtype=torch.long)


class Masks:
    """Boolean masks over the vocabulary, built once and looked up per grammar state."""

    def __init__(self, tokenizer: Any, settings: SampleSettings, device: torch.device,
                 prefix_notes: int = 0, steps_per_bar: int = 0) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = device
        self.prefix_notes = prefix_notes
        self.steps_per_bar = steps_per_bar
        self.whole_bars_only = True  # EOS only where the bar is whole (see `for_step`)
        self.constraint = constraint_mask(tokenizer, settings)
        self.pitch_ids = torch.tensor(tokenizer.pitch_token_ids, dtype=torch.long)
        self.opening_ids = torch.tensor(tokenizer.form_opening_ids, dtype=torch.long)
        self.advance = time_advance(tokenizer)
        self.rest_ids = torch.tensor(tokenizer.kind_ids("Rest"), dtype=torch.long)
        self.longest = int(self.advance.max())
        # grammar masks are cached tuples inside the tokenizer, so their identity is a cheap key
        # (hashing 400-odd booleans per row and step would cost more than the network)
        self._index: dict[tuple[int, bool, bool, int], int] = {}
        self._rows: list[Tensor] = []
        self._keep: list[tuple[bool, ...]] = []  # holds the tuples, so their ids stay unique
        self._table = torch.zeros(0, tokenizer.vocab_size, dtype=torch.bool, device=device)

    def _build(self, grammar: tuple[bool, ...], stop: bool, end_ok: bool, room: int,
               state: Any) -> Tensor:
        eos = self.tokenizer.eos_id
        mask = torch.tensor(grammar, dtype=torch.bool) & self.constraint
        if room >= 0:  # nothing may sound or rest past the end
            mask &= self.advance <= room
            if stop:  # only rests are left: the longest allowed, so no short one strands it
                rests = self.rest_ids[mask[self.rest_ids]]
                if len(rests) > 1:
                    mask[rests[self.advance[rests] < self.advance[rests].max()]] = False
        if stop:
            without_notes = mask.clone()
            without_notes[self.pitch_ids] = False
            without_notes[self.opening_ids] = False
            mask = without_notes if without_notes.any() else mask
            # an open repeat or ending would forbid EOS for good: close it first (the
            # tokenizer's closing ids follow from its grammar mask, so the cache key holds)
            closing = list(self.tokenizer.form_closing_ids(state))
            if closing:
                mask = torch.zeros_like(mask)
                mask[closing] = True
        if not end_ok and mask.sum() > mask[eos]:
            mask[eos] = False
        if not mask.any():  # after EOS nothing is grammatical: keep feeding EOS
            mask[eos] = True
        return mask

    def for_step(self, step: int, states: list[Any], note_counts: list[int],
                 ending: list[bool] | None = None) -> tuple[Tensor, list[bool]]:
        """(B, V) masks for this step of every sequence, and which rows are finishing.

        Without a length, a row may end once its bar is whole; with `whole_bars_only` False
        it may choose EOS earlier too, and the sampler then marks it `ending`: it finishes
        its bar (no new notes, a rest to the bar's end) before the EOS it chose."""
        settings, tok = self.settings, self.tokenizer
        # near the cap, finish the note in hand so the sequence still ends grammatically
        near_cap = step >= settings.max_tokens - CAP_MARGIN
        last_chance = step >= settings.max_tokens - 4  # ... or at least end grammatically
        finishing, may_end, rooms = [], [], []
        enough = self.prefix_notes + MIN_FREE_NOTES
        ending = ending or [False] * len(states)
        for s, c, chose_end in zip(states, note_counts, ending, strict=True):
            target = end_target(settings, c, s, tok.steps_per_quarter, self.steps_per_bar) \
                if settings.has_length else None
            if chose_end:  # the model chose to end mid-bar: finish the bar
                here = bar_end(s, self.steps_per_bar)
                target = here if target is None else min(target, here)
            if near_cap:  # the cap is near: complete the bar in hand, whatever was asked
                here = bar_end(s, self.steps_per_bar)
                target = here if target is None else min(target, here)
            if target is not None:  # the length is decided: run to the target, then end
                room = max(target - s.step, 0)
                notes_done = settings.notes is not None and c >= settings.notes
                finishing.append(near_cap or notes_done or chose_end or room == 0)
                may_end.append(room == 0 or last_chance)
                rooms.append(room)
            else:  # no length asked for: the model ends the tune, once it has added a few notes
                # (and, unless the sampler finishes the bar for it, where its bar is complete);
                # with --notes, not before they are all there
                finishing.append(False)
                may_end.append(not settings.has_length and c >= enough
                               and (not self.whole_bars_only or self.whole(s)))
                rooms.append(-1)
        return self.for_states(states, finishing, may_end, rooms), finishing

    def whole(self, state: Any) -> bool:
        """Whether the tune may end here, its last bar complete (`settings.complete_bar`),
        inlined, as it runs for every row at every step."""
        spb = state.steps_per_bar or self.steps_per_bar
        if not spb:
            return True
        step = state.step
        return step > state.start_step and state.phase != DURATION and \
            (step % spb == 0 or (step - state.start_step) % spb == 0)

    def for_states(self, states: list[Any], finishing: list[bool], may_end: list[bool],
                   rooms: list[int] | None = None) -> Tensor:
        """(B, V) masks: grammar AND constraints. A finishing row may start no new note; a row
        that may not end yet (too short, or its last bar not whole) may not choose EOS; a row
        with `room` steps left (-1: no limit) may not sound or rest past them; a finished row
        gets EOS only."""
        index = []
        rooms = rooms if rooms is not None else [-1] * len(states)
        for state, stop, end_ok, room in zip(states, finishing, may_end, rooms, strict=True):
            grammar = self.tokenizer.allowed_next(state)
            room = -1 if room >= self.longest and not stop else room  # room for anything
            key = (id(grammar), stop, end_ok, room)
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = len(self._rows)
                self._rows.append(self._build(grammar, stop, end_ok, room, state))
                self._keep.append(grammar)
            index.append(i)
        if len(self._rows) != len(self._table):
            self._table = torch.stack(self._rows).to(self.device)
        return self._table[torch.tensor(index, device=self.device)]
