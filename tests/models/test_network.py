"""MelodyLSTM: shapes, state carrying, option checks, the loss, and truncated BPTT's forward."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from melodyrnn.errors import ConfigError
from melodyrnn.models.network import MelodyLSTM, detach_state, sequence_loss, token_losses

V = 18


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("input_kind", ["embedding", "onehot"])
def test_forward_shapes(cell: str, input_kind: str) -> None:
    net = MelodyLSTM(V, cell=cell, input=input_kind, embedding_dim=8, hidden_size=12,
                     num_layers=2, dropout=0.1)
    ids = torch.randint(0, V, (3, 7))
    logits, state = net(ids)
    assert logits.shape == (3, 7, V)
    hidden = state[0] if cell == "lstm" else state
    assert hidden.shape == (2, 3, 12)
    assert isinstance(state, tuple) == (cell == "lstm")
    zero = net.init_state(3)
    assert type(zero) is type(state)


def test_onehot_input_feeds_vocab_sized_vectors() -> None:
    net = MelodyLSTM(V, input="onehot", hidden_size=10, num_layers=1, dropout=0.0)
    assert net.encoder is None
    assert net.rnn.input_size == V


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_one_token_at_a_time_matches_whole_sequence(cell: str) -> None:
    torch.manual_seed(0)
    net = MelodyLSTM(V, cell=cell, embedding_dim=8, hidden_size=12, num_layers=2).eval()
    ids = torch.randint(0, V, (2, 9))
    whole, _ = net(ids)
    state, steps = net.init_state(2), []
    for t in range(ids.size(1)):
        step_logits, state = net(ids[:, t:t + 1], state)
        steps.append(step_logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)


def test_chunked_forward_with_detached_state_gives_full_bptt_loss() -> None:
    """Truncated BPTT changes where gradients stop, not what the forward pass computes."""
    torch.manual_seed(1)
    net = MelodyLSTM(V, embedding_dim=8, hidden_size=12, num_layers=2).eval()
    ids = torch.randint(1, V, (4, 20))
    targets = torch.randint(1, V, (4, 20))
    full_logits, _ = net(ids)
    full_nats = token_losses(full_logits, targets, pad_id=0).sum()
    state, chunk_nats = None, torch.tensor(0.0)
    for x, y in zip(ids.split(6, dim=1), targets.split(6, dim=1), strict=True):
        logits, state = net(x, state)
        chunk_nats = chunk_nats + token_losses(logits, y, pad_id=0).sum()
        state = detach_state(state)
        assert all(not s.requires_grad for s in state)
    torch.testing.assert_close(chunk_nats, full_nats)


def test_tied_weights_share_one_parameter() -> None:
    net = MelodyLSTM(V, embedding_dim=16, hidden_size=16, tie_weights=True)
    assert net.decoder.weight is net.encoder.weight


@pytest.mark.parametrize(("options", "message"), [
    ({"cell": "transformer"}, "cell 'transformer'"),
    ({"input": "bytes"}, "input 'bytes'"),
    ({"hidden_size": 0}, "hidden_size has to be a positive integer, got 0"),
    ({"num_layers": -1}, "num_layers has to be a positive integer, got -1"),
    ({"dropout": 1.0}, "dropout has to be in [0, 1), got 1.0"),
    ({"pad_id": 99}, "pad_id 99"),
    ({"embedding_dim": 0}, "embedding_dim has to be a positive integer"),
    ({"tie_weights": True, "embedding_dim": 8, "hidden_size": 16},
     "tie_weights needs embedding_dim equal to hidden_size, got embedding_dim 8"),
    ({"tie_weights": True, "input": "onehot", "hidden_size": V}, "tie_weights needs input"),
    ({"lookback": "yes"}, "lookback has to be true or false, got 'yes'"),
    ({"attention": -1}, "attention has to be a window of 0 (off) to 512 tokens, got -1"),
    ({"attention": 513}, "attention has to be a window of 0 (off) to 512 tokens, got 513"),
    ({"attention": 4.5}, "got 4.5"),
    ({"attention": True}, "got True"),
], ids=["cell", "input", "hidden", "layers", "dropout", "pad", "embedding", "tie-dims",
        "tie-onehot", "lookback", "attention-negative", "attention-large", "attention-float",
        "attention-bool"])
def test_bad_options_raise_config_error_naming_the_value(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        MelodyLSTM(V, **options)
    assert message in str(info.value)


def test_loss_ignores_padding_and_matches_log_softmax() -> None:
    torch.manual_seed(2)
    logits = torch.randn(2, 5, V)
    targets = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    per_token = token_losses(logits, targets, pad_id=0)
    assert per_token.shape == (2, 5)
    assert torch.all(per_token[targets == 0] == 0)
    log_probs = F.log_softmax(logits, dim=-1)
    expected = [-log_probs[b, t, targets[b, t]] for b in range(2) for t in range(5)
                if targets[b, t] != 0]
    torch.testing.assert_close(sequence_loss(logits, targets, pad_id=0),
                               torch.stack(expected).mean())


def test_loss_is_finite_for_huge_logits() -> None:
    logits = torch.zeros(1, 2, V)
    logits[0, :, 5] = 1e4  # a softmax would round the other tokens' probability to 0
    loss = sequence_loss(logits, torch.tensor([[5, 6]]), pad_id=0)
    assert math.isfinite(loss.item())
    assert loss.item() == pytest.approx(1e4 / 2, rel=1e-4)
