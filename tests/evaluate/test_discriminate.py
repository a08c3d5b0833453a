"""The classifier two-sample test: separable sets are told apart, sets alike are not."""

from __future__ import annotations

import numpy as np
import pytest

from melodyrnn.errors import MelodyError
from melodyrnn.evaluate.discriminate import (
    Standardizer,
    cross_validated_accuracy,
    discriminate,
    fit_logistic,
    predict_logistic,
)

NAMES = ["signal", "noise", "flag"]


def sets(shift: float, scale: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """300 and 200 rows of (normal, normal, 0/1); the second set's first column moved by
    `shift` and its second column's spread multiplied by `scale`."""
    rng = np.random.default_rng(seed)
    a = np.column_stack([rng.normal(size=300), rng.normal(size=300), rng.integers(0, 2, 300)])
    b = np.column_stack([rng.normal(shift, size=200), rng.normal(scale=scale, size=200),
                         rng.integers(0, 2, 200)])
    return a.astype(float), b.astype(float)


def test_separable_sets_are_told_apart() -> None:
    result = discriminate(*sets(shift=4.0), NAMES)
    assert result.accuracy > 0.9
    assert result.per_class == 200  # balanced: as many of the larger set as the smaller has
    assert result.most_separating(1)[0][0] == "signal"
    assert result.feature_accuracy["noise"] < 0.65
    assert abs(result.weights["signal"]) > abs(result.weights["noise"])


def test_sets_from_one_distribution_are_not() -> None:
    result = discriminate(*sets(shift=0.0), NAMES)
    assert 0.4 < result.accuracy < 0.6
    assert all(0.35 < acc < 0.65 for acc in result.feature_accuracy.values())


def test_a_difference_of_spread_alone_is_seen() -> None:
    # same means, the second set's noise column three times as wide: only its square tells
    result = discriminate(*sets(shift=0.0, scale=3.0), NAMES)
    assert result.accuracy > 0.7
    assert result.most_separating(1)[0][0] == "noise"
    assert "noise^2" in result.weights and "flag^2" not in result.weights  # binary: no square


def test_missing_values_and_constant_columns_do_not_break_the_fit() -> None:
    a, b = sets(shift=4.0)
    a[::3, 1] = np.nan  # a third of one column missing
    b[:, 2] = 1.0  # constant in one set
    a[:, 2] = 1.0  # and in the other: a column of no information
    accuracy, spread = cross_validated_accuracy(a, b)
    assert accuracy > 0.9 and 0.0 <= spread < 0.1


def test_the_standardizer_fills_nan_with_the_mean() -> None:
    x = np.array([[1.0, 5.0], [3.0, 5.0], [np.nan, 5.0]])
    scaler = Standardizer.fit(x)
    assert scaler.mean.tolist() == [2.0, 5.0]
    assert scaler.squared.tolist() == [False, False]  # two values, one value
    assert scaler.transform(x).tolist() == [[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]


def test_logistic_regression_on_a_symmetric_problem() -> None:
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    w = fit_logistic(x, y, l2=1.0)
    assert w[0] == pytest.approx(0.0, abs=1e-9) and w[1] > 0  # no bias by symmetry
    assert predict_logistic(w, x).tolist() == [0, 0, 1, 1]
    # the penalty keeps separable data's weight finite; a smaller one lets it grow
    assert fit_logistic(x, y, l2=0.01)[1] > w[1]


def test_too_few_tunes_for_the_folds_is_an_error() -> None:
    a, b = sets(shift=1.0)
    with pytest.raises(MelodyError, match="at least 5 tunes in each set, got 300 and 3"):
        cross_validated_accuracy(a, b[:3])
    with pytest.raises(MelodyError, match="3 columns"):
        discriminate(a[:, :2], b, NAMES)
