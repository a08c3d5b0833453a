"""The sampler's two loops: a few rows with their rules in Python (`rows.py`), a batch with
tensor rules (`sample._sample`). For every tokenizer, constraint, strategy and network kind,
the same seed must give the same sequences from both, token for token."""

from __future__ import annotations

import pytest
import torch

from melodyrnn.core.key import Key
from melodyrnn.generate import rows as row_loop
from melodyrnn.generate.rows import ROW_LOOP_ROWS, sample_rows
from melodyrnn.generate.sample import _sample, sample_ids
from melodyrnn.generate.settings import SampleSettings
from melodyrnn.models.lookback import check_lookback_tokenizer
from melodyrnn.models.network import MelodyLSTM
from melodyrnn.tokenizers import get_tokenizer

TOKENIZERS = {
    "note": ("note", {}),
    "note-bars": ("note", {"bar_tokens": True, "max_duration_steps": 8}),
    "note-form": ("note", {"pitch_range": (55, 79), "bar_tokens": True, "meter_token": True,
                           "key_token": True, "form_tokens": True}),
    "grid-bars": ("grid", {"bar_tokens": True, "meter_token": True, "key_token": True}),
}
SETTINGS = {
    "free": {},
    "notes": {"notes": 9},
    "bars": {"bars": 3},
    "seconds": {"seconds": 4.0, "qpm": 90.0},
    "scale-range-top-k": {"scale": Key.parse("D:dorian"), "pitch_range": (60, 76),
                          "bars": 2, "top_k": 5},
    "top-p-hot": {"top_p": 0.9, "temperature": 1.6},
    "greedy": {"temperature": 0.0, "notes": 6},
    "cap": {"max_tokens": 30},
}


def _network(tok, seed: int, eos_bias: float, lookback: bool = False,
             attention: int = 0) -> MelodyLSTM:
    torch.manual_seed(seed)
    net = MelodyLSTM(tok.vocab_size, embedding_dim=8, hidden_size=16, num_layers=2,
                     dropout=0.0, pad_id=tok.pad_id, lookback=lookback,
                     attention=attention).eval()
    with torch.no_grad():
        net.decoder.weight.mul_(8.0)  # peaked, varied distributions
        net.decoder.bias[tok.eos_id] = eos_bias  # > 0: rows often choose to end mid-bar
    return net


def _both(net, tok, prefix, num, settings, seed, spb):
    with torch.inference_mode():
        rows = sample_rows(net, tok, prefix, num, settings, seed, spb)
        batch = _sample(net, tok, prefix, num, settings, seed, spb)
    return rows, batch


@pytest.mark.parametrize("eos_bias", [0.0, 4.0])
@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("name", TOKENIZERS)
def test_the_row_loop_samples_what_the_tensor_loop_samples(name, setting, eos_bias):
    encoding, options = TOKENIZERS[name]
    tok = get_tokenizer(encoding, **options)
    settings = SampleSettings(**{"max_tokens": 80, **SETTINGS[setting]})
    spb = 4 * tok.steps_per_quarter
    for seed in range(3):
        net = _network(tok, seed, eos_bias)
        prefix = tok.encode_prefix((3, 4) if seed == 1 else (4, 4), None)[:1 + seed % 2]
        rows, batch = _both(net, tok, prefix, 5, settings, seed, 0 if seed == 1 else spb)
        assert rows == batch, (name, setting, seed)
        assert all(seq[-1] == tok.eos_id and seq[:len(prefix)] == prefix for seq in rows)


@pytest.mark.parametrize("attention", [0, 4])
def test_the_row_loop_feeds_lookback_features_as_the_tensor_loop_does(attention):
    encoding, options = TOKENIZERS["note-form"]
    tok = get_tokenizer(encoding, **options)
    check_lookback_tokenizer(tok.name, tok.options())
    primer = ["BOS", "TimeSig_3/4", "Key_A_minor", "Bar", "Pitch_69", "Duration_4"]
    for setting in ("free", "bars", "top-p-hot"):
        settings = SampleSettings(**{"max_tokens": 90, **SETTINGS[setting]})
        for seed in range(2):
            net = _network(tok, seed, 2.0 * seed, lookback=True, attention=attention)
            prefix = tok.tokens_to_ids(primer) if seed else tok.encode_prefix((4, 4), None)
            rows, batch = _both(net, tok, prefix, 4, settings, seed, 0)
            assert rows == batch, (setting, seed)


def test_sample_ids_takes_the_row_loop_for_a_few_rows_only(monkeypatch):
    tok = get_tokenizer("note", bar_tokens=True)
    net = _network(tok, 0, 0.0)
    settings = SampleSettings(max_tokens=20)
    calls = []
    real = row_loop.sample_rows

    def counted(*args):
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr("melodyrnn.generate.sample.sample_rows", counted)
    few = sample_ids(net, tok, tok.encode_prefix(), ROW_LOOP_ROWS, settings, seed=4)
    many = sample_ids(net, tok, tok.encode_prefix(), ROW_LOOP_ROWS + 1, settings, seed=4)
    assert calls == [ROW_LOOP_ROWS]
    # a melody's uniforms are its own, so the first rows of the larger batch are the same
    assert many[:ROW_LOOP_ROWS] == few
