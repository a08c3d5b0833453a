"""The sampler's tensor rules against the per-row ones: random walks over each tokenizer's
grammar, and over every constraint, must give the same masks and states at every step."""

from __future__ import annotations

import random

import pytest
import torch

from melodyrnn.core.key import Key
from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.grammar import BatchGrammar
from melodyrnn.generate.rules import StepRules
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.tokenizers import get_tokenizer

CPU = torch.device("cpu")
TOKENIZERS = {
    "note": ("note", {}),
    "note-bars": ("note", {"bar_tokens": True, "max_duration_steps": 8}),
    "note-meter-key": ("note", {"bar_tokens": True, "meter_token": True, "key_token": True}),
    "note-form": ("note", {"pitch_range": (55, 79), "bar_tokens": True, "meter_token": True,
                           "key_token": True, "form_tokens": True}),
    "note-form-no-bars": ("note", {"meter_token": True, "form_tokens": True,
                                   "max_duration_steps": 8, "steps_per_quarter": 2}),
    "grid": ("grid", {}),
    "grid-bars": ("grid", {"bar_tokens": True, "meter_token": True, "key_token": True}),
}


def _pick(tok, allowed: list[int], rng: random.Random) -> int:
    """A kind of token first, then one of it: rare kinds (marks, Bar, EOS) come up often."""
    kinds = sorted({tok._kinds[i] for i in allowed})
    kind = rng.choice(kinds)
    return rng.choice([i for i in allowed if tok._kinds[i] == kind])


@pytest.mark.parametrize("name", TOKENIZERS)
def test_the_batched_grammar_walks_as_the_tokenizer_does(name):
    encoding, options = TOKENIZERS[name]
    tok = get_tokenizer(encoding, **options)
    grammar = BatchGrammar(tok)
    rng = random.Random(name)
    rows = 24
    states = [tok.grammar_state()] * rows
    batch = grammar.from_states(states)
    for _ in range(160):
        mask, closing = grammar.allowed(batch)
        ids = []
        for row, state in enumerate(states):
            expected = tok.allowed_next(state)
            assert mask[row].tolist() == list(expected), (name, state)
            if closing is not None:
                got = set(closing[row].nonzero().flatten().tolist())
                assert got == set(tok.form_closing_ids(state)), (name, state)
            allowed = [i for i, ok in enumerate(expected) if ok]
            ids.append(_pick(tok, allowed, rng) if allowed else tok.eos_id)
        batch = grammar.advance(batch, torch.tensor(ids))
        for row, token in enumerate(ids):
            if states[row].phase == "end":  # a finished row starts a tune again
                states[row] = tok.grammar_state()
                batch[row] = grammar.from_states([states[row]])[0]
            else:
                states[row] = tok.advance(states[row], token)
                assert grammar.to_state(batch[row]) == states[row], (name, token)


SETTINGS = {
    "free": {},
    "notes": {"notes": 9},
    "bars": {"bars": 2},
    "seconds": {"seconds": 3.0, "qpm": 100.0},
    "bars-and-notes": {"bars": 3, "notes": 5},
    "scale-and-range": {"scale": Key.parse("D:dorian"), "pitch_range": (60, 72), "bars": 2},
    "cap": {"max_tokens": 30},
    "cap-before-the-length": {"bars": 40, "max_tokens": 26},
}
PREFIXES = {  # a meter chosen by the model, one given (as `generate --meter` does), a primer
    "drawn": (["BOS"], 0),
    "6/8 in G": (["BOS", "TimeSig_6/8", "Key_G_major"], 0),
    "primer": (["BOS", "TimeSig_3/4", "Key_A_minor", "Bar", "Pitch_69", "Duration_4",
                "Pitch_71", "Duration_4"], 0),
    "unknown meter": (["BOS", "TimeSig_other", "Key_none"], 16),
}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_the_step_rules_give_the_per_row_masks(setting, prefix):
    """Every constraint: the masks and finishing rows of `StepRules` are those of `Masks`
    (as the sampler runs it, ending mid-bar allowed), rows choosing to end at random."""
    encoding, options = TOKENIZERS["note-form"]
    tok = get_tokenizer(encoding, **options)
    settings = SampleSettings(**{"max_tokens": 90, **SETTINGS[setting]})
    tokens, spb = PREFIXES[prefix]
    ids = tok.tokens_to_ids(tokens)
    notes0 = sum(tok.token_pitch(i) is not None for i in ids)
    reference = Masks(tok, settings, CPU, notes0, spb)
    reference.whole_bars_only = False
    rules = StepRules(tok, settings, CPU, notes0, spb)
    rng = random.Random(setting + prefix)
    rows = 16
    states = [tok.grammar_state(ids)] * rows
    batch = rules.grammar.from_states(states)
    notes, ending, live = [notes0] * rows, [False] * rows, [True] * rows
    for step in range(settings.max_tokens):
        ending = [e or rng.random() < 0.03 for e in ending]
        expected, finishing = reference.for_step(step, states, notes, ending)
        mask, got = rules.for_step(step, batch, torch.tensor(notes), torch.tensor(ending),
                                   any(ending))
        got_list = [False] * rows if got is None else got.tolist()
        for row in range(rows):
            if live[row]:
                assert torch.equal(mask[row], expected[row]), (setting, prefix, step, row)
                assert got_list[row] == finishing[row], (setting, prefix, step, row)
        chosen = [_pick(tok, expected[row].nonzero().flatten().tolist(), rng)
                  for row in range(rows)]
        for row, token in enumerate(chosen):
            if live[row] and tok.allowed_next(states[row])[token]:
                states[row] = tok.advance(states[row], token)
                notes[row] += tok.token_pitch(token) is not None
                live[row] = states[row].phase != "end"
            else:  # ended, or stuck at the cap (EOS appended): out of the comparison
                live[row] = False
        batch = rules.grammar.from_states(states)  # the walk's own states, row for row
