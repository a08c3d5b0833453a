"""Attention over past outputs and lookback inputs in `MelodyLSTM`: causality, the window,
one token at a time against whole sequences, truncated BPTT's chunks, and the state."""

from __future__ import annotations

import pytest
import torch

import melodyrnn.models.attention as attention_module
from melodyrnn.errors import ConfigError
from melodyrnn.models.attention import AttentionState, WindowAttention
from melodyrnn.models.lookback import BAR_POSITIONS
from melodyrnn.models.network import MelodyLSTM, detach_state

V = 18


def random_features(batch: int, steps: int, seed: int = 0) -> torch.Tensor:
    """(B, T, 5) lookback features with every column in its range."""
    g = torch.Generator().manual_seed(seed)
    columns = [torch.randint(0, BAR_POSITIONS + 1, (batch, steps), generator=g),
               torch.randint(0, V, (batch, steps), generator=g),
               torch.randint(0, V, (batch, steps), generator=g),
               torch.randint(0, 2, (batch, steps), generator=g),
               torch.randint(0, 2, (batch, steps), generator=g)]
    return torch.stack(columns, dim=-1)


def test_attention_sees_only_the_window_before_each_step() -> None:
    torch.manual_seed(0)
    attend = WindowAttention(hidden_size=6, window=3).eval()
    outputs = torch.randn(2, 10, 6)
    memory, filled = attend.empty(2, outputs)
    base, _, _ = attend(outputs, memory, filled)
    changed = outputs.clone()
    changed[:, 5] += 1.0
    after, _, _ = attend(changed, memory, filled)
    differs = (after - base).abs().amax(dim=(0, 2)) > 1e-6  # (T,)
    # step 5 itself (through h_5), and the three steps whose window holds h_5: 6, 7, 8
    assert differs.tolist() == [t in (5, 6, 7, 8) for t in range(10)]


def test_an_empty_window_gives_a_zero_context() -> None:
    attend = WindowAttention(hidden_size=4, window=5)
    outputs = torch.randn(3, 1, 4, requires_grad=True)
    memory, filled = attend.empty(3, outputs)
    attended, memory, filled = attend(outputs, memory, filled)
    zero_context = torch.tanh(attend.combine(torch.cat([outputs, torch.zeros_like(outputs)], -1)))
    torch.testing.assert_close(attended, zero_context)
    attended.sum().backward()  # the masked softmax leaves no NaN in the gradients
    assert outputs.grad is not None and torch.isfinite(outputs.grad).all()
    assert filled.tolist() == [[False] * 4 + [True]] * 3
    assert torch.equal(memory[:, -1:], outputs.detach())


def test_query_blocks_compute_what_one_block_does(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    attend = WindowAttention(hidden_size=5, window=4).eval()
    outputs = torch.randn(2, 23, 5)
    memory, filled = attend.empty(2, outputs)
    whole = attend(outputs, memory, filled)
    monkeypatch.setattr(attention_module, "QUERY_BLOCK", 6)
    blocked = attend(outputs, memory, filled)
    for a, b in zip(whole, blocked, strict=True):
        torch.testing.assert_close(a, b)


OPTIONS = [{"attention": 4}, {"attention": 4, "cell": "gru"}, {"lookback": True},
           {"lookback": True, "input": "onehot"}, {"lookback": True, "attention": 3,
                                                   "cell": "rnn"}]
IDS = ["attention", "attention-gru", "lookback", "lookback-onehot", "both-rnn"]


def network_and_inputs(options: dict) -> tuple[MelodyLSTM, torch.Tensor, torch.Tensor | None]:
    torch.manual_seed(2)
    net = MelodyLSTM(V, embedding_dim=8, hidden_size=12, num_layers=2, **options).eval()
    ids = torch.randint(1, V, (2, 13))
    return net, ids, random_features(2, 13) if net.config.lookback else None


def part(features: torch.Tensor | None, start: int, stop: int) -> torch.Tensor | None:
    return None if features is None else features[:, start:stop]


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_one_token_at_a_time_and_chunks_match_the_whole_sequence(options: dict) -> None:
    net, ids, features = network_and_inputs(options)
    whole, _ = net(ids, None, features)
    state, steps = None, []
    for t in range(ids.size(1)):
        logits, state = net(ids[:, t:t + 1], state, part(features, t, t + 1))
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)
    state, chunks = net.init_state(2), []
    for start in range(0, ids.size(1), 5):  # truncated BPTT's chunks, the state detached
        logits, state = net(ids[:, start:start + 5], state, part(features, start, start + 5))
        chunks.append(logits)
        state = detach_state(state)
    torch.testing.assert_close(torch.cat(chunks, dim=1), whole)


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_a_later_token_never_changes_earlier_logits(options: dict) -> None:
    net, ids, features = network_and_inputs(options)
    whole, _ = net(ids, None, features)
    changed = ids.clone()
    changed[:, 7] = changed[:, 7] % (V - 1) + 1
    if features is not None:
        features = features.clone()
        features[:, 7:] = random_features(2, 13, seed=9)[:, 7:]
    after, _ = net(changed, None, features)
    assert torch.equal(after[:, :7], whole[:, :7])
    assert not torch.allclose(after[:, 7:], whole[:, 7:])


def test_the_state_keeps_its_shape_without_attention_and_carries_the_window_with_it() -> None:
    plain = MelodyLSTM(V, hidden_size=12, lookback=True)
    _, state = plain(torch.ones(2, 3, dtype=torch.long), None, random_features(2, 3))
    assert isinstance(state, tuple) and len(state) == 2  # (h, c), as before
    net = MelodyLSTM(V, hidden_size=12, num_layers=2, attention=4)
    _, state = net(torch.ones(2, 6, dtype=torch.long))
    assert isinstance(state, AttentionState) and isinstance(state.rnn, tuple)
    assert state.memory.shape == (2, 4, 12) and state.filled.all()
    assert net.init_state(2).memory.shape == (2, 4, 12) and not net.init_state(2).filled.any()
    picked = state.index_select(torch.tensor([1, 1]))
    assert torch.equal(picked.memory[0], state.memory[1])
    assert torch.equal(picked.rnn[0][:, 0], state.rnn[0][:, 1])
    assert not detach_state(state).memory.requires_grad


def test_lookback_features_are_required_exactly_when_built_with_them() -> None:
    ids = torch.ones(1, 4, dtype=torch.long)
    with pytest.raises(ConfigError, match="built with lookback, so forward needs the"):
        MelodyLSTM(V, lookback=True)(ids)
    with pytest.raises(ConfigError, match=r"got shape \(1, 3, 5\) for ids of shape \(1, 4\)"):
        MelodyLSTM(V, lookback=True)(ids, None, random_features(1, 3))
    with pytest.raises(ConfigError, match="given to a network built without lookback"):
        MelodyLSTM(V)(ids, None, random_features(1, 4))


def test_options_are_saved_only_when_on() -> None:
    assert "lookback" not in MelodyLSTM(V).options()
    assert "attention" not in MelodyLSTM(V).options()
    on = MelodyLSTM(V, lookback=True, attention=40).options()
    assert on["lookback"] is True and on["attention"] == 40
    assert MelodyLSTM(**on).options() == on
