"""The short-term model (STM) of each melody: the fast one equals PPMModel with IDyOM's STM
options, its combination equals combine_geometric, and evaluate's STM row equals a slow
reference built from PPMModel and combine_geometric."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.errors import ConfigError
from melodyrnn.evaluate.ppm import PPMModel, combine_geometric
from melodyrnn.evaluate.stm import check_bias, combine_log_probs, stm_distributions

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_JSON = ROOT / "melodyrnn" / "assets" / "models" / "folk" / "bundle.json"


def _slow_stm(seq: list[int], vocab_size: int) -> np.ndarray:
    """PPMModel as IDyOM's STM, learning each token after predicting it (the first is given)."""
    model = PPMModel(range(vocab_size), order_bound=None, escape="X", interpolated=True,
                     exclusion=True, update_exclusion=True, selection="deterministic",
                     order_minus1="idyom")
    rows = []
    for i in range(1, len(seq)):
        rows.append(model.distribution(seq[:i]))
        model.observe(seq[:i], seq[i])
    return np.array(rows, dtype=np.float64).reshape(max(len(seq) - 1, 0), vocab_size)


def _assert_same_stm(seq: list[int], vocab_size: int) -> None:
    fast, slow = stm_distributions(seq, vocab_size), _slow_stm(seq, vocab_size)
    assert fast.shape == slow.shape == (max(len(seq) - 1, 0), vocab_size)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_stm_by_hand():
    dist = stm_distributions([0, 1, 2, 1, 2], 3)
    assert dist[0] == pytest.approx([1 / 3] * 3)  # nothing learnt yet: uniform
    # after learning 1 once: order 0 has c(1) = 1, n = 1, T1 = 1, so w = 1/3; order -1 is
    # 1 / (3 + 1 - 1) = 1/3 each: p(1) = 1/3 + 2/3 * 1/3 = 5/9, the others 2/9
    assert dist[1] == pytest.approx([2 / 9, 5 / 9, 2 / 9])
    assert dist.sum(axis=1) == pytest.approx(np.ones(4))
    # after 0 1 2 1: the context 1 was followed by 2 before; 1 was learnt, 0 never was
    assert dist[3, 2] > dist[3, 1] > dist[3, 0]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6).flatmap(lambda v: st.tuples(
    st.just(v), st.lists(st.integers(0, v - 1), max_size=60))))
def test_fast_stm_equals_ppm_model(case):
    vocab_size, seq = case
    _assert_same_stm(seq, vocab_size)


@pytest.mark.parametrize("seed", range(6))
def test_fast_stm_equals_ppm_model_on_repeated_phrases(seed):
    """Phrases played again, some changed: long contexts, ties and update exclusion at work."""
    rng = random.Random(seed)
    vocab_size = rng.randint(3, 12)
    phrase = [rng.randrange(vocab_size) for _ in range(rng.randint(4, 16))]
    seq = [0]
    for _ in range(rng.randint(2, 5)):
        seq += [s if rng.random() < 0.85 else rng.randrange(vocab_size) for s in phrase]
    _assert_same_stm(seq, vocab_size)


@pytest.fixture(scope="module")
def folk_tokenizer():
    """The bundled model's tokenizer (718 tokens), from its bundle.json without torch."""
    from melodyrnn.tokenizers import load_tokenizer

    return load_tokenizer(json.loads(BUNDLE_JSON.read_text(encoding="utf-8"))["tokenizer"])


@pytest.mark.parametrize("tune", ["oneills_97.abc", "ryansMammoth/7thRegimentReel.abc",
                                  "ryansMammoth/42dHighlandRegimentStrathspey.abc"])
def test_fast_stm_equals_ppm_model_on_real_tunes(tune, data_dir, music21_corpus_file,
                                                 folk_tokenizer):
    from melodyrnn.prepare.extract import read_melodies

    path = data_dir / tune if "/" not in tune else music21_corpus_file(tune)
    [melody] = read_melodies(path, steps_per_quarter=24)  # the bundle's grid
    seq = folk_tokenizer.encode(melody)
    assert len(seq) > 250  # AABB tunes: long repeated contexts
    _assert_same_stm(seq, folk_tokenizer.vocab_size)


def test_stm_refuses_tokens_outside_the_vocabulary():
    with pytest.raises(ConfigError, match="outside a vocabulary of 3"):
        stm_distributions([0, 1, 3], 3)


def _random_log_dists(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    logits = rng.normal(scale=3.0, size=(rows, size))
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def test_bias_0_is_the_plain_geometric_mean():
    rng = np.random.default_rng(0)
    a, b = _random_log_dists(rng, 5, 7), _random_log_dists(rng, 5, 7)
    mean = np.sqrt(np.exp(a) * np.exp(b))
    np.testing.assert_allclose(np.exp(combine_log_probs([a, b], 0.0)),
                               mean / mean.sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("bias", [0.0, 0.5, 2.0, 7.0])
def test_combination_equals_combine_geometric(bias):
    rng = np.random.default_rng(1)
    a, b = _random_log_dists(rng, 4, 9), _random_log_dists(rng, 4, 9)
    b[0] = np.log(np.full(9, 1 / 9))  # a uniform model: weight 1 whatever the bias
    fast = np.exp(combine_log_probs([a, b], bias))
    for row in range(4):
        slow = combine_geometric([np.exp(a[row]).tolist(), np.exp(b[row]).tolist()], bias)
        np.testing.assert_allclose(fast[row], slow, rtol=1e-10)


@pytest.mark.parametrize("bad", ["-1", "nan", "inf", "two", ""])
def test_bad_biases_are_refused_naming_the_value(bad):
    with pytest.raises(ConfigError, match=f"STM bias '?{bad}'?"):
        check_bias(bad)
    assert check_bias("0") == 0.0 and check_bias(2.5) == 2.5


def _slow_stm_row(model, sequences: list[list[int]], bias: float) -> tuple[float, int]:
    """(nats, correct) of the network and PPMModel's STM combined by combine_geometric, token
    by token, each sequence run through the network alone."""
    import torch

    from melodyrnn.models.lookback import batch_features, uses_lookback

    network = model.network.eval()
    vocab_size = model.tokenizer.vocab_size
    total, correct = 0.0, 0
    for seq in sequences:
        ids = torch.tensor([seq[:-1]])
        features = batch_features(model.tokenizer, [seq[:-1]], len(seq) - 1) \
            if uses_lookback(network) else None
        with torch.no_grad():
            logits, _ = network(ids, None, features)
        probs = torch.softmax(logits[0].double(), dim=-1).tolist()
        stm = PPMModel(range(vocab_size), order_bound=None, escape="X", interpolated=True,
                       exclusion=True, update_exclusion=True, selection="deterministic",
                       order_minus1="idyom")
        for i in range(1, len(seq)):
            mixed = combine_geometric([probs[i - 1], stm.distribution(seq[:i])], bias)
            total += math.log(mixed[seq[i]])
            correct += int(max(range(vocab_size), key=mixed.__getitem__) == seq[i])
            stm.observe(seq[:i], seq[i])
    return total, correct


@pytest.mark.slow
def test_stm_row_equals_a_slow_reference(tiny_model, tiny_data):
    import melodyrnn as mr
    from melodyrnn.evaluate.likelihood import evaluate_dataset, read_sequences

    model = mr.load_model(tiny_model)
    results = evaluate_dataset(model, tiny_data, "test", baseline=False, stm_bias=2.0)
    row, plain = results["model + STM"], results["model"]
    assert (row.tokens, row.notes) == (plain.tokens, plain.notes)
    assert row.extra["stm_bias"] == 2.0 and row.extra["stm_bias_from"] == "given"
    nats, correct = _slow_stm_row(model, read_sequences(tiny_data, "test"), 2.0)
    assert row.log_likelihood == pytest.approx(nats, rel=1e-6)
    assert abs(row.correct - correct) <= 1  # a near tie may fall either way in float32
    assert row.bits_per_note != pytest.approx(plain.bits_per_note)


@pytest.mark.slow
def test_the_bias_is_the_best_of_the_grid_on_valid(tiny_model, tiny_data):
    import melodyrnn as mr
    from melodyrnn.evaluate.likelihood import STM_BIASES, evaluate_dataset

    model = mr.load_model(tiny_model)
    row = evaluate_dataset(model, tiny_data, "test", baseline=False, stm=True)["model + STM"]
    by_bias = row.extra["valid_nats_per_token_by_bias"]
    assert row.extra["stm_bias_from"] == "valid"
    assert list(by_bias) == [f"{b:g}" for b in STM_BIASES]
    assert f"{row.extra['stm_bias']:g}" == min(by_bias, key=by_bias.__getitem__)
    given = evaluate_dataset(model, tiny_data, "test", baseline=False,
                             stm_bias=row.extra["stm_bias"])["model + STM"]
    assert given.log_likelihood == pytest.approx(row.log_likelihood, rel=1e-12)
