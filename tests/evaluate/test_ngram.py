"""The n-gram baseline: escape-C interpolation checked against hand-computed probabilities."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.evaluate.ngram import NGramModel, best_order


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
