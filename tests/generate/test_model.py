"""MelodyModel: loading a bundle (the tiny one, the bundled one), scoring, what it exposes."""

from __future__ import annotations

import math

import pytest
import torch

import melodyrnn as mr
from melodyrnn.errors import ModelError
from melodyrnn.io.outputs.midi import as_played


@pytest.fixture(scope="module")
def model(tiny_model):
    return mr.load_model(tiny_model)


@pytest.mark.slow
def test_score_reports_bits_per_note(model):
    melody = model.generate(num=1, notes=16, seed=0)[0]
    result = model.score(melody)
    assert result.log_likelihood < 0 and result.notes == 16
    assert result.bits_per_note == pytest.approx(-result.log_likelihood / math.log(2) / 16)


@pytest.mark.slow
def test_model_exposes_network_tokenizer_and_corpus(model):
    logits, _state = model.network(torch.tensor([[model.tokenizer.bos_id]]))
    assert logits.shape == (1, 1, model.tokenizer.vocab_size)
    assert model.corpus == ["tiny-tunes"]


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        mr.load_model(tmp_path / "nothing")


def test_bundled_model_generates_in_a_key_and_meter_it_chooses(tmp_path, clean_decode):
    model = mr.load_model()
    assert model.corpus == ["folk"] and model.network.options()["cell"] == "lstm"
    melodies = model.generate(num=3, bars=8, seed=0)
    for m in melodies:
        assert m.key is not None and m.end_step - m.start_step == 8 * m.steps_per_bar
        assert clean_decode(model, m) == 0
    # MIDI holds the playing order: repeats taken, the pickup played at once
    written = melodies[0].write(tmp_path / "tune.mid")
    heard = mr.read_melodies(written, steps_per_quarter=model.tokenizer.steps_per_quarter)[0]
    assert heard.notes == as_played(melodies[0]).notes


def test_bundled_model_metadata_records_its_corpus_and_validation_figures():
    meta = mr.load_model().meta
    assert meta["dataset"]["manifest"]["corpus"] == "folk"
    metrics, counts = meta["metrics"], meta["dataset"]["manifest"]["counts"]
    assert metrics["best_val_loss"] == pytest.approx(metrics["val_loss"])  # the best is shipped
    assert metrics["best_val_loss"] < 1.2  # nats per token on its valid split
    # bits per note: the same nats, over the valid notes instead of the predicted tokens
    predicted = counts["tokens"]["valid"] - counts["melodies"]["valid"]  # BOS is given
    assert metrics["val_bpn"] == pytest.approx(
        metrics["val_loss"] * predicted / counts["notes"]["valid"] / math.log(2), rel=1e-6)
