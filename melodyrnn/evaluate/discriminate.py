"""Can a classifier tell two sets of tunes apart? A classifier two-sample test on features.

Given per-tune feature vectors of two sets (a model's samples and real tunes), a logistic
regression learns to say which set a tune came from; its cross-validated accuracy measures how
far apart the sets are (Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests"). The
classes are balanced by drawing as many tunes from the larger set as the smaller one has, so
50% is chance: the sets cannot be told apart on these features; 100% means every tune gives
itself away.

The model is logistic regression on standardized features and, for each feature with more than
two values, its square too: with the square a linear model can also see a difference of spread
(samples whose lengths vary more than real tunes', at the same mean length). It is fitted by
Newton's method with a small L2 penalty (which keeps the weights finite when the sets are
separable). A missing feature value (NaN) is replaced by the mean of the training fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.errors import MelodyError


@dataclass(frozen=True)
class Standardizer:
    """Column means and standard deviations of a training fold, and which columns get a square."""

    mean: np.ndarray
    std: np.ndarray
    squared: np.ndarray  # bool per column: more than two distinct values

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        """Statistics of the finite values of each column (a column of no values: mean 0)."""
        finite = np.isfinite(x)
        count = finite.sum(axis=0)
        filled = np.where(finite, x, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.zeros(x.shape[1]), where=count > 0)
        centred = np.where(finite, x - mean, 0.0)
        var = np.divide((centred ** 2).sum(axis=0), count, out=np.zeros(x.shape[1]),
                        where=count > 0)
        std = np.sqrt(var)
        std[std == 0] = 1.0  # a constant column stays 0 after centring
        squared = np.array([len(np.unique(col[np.isfinite(col)])) > 2 for col in x.T],
                           dtype=bool)
        return cls(mean, std, squared)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, d) raw -> (n, d + #squared): z-scores (NaN as 0), then the squares chosen."""
        z = (x - self.mean) / self.std
        z = np.where(np.isfinite(z), z, 0.0)
        return np.hstack([z, z[:, self.squared] ** 2])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0,
                 iterations: int = 50) -> np.ndarray:
    """Weights (bias first) of an L2-penalized logistic regression, by Newton's method.

    Minimizes sum_i log(1 + exp(-s_i w.x_i)) + l2/2 |w|^2 (s_i = +-1 from y in {0, 1}; the
    bias is not penalized), stopping when a Newton step moves no weight by more than 1e-8.
    """
    design = np.hstack([np.ones((len(x), 1)), x])  # (n, d + 1)
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) \
            + 1e-9 * np.eye(len(w))  # keeps a column of zeros (a constant feature) solvable
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Class 1 where the fitted probability is above one half: w0 + w.x > 0."""
    return (w[0] + x @ w[1:] > 0).astype(int)


@dataclass(frozen=True)
class Discrimination:
    """How well a classifier tells set A from set B, and which features give them away."""

    accuracy: float  # mean over folds and repeats; 0.5 is chance
    accuracy_std: float  # spread of the per-fold accuracies
    per_class: int  # tunes of each set used (the smaller set's size)
    folds: int
    repeats: int
    feature_accuracy: dict[str, float]  # the same test on each feature alone
    weights: dict[str, float]  # standardized weights of a fit on all the balanced tunes

    def most_separating(self, n: int = 3) -> list[tuple[str, float]]:
        """The n features that alone tell the sets apart best, with that accuracy."""
        return sorted(self.feature_accuracy.items(), key=lambda kv: -kv[1])[:n]


def cross_validated_accuracy(a: np.ndarray, b: np.ndarray, folds: int = 5, repeats: int = 5,
                             seed: int = 0, l2: float = 1.0) -> tuple[float, float]:
    """(mean, std) accuracy of telling rows of `a` from rows of `b`, over k folds x repeats.

    Each repeat draws min(len(a), len(b)) rows of each set without replacement, splits each
    class into `folds` parts (stratified folds), and for every fold fits on the others and
    scores the fold: accuracy = correct / tested.
    """
    per_class = min(len(a), len(b))
    if per_class < folds:
        raise MelodyError(f"a {folds}-fold test needs at least {folds} tunes in each set, got "
                          f"{len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(repeats):
        chunks_a = np.array_split(rng.permutation(len(a))[:per_class], folds)
        chunks_b = np.array_split(rng.permutation(len(b))[:per_class], folds)
        for k in range(folds):
            train_a = np.concatenate([c for i, c in enumerate(chunks_a) if i != k])
            train_b = np.concatenate([c for i, c in enumerate(chunks_b) if i != k])
            x_train = np.vstack([a[train_a], b[train_b]])
            y_train = np.r_[np.zeros(len(train_a)), np.ones(len(train_b))]
            scaler = Standardizer.fit(x_train)
            w = fit_logistic(scaler.transform(x_train), y_train, l2)
            x_test = np.vstack([a[chunks_a[k]], b[chunks_b[k]]])
            y_test = np.r_[np.zeros(len(chunks_a[k])), np.ones(len(chunks_b[k]))]
            scores.append(float((predict_logistic(w, scaler.transform(x_test)) == y_test)
                                .mean()))
    return float(np.mean(scores)), float(np.std(scores))


def discriminate(a: np.ndarray, b: np.ndarray, names: Sequence[str], folds: int = 5,
                 repeats: int = 5, seed: int = 0) -> Discrimination:
    """The classifier test on all features together, on each alone, and the fitted weights.

    `a` and `b` are (tunes, features) arrays with columns named by `names`; NaN marks a value
    a tune does not have.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != len(names) or b.shape[1] != len(names):
        raise MelodyError(f"feature arrays of shape {a.shape} and {b.shape} do not have the "
                          f"{len(names)} columns named")
    accuracy, spread = cross_validated_accuracy(a, b, folds, repeats, seed)
    alone = {name: cross_validated_accuracy(a[:, [i]], b[:, [i]], folds, repeats, seed)[0]
             for i, name in enumerate(names)}
    per_class = min(len(a), len(b))
    rng = np.random.default_rng(seed)
    x = np.vstack([a[rng.permutation(len(a))[:per_class]], b[rng.permutation(len(b))[:per_class]]])
    scaler = Standardizer.fit(x)
    w = fit_logistic(scaler.transform(x), np.r_[np.zeros(per_class), np.ones(per_class)])
    labels = list(names) + [f"{n}^2" for n, sq in zip(names, scaler.squared, strict=True) if sq]
    return Discrimination(accuracy=accuracy, accuracy_std=spread, per_class=per_class,
                          folds=folds, repeats=repeats, feature_accuracy=alone,
                          weights=dict(zip(labels, (float(v) for v in w[1:]), strict=True)))
