"""Pitch-only LSTMs of the melody-prediction protocol: distributions over the scored alphabet,
dynamic evaluation, the short-term model's combination, and the benchmark's fold bookkeeping."""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import pytest
import torch

from melodyrnn.evaluate import pitch_lstm
from melodyrnn.evaluate.ppm import PPMModel, combine_geometric

ALPHABET = [60, 62, 64, 65, 67]
INDEX = {p: i for i, p in enumerate(ALPHABET)}
OPTIONS = {"cell": "lstm", "embedding_dim": 8, "hidden_size": 16, "num_layers": 1,
           "dropout": 0.0}


def _tunes(n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[ALPHABET[(k + rng.randrange(2)) % 5] for k in range(rng.randrange(6, 14))]
            for _ in range(n)]


@pytest.fixture(scope="module")
def trained():
    tunes = _tunes(40)
    model, loss, epochs = pitch_lstm.train(
        tunes[:32], tunes[32:], INDEX, 0, OPTIONS,
        {"lr": 1e-2, "batch_size": 8, "max_epochs": 4, "patience": 2})
    return model, loss, epochs, tunes


def test_training_stops_at_its_best_validation_epoch(trained):
    model, loss, epochs, tunes = trained
    assert 1 <= epochs <= 4
    assert pitch_lstm.mean_loss(model, tunes[32:], INDEX) == pytest.approx(loss)
    assert loss < math.log(len(ALPHABET) + 3)  # better than uniform over the tokens


def test_distributions_are_over_the_scored_pitches_and_give_the_bits(trained):
    model, _, _, tunes = trained
    test = tunes[32:36]
    dists = pitch_lstm.note_distributions(model, test, INDEX, scored=3)
    assert [d.shape for d in dists] == [(len(t), 3) for t in test]
    assert all(np.allclose(d.sum(1), 1.0) for d in dists)
    full = pitch_lstm.note_distributions(model, test, INDEX, scored=5)
    inputs, _ = pitch_lstm.batch(test, INDEX)
    with torch.no_grad():
        logits = model(inputs)[0][0, :len(test[0]), 3:8]
    assert np.allclose(full[0], logits.softmax(-1).double().numpy(), atol=1e-6)
    expected = -sum(math.log2(full[0][j, INDEX[p]]) for j, p in enumerate(test[0]))
    assert pitch_lstm.bits(full, test, INDEX)[0] == pytest.approx(expected)


def test_dynamic_evaluation_adapts_and_at_step_zero_is_static(trained):
    model, _, _, tunes = trained
    test = tunes[32:35]
    static = pitch_lstm.note_distributions(model, test, INDEX, 5)
    zero = pitch_lstm.note_distributions(copy.deepcopy(model), test, INDEX, 5, dynamic_lr=0.0)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(static, zero, strict=True))
    adapted = copy.deepcopy(model)
    moved = pitch_lstm.note_distributions(adapted, test, INDEX, 5, dynamic_lr=0.5)
    assert not np.allclose(moved[-1], static[-1], atol=1e-4)
    assert not torch.equal(next(adapted.parameters()), next(model.parameters()))


def test_the_short_term_model_is_combined_note_by_note():
    seq = [60, 62, 60, 62, 60, 64]
    flat = [np.full((len(seq), 5), 0.2)]
    stms = pitch_lstm.stm_distributions([seq], ALPHABET)
    combined = pitch_lstm.with_stm(flat, stms, bias=2.0)[0]
    stm = PPMModel(ALPHABET, **pitch_lstm.STM_OPTIONS)
    for j, pitch in enumerate(seq):
        expected = combine_geometric([[0.2] * 5, stm.distribution(seq[:j])], 2.0)
        assert np.allclose(combined[j], expected)
        stm.observe(seq[:j], pitch)
    # a repeating melody: the short-term model learns it, the flat model cannot
    assert pitch_lstm.bits(pitch_lstm.with_stm(flat, stms, 2.0), [seq], INDEX)[0] \
        < pitch_lstm.bits(flat, [seq], INDEX)[0]


def test_rows_give_the_mean_spread_and_the_comparison_with_both(benchmark_module):
    pearce = benchmark_module("pearce")
    runs = [[10.0, 30.0], [14.0, 26.0]]  # two seeds, two folds of 10 and 20 notes
    row = pearce.make_row("x", runs, [10, 20], {}, 1.0, both=[12.0, 30.0])
    assert row["bits_per_note"] == round(40 / 30, 4)  # each seed: 40 bits over 30 notes
    assert row["per_fold"] == [1.2, 1.4]
    assert row["sd"] == 0.0 and row["runs"] == 2
    # fold 0: 1.2 vs 1.2 (even), fold 1: 1.4 vs 1.5 (better)
    assert row["vs_both"] == {"folds_better": 1, "folds_worse": 0, "mean_difference": -0.05}
    folds = pearce.make_folds(23, 5, 0)
    assert sorted(i for f in folds for i in f) == list(range(23))
    assert {len(f) for f in folds} == {4, 5}


def test_the_lstm_rows_choose_on_the_inner_split_and_record_it(benchmark_module, monkeypatch):
    rows_module = benchmark_module("pearce_lstm")
    pearce = benchmark_module("pearce")
    monkeypatch.setattr(rows_module, "GRID", [OPTIONS, {**OPTIONS, "hidden_size": 8}])
    monkeypatch.setattr(rows_module, "TRAINING", {"lr": 1e-2, "batch_size": 8,
                                                  "max_epochs": 2, "patience": 1})
    monkeypatch.setattr(rows_module, "DYNAMIC_LRS", (0.001, 0.1))
    monkeypatch.setattr(rows_module, "STM_BIASES", (1.0, 4.0))
    seqs = _tunes(30, seed=1)
    folds = pearce.make_folds(len(seqs), 3, 0)
    both = [10.0 * len(fold) for fold in folds]  # a stand-in BOTH+: 10 bits a melody
    rows = rows_module.lstm_rows(seqs, folds, ALPHABET, [0, 1], both, n_folds=1)
    kinds = ["", " + dynamic evaluation", " + STM", " + dynamic evaluation + STM"]
    prefix = "LSTM trained on the nine folds"
    assert [r["name"] for r in rows] == [prefix + k for k in kinds] + [
        f"{prefix}, ensemble of 2 seeds{k}" for k in kinds]
    for row in rows[:4]:
        assert row["runs"] == 2 and len(row["per_seed"]) == 2 and row["folds_evaluated"] == 1
    for row in rows[4:]:
        assert row["runs"] == 1 and "sd" not in row and "ensemble" in row["config"]
    for row in rows:
        assert row["notes"] == sum(len(seqs[i]) for i in folds[0])
        assert row["vs_both"]["folds_better"] + row["vs_both"]["folds_worse"] <= 1
    choice = rows[0]["config"]["choices"][1][0]  # seed 1, fold 0
    assert choice["network"] in (0, 1) and choice["dynamic_lr"] in (0.001, 0.1)
    assert choice["static_stm_bias"] in (1.0, 4.0) and choice["dynamic_stm_bias"] in (1.0, 4.0)
    assert rows[0]["config"]["chosen_on"].startswith("each fold's inner split")


def test_the_ensemble_averages_the_seeds_distributions(benchmark_module):
    rows_module = benchmark_module("pearce_lstm")
    test = [[60, 62, 60]]
    flat = np.full((3, 5), 0.2)
    peaked = np.array([[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.6, 0.1, 0.1, 0.1],
                       [0.6, 0.1, 0.1, 0.1, 0.1]])
    members = [{"static": [flat], "dynamic": [flat]}, {"static": [peaked], "dynamic": [flat]}]
    choices = [{"static_stm_bias": 1.0, "dynamic_stm_bias": 2.0},
               {"static_stm_bias": 7.0, "dynamic_stm_bias": 2.0}]
    totals = rows_module._ensemble(members, choices, test, ALPHABET)
    # each note: (0.2 + 0.6) / 2 = 0.4 under the static ensemble, 0.2 under the dynamic one
    assert totals["static"] == pytest.approx(-3 * math.log2(0.4))
    assert totals["dynamic"] == pytest.approx(-3 * math.log2(0.2))
    mean = [(flat + peaked) / 2]
    stms = pitch_lstm.stm_distributions(test, ALPHABET)
    expected = pitch_lstm.bits(pitch_lstm.with_stm(mean, stms, 4.0), test, INDEX)[0]
    assert totals["static+stm"] == pytest.approx(expected)  # the median of biases 1 and 7


def test_the_lstm_rows_do_not_depend_on_the_number_of_processes(benchmark_module, monkeypatch):
    rows_module = benchmark_module("pearce_lstm")
    pearce = benchmark_module("pearce")
    monkeypatch.setattr(rows_module, "GRID", [OPTIONS])
    monkeypatch.setattr(rows_module, "TRAINING", {"lr": 1e-2, "batch_size": 8,
                                                  "max_epochs": 1, "patience": 1})
    monkeypatch.setattr(rows_module, "DYNAMIC_LRS", (0.01,))
    monkeypatch.setattr(rows_module, "STM_BIASES", (2.0,))
    seqs = _tunes(24, seed=2)
    folds = pearce.make_folds(len(seqs), 3, 0)
    both = [10.0 * len(fold) for fold in folds]
    one, two = (rows_module.lstm_rows(seqs, folds, ALPHABET, [0, 1], both, 2, jobs)
                for jobs in (1, 2))
    for a, b in zip(one, two, strict=True):
        assert a["per_fold"] == b["per_fold"] and a["bits_per_note"] == b["bits_per_note"]


def test_the_earlier_command_line_still_runs(benchmark_module):
    old = benchmark_module("pearce_kinder")
    assert old.translate(["--corpus", "fink0", "--lstm", "--pretrain", "essen"]) == [
        "--set", "fink0", "--variants", "--pretrain", "essen"]
    assert old.translate(["--no-variants"]) == ["--set", "kinder", "--no-lstm"]


def test_pretrained_weights_come_back_from_worker_processes(benchmark_module, monkeypatch):
    rows_module = benchmark_module("pearce_lstm")
    monkeypatch.setattr(rows_module, "PRETRAIN_OPTIONS", OPTIONS)
    monkeypatch.setattr(rows_module, "PRETRAIN_TRAINING", {
        "lr": 1e-2, "batch_size": 8, "max_epochs": 1, "patience": 1, "valid_share": 0.2})
    rows_module._CONTEXT.update(pool=_tunes(20), index=INDEX)
    one, two = (rows_module._map(rows_module._pretrain, [0, 1], jobs) for jobs in (1, 2))
    for (a, _), (b, _) in zip(one, two, strict=True):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    rebuilt = pitch_lstm.network(INDEX, OPTIONS, one[0][0]).state_dict()
    assert all(np.array_equal(rebuilt[k].numpy(), v) for k, v in one[0][0].items())
