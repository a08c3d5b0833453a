"""PPM models: hand-computed distributions, IDyOM's figures on a toy case, and sanity laws."""

from __future__ import annotations

import math
import random

import pytest

from melodyrnn.evaluate.ppm import ESCAPES, PPMModel, combine_geometric, cross_entropy

ABC = (1, 2, 3)
WITTEN_BELL = {"exclusion": False, "order_minus1": "uniform"}


def test_order0_escape_c_by_hand():
    # counts {1: 2, 2: 1}: n = 3, T = 2, w = 3/5; order -1 gives 1/3 of the rest
    model = PPMModel(ABC, order_bound=0, **WITTEN_BELL).fit([[1, 1, 2]])
    assert model.distribution([]) == pytest.approx([8 / 15, 5 / 15, 2 / 15])


def test_order0_idyom_order_minus1_by_hand():
    # order -1 = 1 / (|A| + 1 - 2 seen) = 1/2: 2/5 + 1/5, 1/5 + 1/5, 1/5, then renormalised
    model = PPMModel(ABC, order_bound=0, exclusion=False).fit([[1, 1, 2]])
    assert model.distribution([]) == pytest.approx([1 / 2, 1 / 3, 1 / 6])


def test_order1_interpolated_by_hand():
    # after 1: {2: 1, 3: 1}, w = 1/2; order 0: {1: 2, 2: 1, 3: 1}, w = 4/7
    model = PPMModel(ABC, order_bound=1, **WITTEN_BELL).fit([[1, 2, 1, 3]])
    assert model.distribution([1]) == pytest.approx([6 / 28, 11 / 28, 11 / 28])


def test_order1_idyom_mixture_matches_ppm_star_lisp():
    # IDyOM's ppm-star (make-ppm '(1 2 3) :order-bound 1), trained on (1 2 1 3), gives
    # (1 0.27777) (2 0.36111) (3 0.36111) after 1: order 0's weight counts only symbol 1
    # (2 and 3 were seen after 1), w = 2/5, and order -1 = 1 / (3 + 1 - 3) = 1.
    model = PPMModel(ABC, order_bound=1).fit([[1, 2, 1, 3]])
    assert model.distribution([1]) == pytest.approx([5 / 18, 13 / 36, 13 / 36])
    unbounded = PPMModel(ABC).fit([[1, 2, 1, 3]])
    assert unbounded.distribution([1]) == pytest.approx([5 / 18, 13 / 36, 13 / 36])


def test_order1_backoff_matches_ppm_star_lisp():
    # :mixtures nil gives (1 0.28571) (2 0.35714) (3 0.35714): 2 and 3 take 1/4 each from the
    # order-1 context, 1 takes 1/2 * 2/5 from order 0, nothing is left unseen; renormalised.
    model = PPMModel(ABC, order_bound=1, interpolated=False).fit([[1, 2, 1, 3]])
    assert model.distribution([1]) == pytest.approx([2 / 7, 5 / 14, 5 / 14])


def test_ppm_star_shortest_deterministic_or_longest_context():
    train = [[1, 2, 3, 1, 2, 4]]
    # after 1 only 2 was seen (twice): the shortest deterministic context, w = 2/3;
    # order 0 then gives c / 10 + 1/10: (0.3, 0.3, 0.2, 0.2)
    star = PPMModel((1, 2, 3, 4), **WITTEN_BELL).fit(train)
    assert star.prob([3, 1], 2) == pytest.approx(2 / 3 + 0.3 / 3)
    # the longest matching context (3, 1) saw 2 once, w = 1/2, and mixes in the order-1 estimate
    longest = PPMModel((1, 2, 3, 4), selection="longest", **WITTEN_BELL).fit(train)
    assert longest.prob([3, 1], 2) == pytest.approx(1 / 2 + (2 / 3 + 0.3 / 3) / 2)


def test_update_exclusion_skips_shorter_contexts():
    # (1 1 1) at order 1: the third 1 is found after 1, so order 0 keeps {1: 2}, not {1: 3}
    excluded = PPMModel((1, 2), order_bound=1, update_exclusion=True, **WITTEN_BELL)
    excluded.fit([[1, 1, 1]])
    assert excluded.prob([], 2) == pytest.approx(1 / 3 * 1 / 2)  # w = 2/3
    full = PPMModel((1, 2), order_bound=1, **WITTEN_BELL).fit([[1, 1, 1]])
    assert full.prob([], 2) == pytest.approx(1 / 4 * 1 / 2)  # w = 3/4


def test_escape_methods_by_hand_at_order0():
    # counts {1: 3, 2: 1}, n = 4, T = 2, one symbol seen once; uniform 1/3 below
    expected_p3 = {"A": 1 / 5, "B": 2 / 4, "C": 2 / 6, "D": 1 / 4, "X": 2 / 6}
    for escape, p3 in expected_p3.items():
        model = PPMModel(ABC, order_bound=0, escape=escape, **WITTEN_BELL).fit([[1, 1, 1, 2]])
        assert model.prob([], 3) == pytest.approx(p3 / 3), escape


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("interpolated", [True, False])
@pytest.mark.parametrize("exclusion", [True, False])
@pytest.mark.parametrize("update_exclusion", [True, False])
@pytest.mark.parametrize("order_bound", [0, 2, None])
def test_distributions_sum_to_one_and_are_positive(escape, interpolated, exclusion,
                                                   update_exclusion, order_bound):
    rng = random.Random(7)
    seqs = [[rng.choice(range(60, 66)) for _ in range(rng.randint(1, 20))] for _ in range(8)]
    model = PPMModel(range(58, 68), order_bound=order_bound, escape=escape,
                     interpolated=interpolated, exclusion=exclusion,
                     update_exclusion=update_exclusion).fit(seqs[:6])
    for seq in seqs[6:]:
        for i in range(len(seq) + 1):
            dist = model.distribution(seq[:i])
            assert math.fsum(dist) == pytest.approx(1.0)
            assert min(dist) > 0


def test_first_note_is_scored_and_learning_changes_the_model():
    model = PPMModel(ABC).fit([[1, 2, 3]])
    bits = model.sequence_bits([2, 2, 2])
    assert len(bits) == 3
    assert bits[0] == pytest.approx(-math.log2(model.prob([], 2)))
    total, count = cross_entropy(model, [[2, 2, 2], [2, 2, 2]], learn=True)
    assert count == 6
    assert total < 2 * sum(bits)  # the second copy is cheaper after learning the first


def test_empty_model_is_uniform():
    assert PPMModel(ABC).distribution([1, 2]) == pytest.approx([1 / 3] * 3)


def test_bad_options_and_symbols_are_refused():
    with pytest.raises(ValueError, match="escape method 'E'"):
        PPMModel(ABC, escape="E")
    with pytest.raises(ValueError, match="order bound -1"):
        PPMModel(ABC, order_bound=-1)
    with pytest.raises(ValueError, match="symbol 9 is not in the alphabet"):
        PPMModel(ABC).fit([[1, 9]])


def test_combine_geometric():
    # bias 0: plain geometric mean, renormalised: sqrt(.45) : sqrt(.05) = 3 : 1
    assert combine_geometric([[0.5, 0.5], [0.9, 0.1]], 0) == pytest.approx([0.75, 0.25])
    # a positive bias favours the lower-entropy (more certain) distribution
    assert combine_geometric([[0.5, 0.5], [0.9, 0.1]], 7)[0] > 0.85
