"""The n-gram baseline (hand-computed probabilities) and held-out evaluation of a model."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import melodyrnn as mr
from melodyrnn.cli import main
from melodyrnn.evaluate.likelihood import EvalResult, evaluate_dataset
from melodyrnn.evaluate.ngram import NGramModel, best_order
from melodyrnn.prepare.build import prepare


def test_order_1_escape_c_by_hand():
    # after the first symbol: 1 twice, 2 once -> c = 3, T = 2, uniform 1/3 below
    model = NGramModel(1, 3).fit([[0, 1, 1, 2]])
    assert model.prob([], 1) == pytest.approx((2 + 2 / 3) / 5)
    assert model.prob([], 0) == pytest.approx((0 + 2 / 3) / 5)
    assert model.prob([], 2) == pytest.approx((1 + 2 / 3) / 5)


def test_order_2_interpolates_with_order_1_by_hand():
    model = NGramModel(2, 3).fit([[0, 1, 1, 2]])
    p1 = (1 + 2 / 3) / 5  # order-1 p(2), as above
    # after context (1,): 1 once and 2 once -> c = 2, T = 2
    assert model.prob([0, 1], 2) == pytest.approx((1 + 2 * p1) / (2 + 2))
    # an unseen context falls through to order 1
    assert model.prob([2], 2) == pytest.approx(p1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=12), min_size=1, max_size=6),
       st.lists(st.integers(0, 4), max_size=6), st.integers(1, 5))
def test_ngram_distributions_sum_to_one(train, history, order):
    model = NGramModel(order, 5).fit(train)
    assert sum(model.prob(history, s) for s in range(5)) == pytest.approx(1.0)


def test_best_order_prefers_context_on_repetitive_data():
    seqs = [[0, 1, 2, 3] * 5 for _ in range(10)]
    order, scores = best_order(seqs, seqs[:2], 4, orders=range(1, 4))
    assert order > 1 and scores[order] < scores[1]


def test_eval_result_figures():
    r = EvalResult("x", log_likelihood=-10 * math.log(2), tokens=20, notes=5, correct=10)
    assert r.bits_per_note == pytest.approx(2.0)
    assert r.accuracy == 0.5
    assert r.perplexity == pytest.approx(math.exp(10 * math.log(2) / 20))


def test_evaluate_dataset_scores_model_and_baseline(tiny_model, tiny_data):
    results = evaluate_dataset(mr.load_model(tiny_model), tiny_data, "test")
    model, baseline = results["model"], results["baseline"]
    assert model.tokens == baseline.tokens and model.notes == baseline.notes > 0
    assert 0 < model.bits_per_note < 20 and 0 < baseline.bits_per_note < 20
    assert 1 <= baseline.extra["order"] <= 8


def test_cli_evaluate_json(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["bits_per_note"] > 0
    assert out["baseline"]["bits_per_note"] > 0 and "order" in out["baseline"]


def test_cli_evaluate_table(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data),
                 "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "bits/note" in out and "gram" in out


def test_cli_evaluate_samples(tiny_model, tiny_data, tmp_path, capsys):
    samples = tmp_path / "samples"
    assert main(["generate", "--model", str(tiny_model), "--num", "6", "--bars", "4",
                 "--seed", "2", "--formats", "mid", "--out", str(samples)]) == 0
    capsys.readouterr()
    plot = tmp_path / "hist.png"
    assert main(["evaluate", "--data", str(tiny_data), "--samples", str(samples),
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "pitch_class_entropy" in out and "longest" in out.lower()
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["evaluate", "--data", str(tiny_data), "--samples", str(samples), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["originality"]) == 6 and "scale_consistency" in data["metrics"]


@pytest.mark.slow
def test_bundled_model_beats_the_ngram_on_its_held_out_test_split(tmp_path):
    """The shipped model and the n-gram baseline, both scored on the folk corpus's test split."""
    model = mr.load_model()
    prepare(["folk"], tmp_path / "folk", progress=False)
    results = evaluate_dataset(model, tmp_path / "folk", "test")
    lstm, ngram = results["model"], results["baseline"]
    # the same held-out tunes the bundle was measured on (every token after each BOS)
    recorded = model.meta["dataset"]["splits"]["test"]
    assert lstm.tokens == ngram.tokens == recorded["tokens"] - recorded["sequences"]
    assert lstm.notes == ngram.notes > 0
    # measured: 3.11 bits per note against 4.20 for the best n-gram (order 6)
    assert lstm.bits_per_note < ngram.bits_per_note - 0.5
