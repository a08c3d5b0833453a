"""Constraint masks with form tokens: a length limit closes an open repeat or ending first, so
sampling and beam search end with well-formed form (an untrained network, no training)."""

from __future__ import annotations

import pytest
import torch

from melodyrnn.generate.constraints import Masks
from melodyrnn.generate.model import MelodyModel
from melodyrnn.generate.sample import sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.tokenizers import get_tokenizer


@pytest.fixture(scope="module")
def form_tokenizer():
    return get_tokenizer("note", pitch_range=(55, 79), bar_tokens=True, meter_token=True,
                         key_token=True, form_tokens=True)


@pytest.fixture(scope="module")
def form_model(form_tokenizer, tmp_path_factory):
    """An untrained tiny LSTM that likes to open repeats and endings and never closes them."""
    tok = form_tokenizer
    torch.manual_seed(0)
    network = MelodyLSTM(tok.vocab_size, embedding_dim=8, hidden_size=16, num_layers=1,
                         dropout=0.0)
    with torch.no_grad():
        network.decoder.bias[list(tok.form_opening_ids)] = 6.0
        network.decoder.bias[tok.tokens_to_ids(["RepeatEnd"])] = -30.0
    return MelodyModel(network, tok, {}, tmp_path_factory.mktemp("untrained"))


def mask_names(tok, masks: Masks, tokens: list[str]) -> set[str]:
    state = tok.grammar_state(tok.tokens_to_ids(tokens))
    row = masks.for_step(0, [state], [1])[0][0]
    return {tok.vocab[i] for i in row.nonzero().flatten().tolist()}


def test_a_finishing_row_closes_its_form_and_opens_none(form_tokenizer):
    tok = form_tokenizer
    masks = Masks(tok, SampleSettings(bars=1), torch.device("cpu"))
    bar = ["BOS", "TimeSig_4/4", "Key_C_major", "Bar", "Pitch_60", "Duration_16"]
    assert mask_names(tok, masks, bar) >= {"EOS"}
    assert not {"RepeatStart", "Ending_1"} & mask_names(tok, masks, bar)
    opened = ["BOS", "TimeSig_4/4", "Key_C_major", "RepeatStart", "Bar", "Pitch_60", "Duration_8",
              "Ending_1", "Pitch_62", "Duration_8"]
    assert mask_names(tok, masks, opened) == {"RepeatEnd"}
    assert mask_names(tok, masks, [*opened, "RepeatEnd"]) == {"Ending_2"}
    assert "EOS" in mask_names(tok, masks, [*opened, "RepeatEnd", "Ending_2"])
    # a repeat opened at this very step needs time before its RepeatEnd: no deadlock
    just_opened = [*bar, "RepeatStart"]
    left = mask_names(tok, masks, just_opened)
    assert "Bar" in left and not left & {"EOS", "RepeatEnd", "Ending_1", "Pitch_60"}


def check_well_formed(tok, seqs: list[list[int]]) -> list:
    melodies = []
    for ids in seqs:
        assert tok.grammar_state(ids).phase == "end", tok.ids_to_tokens(ids)  # each allowed
        melody, errors = tok.decode(ids, return_errors=True)  # Melody checks its form
        assert errors == 0
        assert tok.encode(melody) == ids
        melodies.append(melody)
    return melodies


@pytest.mark.parametrize("length", [{"bars": 4}, {"notes": 12}, {"seconds": 5.0}, {}],
                         ids=["bars", "notes", "seconds", "free"])
@pytest.mark.parametrize("temperature", [1.0, 0.0], ids=["sampled", "greedy"])
def test_sampling_with_form_tokens_writes_well_formed_form(form_model, length, temperature):
    tok = form_model.tokenizer
    settings = SampleSettings(temperature=temperature, max_tokens=200, **length)
    seqs = sample_ids(form_model.network, tok, [tok.bos_id], 6, settings, seed=1)
    melodies = check_well_formed(tok, seqs)
    assert any(m.form for m in melodies)
    for m in melodies:
        spb = m.steps_per_bar
        capped = len(tok.encode(m)) > settings.max_tokens - 4  # the cap may come first
        complete = m.end_step % spb == 0 or (m.end_step - m.start_step) % spb == 0
        assert capped or complete, m  # the last bar is full, or completes the pickup
        if "bars" in length:
            assert m.end_step - m.start_step == 4 * spb
        if "notes" in length:
            assert len(m) == 12
        if "seconds" in length:
            assert 5.0 <= m.seconds < 5.0 + spb * m.step_seconds


def test_a_free_tune_ends_only_where_its_last_bar_is_whole(form_tokenizer):
    tok = form_tokenizer
    masks = Masks(tok, SampleSettings(), torch.device("cpu"))

    def may_end(tokens: list[str]) -> bool:
        state = tok.grammar_state(tok.tokens_to_ids(tokens))
        return bool(masks.for_step(0, [state], [20])[0][0, tok.eos_id])

    eighths = [t for i in range(8) for t in (f"Pitch_{60 + i % 5}", "Duration_2")]  # a bar
    bar = ["BOS", "TimeSig_4/4", "Key_C_major", "Bar", *eighths]
    assert may_end(bar)
    assert not may_end([*bar, "Bar", "Pitch_60", "Duration_2"])
    # after a pickup of a quarter, on a bar line or a quarter before one, never elsewhere
    picked = ["BOS", "TimeSig_4/4", "Key_C_major", "Pickup_4", "Bar", "Pitch_60",
              "Duration_4", "Bar"]
    assert may_end([*picked, *eighths])
    assert may_end([*picked, *eighths[:12]])
    assert not may_end([*picked, *eighths[:10]])
    assert not may_end([*picked, *eighths[:14]])


def test_near_the_end_nothing_sounds_past_it(form_tokenizer):
    tok = form_tokenizer
    masks = Masks(tok, SampleSettings(bars=1), torch.device("cpu"))
    start = ["BOS", "TimeSig_4/4", "Key_C_major", "Bar", "Pitch_60", "Duration_12", "Pitch_62"]
    left = mask_names(tok, masks, start)
    assert "Duration_4" in left and "Duration_5" not in left
    notes = Masks(tok, SampleSettings(notes=2), torch.device("cpu"))
    two = ["BOS", "TimeSig_4/4", "Key_C_major", "Bar", "Pitch_60", "Duration_4", "Pitch_62",
           "Duration_2"]
    # the notes are all there: only the rest that completes the bar, no short one to strand
    state = tok.grammar_state(tok.tokens_to_ids(two))
    row = notes.for_step(0, [state], [2])[0][0]
    left = {tok.vocab[i] for i in row.nonzero().flatten().tolist()}
    assert left - {"RepeatEnd"} == {"Rest_10"}  # (or a `:|` back to the start, first)


@pytest.mark.parametrize("max_tokens", [24, 40, 64])
def test_the_token_cap_closes_the_form_in_time(form_model, max_tokens):
    tok = form_model.tokenizer
    settings = SampleSettings(bars=50, max_tokens=max_tokens)  # the cap comes first
    check_well_formed(tok, sample_ids(form_model.network, tok, [tok.bos_id], 16, settings,
                                      seed=1))


def test_beam_search_with_form_tokens_writes_well_formed_form(form_model):
    tok = form_model.tokenizer
    settings = SampleSettings(bars=3, beam=4, branch=2, max_tokens=160)
    melodies = check_well_formed(tok, sample_ids(form_model.network, tok, [tok.bos_id], 2,
                                                 settings, seed=0))
    assert any(m.form for m in melodies)


def test_generate_with_form_tokens(form_model):
    melodies = form_model.generate(num=3, bars=4, meter="6/8", key="D:dorian", seed=2)
    for m in melodies:
        assert m.time_signature == (6, 8) and m.end_step >= 4 * m.steps_per_bar
        assert form_model.tokenizer.decode(form_model.tokenizer.encode(m),
                                           return_errors=True)[1] == 0
        assert m.unfold().form == ()


def test_a_figure_played_as_often_as_real_tunes_allow_is_blocked():
    from melodyrnn.generate.beam import blocked_durations
    figure = [(67, 2), (65, 2), (67, 2), (69, 2), (67, 2), (65, 2), (64, 2), (62, 2)]
    assert blocked_durations(figure * 2, 67) == set()
    assert blocked_durations(figure * 3, 67, ((8, 3),)) == set()  # the 4th would start here
    played = figure * 3 + figure[:7]
    assert blocked_durations(played, 62, ((8, 3),)) == {2}  # ... and may not end
    assert blocked_durations(played, 62, ((8, 4),)) == set()
    assert blocked_durations(played, 60, ((8, 3),)) == set()  # another note is free


def test_a_tune_that_chooses_to_end_mid_bar_finishes_the_bar_first(form_tokenizer):
    """The sampler lets the model end where it likes; mid-bar, a rest completes the bar."""
    tok = form_tokenizer
    torch.manual_seed(0)
    network = MelodyLSTM(tok.vocab_size, embedding_dim=8, hidden_size=16, num_layers=1,
                         dropout=0.0)
    with torch.no_grad():
        network.decoder.bias[tok.eos_id] = 4.0  # ends as soon as it may
    seqs = sample_ids(network, tok, [tok.bos_id], 8, SampleSettings(max_tokens=200), seed=3)
    for m in check_well_formed(tok, seqs):
        spb = m.steps_per_bar
        assert m.end_step % spb == 0 or (m.end_step - m.start_step) % spb == 0, m
        assert len(m) >= 8
