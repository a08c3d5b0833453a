"""The n-gram baseline: escape-C interpolation checked against hand-computed probabilities and
against the dictionary-of-counts model it replaced (kept in benchmarks/evaluate_speed.py)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.errors import ConfigError
from melodyrnn.evaluate.likelihood import evaluate_ngram
from melodyrnn.evaluate.ngram import NGramModel, best_order


@pytest.fixture(scope="module")
def reference(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    """The dictionary-of-counts model, kept in benchmarks/evaluate_speed.py."""
    return benchmark_module("evaluate_speed")

sequences = st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=12), max_size=6)


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


def test_order_3_by_hand_and_log_prob_sums_the_steps():
    model = NGramModel(3, 4).fit([[0, 1, 2, 1, 2, 3]])
    # order 1: 1 x2, 2 x2, 3 x1 -> c = 5, T = 3
    p1 = (1 + 3 / 4) / 8  # p(3)
    # after (2,): 1 once, 3 once -> c = 2, T = 2; after (1, 2): 1 once, 3 once
    p2 = (1 + 2 * p1) / 4
    p3 = (1 + 2 * p2) / 4
    assert model.prob([0, 1, 2], 3) == pytest.approx(p3)
    # after (0,): 1 once -> c = 1, T = 1; after (3, 0) nothing: the order-2 figure stands
    p_1 = (2 + 3 / 4) / 8
    assert model.prob([3, 0], 1) == pytest.approx((1 + p_1) / 2)
    assert model.log_prob([0, 1, 2, 3]) == pytest.approx(
        sum(math.log(model.prob([0, 1, 2, 3][:i], s)) for i, s in [(1, 1), (2, 2), (3, 3)]))


@settings(max_examples=30, deadline=None)
@given(sequences.filter(bool), st.lists(st.integers(0, 4), max_size=6), st.integers(1, 5))
def test_ngram_distributions_sum_to_one(train, history, order):
    model = NGramModel(order, 5).fit(train)
    assert sum(model.prob(history, s) for s in range(5)) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(sequences, sequences, st.integers(1, 6), st.integers(5, 7))
def test_every_probability_is_the_reference_models_to_the_bit(reference, train, test, order,
                                                              alphabet):
    new = NGramModel(order, alphabet).fit(train)
    old = reference.ReferenceNGramModel(order, alphabet).fit(train)
    expected = [old.prob(seq[:i], seq[i]) for seq in test for i in range(1, len(seq))]
    assert new.probs(test).tolist() == expected
    # every lower order, from the same counts
    by_order = new.probs_by_order(test)
    for lower in range(1, order + 1):
        view = reference.ReferenceNGramModel(lower, alphabet).fit(train)
        assert by_order[:, lower - 1].tolist() == [
            view.prob(seq[:i], seq[i]) for seq in test for i in range(1, len(seq))]


@settings(max_examples=30, deadline=None)
@given(sequences, sequences, st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True))
def test_best_order_is_the_references(reference, train, valid, orders):
    order, scores = best_order(train, valid, 5, orders)
    old_order, old_scores = reference.reference_best_order(train, valid, 5, orders)
    assert order == old_order
    assert scores == pytest.approx(old_scores, rel=1e-12, abs=1e-12)


def _random_split(rng: random.Random, n: int, alphabet: int) -> list[list[int]]:
    """n sequences of 1 to 40 symbols, mostly a repeated figure so contexts matter."""
    out = []
    for _ in range(n):
        figure = [rng.randrange(alphabet) for _ in range(rng.randint(1, 5))]
        seq = (figure * 10)[:rng.randint(1, 40)]
        out.append([s if rng.random() > 0.2 else rng.randrange(alphabet) for s in seq])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_ngram_gives_the_references_figures(seed, reference):
    rng = random.Random(seed)
    alphabet = 12
    train, valid, test = (_random_split(rng, n, alphabet) for n in (60, 10, 10))
    pitch_ids = set(range(3, alphabet))
    new = evaluate_ngram(train, valid, test, alphabet, pitch_ids)
    old = reference.reference_evaluate_ngram(train, valid, test, alphabet, pitch_ids)
    assert new.extra["order"] == old["order"]
    assert new.log_likelihood == pytest.approx(old["log_likelihood"], rel=1e-12)
    assert new.bits_per_note == pytest.approx(old["bits_per_note"], rel=1e-12)
    assert new.extra["valid_nats_per_token_by_order"] == {
        str(k): round(v, 4) for k, v in old["by_order"].items()}


def test_an_empty_training_split_predicts_uniformly():
    model = NGramModel(3, 4).fit([])
    assert model.prob([0, 1], 2) == 0.25
    assert model.probs([[0, 1, 2]]).tolist() == [0.25, 0.25]


def test_sequences_of_one_symbol_count_nothing():
    model = NGramModel(2, 4).fit([[1], [2], [3]])
    assert model.prob([1], 1) == 0.25
    assert model.probs([[1], [2]]).shape == (0,)
    assert model.log_prob([3]) == 0.0


def test_an_empty_split_scores_nothing_and_keeps_the_first_order():
    model = NGramModel(4, 5).fit([[0, 1, 2, 3]])
    assert model.probs_by_order([]).shape == (0, 4)
    order, scores = best_order([[0, 1, 2, 3]], [], 5, orders=[3, 1, 2])
    assert order == 3 and scores == {3: 0.0, 1: 0.0, 2: 0.0}
    result = evaluate_ngram([[0, 1, 2, 3]], [[0, 1, 2]], [], 5, {1, 2})
    assert (result.log_likelihood, result.tokens, result.notes) == (0.0, 0, 0)


def test_an_order_longer_than_every_sequence_is_the_longest_context_there_is():
    train = [[0, 1, 2], [0, 1, 3]]
    deep, short = NGramModel(8, 4).fit(train), NGramModel(3, 4).fit(train)
    test = [[0, 1, 2], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]
    assert deep.probs(test).tolist() == short.probs(test).tolist()


def test_symbols_never_seen_escape_to_the_uniform_floor():
    model = NGramModel(2, 6).fit([[0, 1, 0, 1]])
    # 5 never follows anything: every escape is taken, down to 1/6
    p1 = (0 + 2 / 6) / (3 + 2)  # order 1: c = 3 (1, 0, 1), T = 2
    assert model.prob([], 5) == pytest.approx(p1)
    assert model.prob([0], 5) == pytest.approx((0 + 1 * p1) / (2 + 1))
    # as context: a symbol never counted makes an unseen context
    assert model.prob([5], 1) == model.prob([], 1)


def test_symbols_beyond_the_alphabet_behave_as_the_reference(reference):
    train, test = [[0, 1, 7, 1]], [[7, 1, 9], [9, 9, 7]]
    old = reference.ReferenceNGramModel(3, 4).fit(train)
    assert NGramModel(3, 4).fit(train).probs(test).tolist() == [
        old.prob(seq[:i], seq[i]) for seq in test for i in range(1, len(seq))]


def test_update_adds_counts_as_fit_does():
    model = NGramModel(3, 5).fit([[0, 1, 2]])
    before = model.prob([0, 1], 2)
    model.update([4, 1, 2, 3])
    assert model.prob([0, 1], 2) != before
    assert model.prob([0, 1], 2) == NGramModel(3, 5).fit([[0, 1, 2], [4, 1, 2, 3]]).prob([0, 1], 2)


def test_bad_orders_and_symbols_are_refused():
    with pytest.raises(ConfigError, match="order 0 must be at least 1"):
        NGramModel(0, 5)
    with pytest.raises(ConfigError, match="order 4 must be from 1 to the model's 3"):
        NGramModel(3, 5).fit([[0, 1]]).probs_by_order([[0, 1]], 4)
    with pytest.raises(ConfigError, match="at least 0, got -2"):
        NGramModel(3, 5).fit([[0, -2]]).prob([], 1)
    with pytest.raises(ConfigError, match="at least one n-gram order"):
        best_order([[0, 1]], [[0, 1]], 5, orders=[])


def test_best_order_prefers_context_on_repetitive_data():
    seqs = [[0, 1, 2, 3] * 5 for _ in range(10)]
    order, scores = best_order(seqs, seqs[:2], 4, orders=range(1, 4))
    assert order > 1 and scores[order] < scores[1]
