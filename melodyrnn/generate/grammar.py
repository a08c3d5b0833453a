"""The tokenizers' grammar as tensors over a batch: what the sampler's step loop runs.

`Tokenizer.allowed_next` and `advance` read one `GrammarState` at a time; a sampler that called
them for each of 1000 rows at each step would spend more time there than in the network. Here
the state of every row is one row of a (B, F) integer tensor (columns: the fields of
`GrammarState`, the form's fields inlined), and a step is a fixed number of tensor ops
whatever B is:

- `allowed(state)`: the (B, V) mask of the ids that may come next. Every id belongs to one
  group (EOS, Bar, the Pitch ids, the Rest ids, each form mark, ...); the grammar's rules
  say for each row which groups are allowed, one gather spreads that over the ids, and the
  longest Rest and Pickup allowed cut those two groups by value.
- `advance(state, ids)`: the state after each row's id. Every token changes the state by a
  linear map of its fields (`step + 2`, `section_step = step`, `phase = body`), so the
  tokenizer's transitions become, per token, a small (F, F) matrix and an offset, gathered
  by id; one rule that depends on the state (a RepeatEnd outside endings starts a new part)
  is a `where` after it.

The rules are those of `tokenizers/note.py` (with its bar, meter, key and form options) and
`tokenizers/grid.py`, written a second time over tensors; tests walk both over random
sequences and require the same masks and states at every step.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodyrnn.core.form import ENDING, MAX_ENDINGS, REPEAT_END, REPEAT_START, FormState
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.errors import ConfigError
from melodyrnn.tokenizers.form import PICKUP
from melodyrnn.tokenizers.grammar import (
    BODY,
    DURATION,
    END,
    KEY,
    METERS,
    START,
    TIMESIG,
    GrammarState,
)
from melodyrnn.tokenizers.grid import GridTokenizer
from melodyrnn.tokenizers.note import NoteTokenizer

PHASES = (START, TIMESIG, KEY, BODY, DURATION, END)  # phase codes: the index here
# the columns of a state tensor
(PHASE, STEP, BARS, SPB, PITCH, ONSET, MAY_HOLD, MAY_REST, SECTION, REPEAT_OPEN, OPEN_ENDING,
 ENDING_STEP, BAR_STEP, START_STEP) = range(14)
FIELDS = 14
# the groups of ids, each allowed by one rule; an id in none (PAD) is never allowed
GROUPS = ("BOS", "TimeSig", "Key", "Duration", "EOS", "Bar", "Pitch", "Rest", "Hold",
          "RepeatStart", "RepeatEnd", "Ending_1", "Ending_2", "Ending_3", "Ending_4", "Pickup",
          "NoteOff")
_GROUP = {name: i for i, name in enumerate(GROUPS)}
NEVER = len(GROUPS)  # the group of ids never allowed
# the grammars built, by tokenizer (a tokenizer is never changed once made) and device
_BUILT: weakref.WeakKeyDictionary[Any, dict[torch.device, BatchGrammar]] = \
    weakref.WeakKeyDictionary()


def batch_grammar(tokenizer: Any, device: torch.device | str = "cpu") -> BatchGrammar:
    """The `BatchGrammar` of a tokenizer on a device, built once (its tables take a while)."""
    device = torch.device(device)
    made = _BUILT.setdefault(tokenizer, {})
    if device not in made:
        made[device] = BatchGrammar(tokenizer, device)
    return made[device]


class BatchGrammar:
    """A note or grid tokenizer's grammar over (B, F) state tensors on one device."""

    def __init__(self, tokenizer: Any, device: torch.device | str = "cpu") -> None:
        if not isinstance(tokenizer, NoteTokenizer | GridTokenizer):
            raise ConfigError(f"the {tokenizer.name!r} tokenizer has no batched grammar; "
                              "sampling knows the note and grid encodings")
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.grid = isinstance(tokenizer, GridTokenizer)
        self.bar_tokens = tokenizer.bar_tokens
        self.form = getattr(tokenizer, "form_tokens", False)
        self.longest = getattr(tokenizer, "max_duration_steps", 1)
        kinds, values = tokenizer._kinds, tokenizer._values
        groups, need = [], []
        for i, kind in enumerate(kinds):
            name = self._group_name(kind, values[i])
            groups.append(_GROUP.get(name, NEVER) if name else NEVER)
            need.append(values[i] if name in ("Rest", "Pickup") else 0)
        self.group = torch.tensor(groups, device=self.device)  # (V,) group of each id
        need_tensor = torch.tensor(need, device=self.device)  # value its group must allow
        self.needs = {name: torch.where(self.group == _GROUP[name], need_tensor, 0)
                      for name in ("Rest", "Pickup")}  # (V,) each, 0 outside the group
        self.members = {name: self.group == i for name, i in _GROUP.items()}  # (V,) each
        # the linear map of each token: new = linear @ state + offset (see the module)
        linear = np.tile(np.eye(FIELDS, dtype=np.int64), (len(kinds), 1, 1))  # (V, F, F)
        offset = np.zeros((len(kinds), FIELDS), dtype=np.int64)  # (V, F)
        for i, kind in enumerate(kinds):
            for field, (const, terms) in self._changes(kind, values[i]).items():
                linear[i, field] = 0
                for term, coefficient in terms.items():
                    linear[i, field, term] = coefficient
                offset[i, field] = const
        self.linear = torch.from_numpy(linear).to(self.device)
        self.offset = torch.from_numpy(offset).to(self.device)
        self.repeat_end = torch.tensor([k == REPEAT_END for k in kinds], device=self.device)
        # after a Pitch only a Duration may come: half the steps of the note encoding, and
        # every row at once when the batch is small, so that mask is kept whole
        self.durations = (self.group == _GROUP["Duration"])[None] if not self.grid else None

    def _group_name(self, kind: str, value: int) -> str | None:
        if kind in ("BOS", "TimeSig", "Key", "Duration", "EOS", "Bar", "Pitch", "Rest",
                    "RepeatStart", "RepeatEnd", PICKUP):
            return kind
        if kind == "Hold":  # the grid's Hold lets a step pass, as a NoteOn does
            return "Pitch" if self.grid else "Hold"
        if kind == ENDING:
            return f"{ENDING}_{value}"
        return {"NoteOn": "Pitch", "NoteOff": "NoteOff"}.get(kind)

    def _changes(self, kind: str, value: int) -> dict[int, tuple[int, dict[int, int]]]:
        """field -> (constant, {field: coefficient}) for the fields a token changes, as the
        tokenizer's `_transition` changes them; the others keep their value."""
        tok, full = self.tokenizer, int(value == self.longest)
        Change = tuple[int, dict[int, int]]
        step_on: Change = (value, {STEP: 1})  # step + value
        here: Change = (0, {STEP: 1})  # the step the token stands at
        body: Change = (PHASES.index(BODY), {})
        mark: dict[int, Change] = {MAY_HOLD: (0, {}), MAY_REST: (1, {})}  # a mark or a Bar
        if kind == "BOS":
            return {PHASE: (PHASES.index(TIMESIG if tok.meter_token else KEY if tok.key_token
                                         else BODY), {})}
        if kind == "TimeSig":
            spb = steps_per_bar(METERS[value], tok.steps_per_quarter) \
                if value < len(METERS) else 0
            return {PHASE: (PHASES.index(KEY if tok.key_token else BODY), {}), SPB: (spb, {})}
        if kind == "Key":
            return {PHASE: body}
        if kind == "EOS":
            return {PHASE: (PHASES.index(END), {})}
        if kind == "Bar":
            bar = {BARS: (1, {BARS: 1})}
            return bar if self.grid else {**bar, **mark, BAR_STEP: here}
        if self.grid:  # NoteOn, NoteOff, Hold: one step each
            one = {STEP: (1, {STEP: 1})}
            if kind == "NoteOn":
                return {**one, PITCH: (value, {}), ONSET: here}
            return {**one, PITCH: (-1, {})} if kind == "NoteOff" else one
        if kind == "Pitch":
            return {PHASE: (PHASES.index(DURATION), {}), PITCH: (value, {}), **mark}
        if kind == "Duration":
            return {PHASE: body, STEP: step_on, PITCH: (-1, {}), MAY_HOLD: (full, {})}
        if kind == "Hold":
            return {STEP: step_on, MAY_HOLD: (full, {})}
        if kind == "Rest":
            return {STEP: step_on, MAY_HOLD: (0, {}), MAY_REST: (full, {})}
        if kind == REPEAT_START:  # FormState.after
            return {**mark, SECTION: here, REPEAT_OPEN: (1, {}), OPEN_ENDING: (0, {}),
                    ENDING_STEP: (0, {})}
        if kind == REPEAT_END:  # outside endings it also starts a part: see `advance`
            return {**mark, REPEAT_OPEN: (0, {}), OPEN_ENDING: (0, {OPEN_ENDING: -1})}
        if kind == ENDING:
            return {**mark, OPEN_ENDING: (value, {}), ENDING_STEP: here}
        if kind == PICKUP:  # the body starts p steps before the first bar line
            start = (-value, {SPB: 1})
            return {STEP: start, SECTION: start, START_STEP: start, REPEAT_OPEN: (0, {}),
                    OPEN_ENDING: (0, {}), ENDING_STEP: (0, {})}
        return {}  # PAD: never allowed

    # -- states --
    def from_states(self, states: list[GrammarState]) -> Tensor:
        """(B, F) tensor of tokenizer states."""
        return torch.tensor([_row(s) for s in states], dtype=torch.long, device=self.device)

    def to_state(self, row: Tensor) -> GrammarState:
        """The tokenizer state of one row (for tests and debugging)."""
        v = [int(x) for x in row.tolist()]
        form = FormState(v[SECTION], bool(v[REPEAT_OPEN]), v[OPEN_ENDING], v[ENDING_STEP])
        return GrammarState(PHASES[v[PHASE]], v[STEP], v[BARS], v[SPB], v[PITCH], v[ONSET],
                            bool(v[MAY_HOLD]), bool(v[MAY_REST]), form, v[BAR_STEP],
                            v[START_STEP])

    def advance(self, state: Tensor, ids: Tensor) -> Tensor:
        """(B, F) states after one id per row (ids the mask allowed)."""
        new = (self.linear[ids] * state[:, None, :]).sum(-1) + self.offset[ids]  # (B, F)
        if self.form:  # a RepeatEnd outside endings starts a new part here
            fresh = self.repeat_end[ids] & (state[:, OPEN_ENDING] == 0)
            new[:, SECTION] = torch.where(fresh, state[:, STEP], new[:, SECTION])
            new[:, ENDING_STEP] = torch.where(fresh, 0, new[:, ENDING_STEP])
        return new

    # -- masks --
    def allowed(self, state: Tensor) -> tuple[Tensor, Tensor | None]:
        """(B, V) masks of the ids allowed next, and (with form tokens) (B, V) masks of the
        ids that close the form left open (`Tokenizer.form_closing_ids`), else None."""
        if self.durations is not None and \
                bool((state[:, PHASE] == PHASES.index(DURATION)).all()):
            return self.durations.expand(state.size(0), -1), None
        rules, limits, closing = self.rules(state)
        no = torch.zeros_like(rules["BOS"])
        allowed = torch.stack([rules.get(name, no) for name in GROUPS] + [no], dim=1)
        mask = allowed[:, self.group]  # (B, V): each id as its group's rule says
        for name, limit in limits.items():  # ... within the longest Rest, the longest Pickup
            mask &= self.needs[name] <= limit[:, None]
        if closing is None:
            return mask, None
        closes = torch.zeros_like(mask)
        for name, rows in closing.items():
            closes |= rows[:, None] & self.members[name]
        return mask, closes & mask

    def rules(self, state: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor],
                                            dict[str, Tensor] | None]:
        """Per group, (B,) whether its rule allows it; the limits of the Rest and Pickup
        groups; and, with form tokens, the groups that close the form."""
        phase, step, bars, spb, pitch, _, hold, rest, *_ = state.unbind(1)
        body = phase == PHASES.index(BODY)
        if self.bar_tokens:
            known = spb > 0
            per_bar = spb.clamp(min=1)
            owed = known & (bars <= step // per_bar)  # a Bar owed before the next event
            bar_ok = body & (~known | owed)
            eos = body & (~known | (bars == -(-step // per_bar)))
            longest = torch.where(known & ~owed, (spb - step % per_bar).clamp(max=self.longest),
                                  self.longest)
            free = body & ~owed  # not waiting for a Bar
        else:
            bar_ok, eos, free = torch.zeros_like(body), body, body
            longest = torch.full_like(step, self.longest)
        rules = {"BOS": phase == PHASES.index(START), "TimeSig": phase == PHASES.index(TIMESIG),
                 "Key": phase == PHASES.index(KEY), "Duration": phase == PHASES.index(DURATION),
                 "EOS": eos, "Bar": bar_ok, "Pitch": free}
        if self.grid:
            rules["NoteOff"] = free & (pitch >= 0)
            return rules, {}, None
        rules.update(Rest=free & (rest > 0), Hold=body & (hold > 0))
        if not self.form:
            return rules, {"Rest": longest}, None
        return self._form_rules(state, rules, body, longest)

    def _form_rules(self, state: Tensor, rules: dict[str, Tensor], body: Tensor,
                    longest: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor],
                                              dict[str, Tensor]]:
        """The groups with form tokens: `FormState.allows` and `may_end` per row."""
        _, step, bars, spb, _, _, _, _, section, repeat_open, ending, ending_step, bar_step, \
            _ = state.unbind(1)
        is_open = repeat_open > 0
        owes = ending < 0  # `:|` closed ending k: ending k + 1 begins here, before anything
        may_end = ~is_open & ((ending == 0) | (ending > 1))  # FormState.may_end
        for name in ("Bar", "Pitch", "Rest", "Hold"):
            rules[name] = rules[name] & ~owes
        rules["EOS"] = rules["EOS"] & may_end  # (an owed ending is no end)
        plain = body & ~owes
        marks = plain & (step != bar_step)  # marks stand before a Bar, not after it
        outside = ending == 0
        after_ending = outside | (step > ending_step)
        rules.update(
            RepeatStart=marks & ~is_open & (ending != 1) & after_ending,
            RepeatEnd=marks & (step > section) & (ending < MAX_ENDINGS) & after_ending,
            Ending_1=marks & outside & (step > section),
            # a pickup only opens the body: no step, Bar or mark before it
            Pickup=plain & (step == 0) & (bars == 0) & (section == 0) & ~is_open & outside
            & (ending_step == 0),
            **{f"{ENDING}_{n}": body & (ending == 1 - n) for n in range(2, MAX_ENDINGS + 1)})
        limits = {"Rest": longest, "Pickup": (spb - 1).clamp(min=0)}
        # the closing ids: the ending owed, else a RepeatEnd that may stand here
        unclosed = body & ~may_end
        closing = {"RepeatEnd": unclosed & ~owes,
                   **{f"{ENDING}_{n}": unclosed & owes for n in range(2, MAX_ENDINGS + 1)}}
        return rules, limits, closing


def _row(s: GrammarState) -> list[int]:
    form = s.form
    return [PHASES.index(s.phase), s.step, s.bars, s.steps_per_bar, s.pitch, s.onset_step,
            int(s.may_hold), int(s.may_rest), form.section_step, int(form.repeat_open),
            form.ending, form.ending_step, s.bar_step, s.start_step]
