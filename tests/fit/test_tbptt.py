"""TBPTT(k1, k2): the spans of each update, and how far back its gradient reaches."""

from __future__ import annotations

import pytest
import torch

from melodyrnn.errors import ConfigError
from melodyrnn.fit.module import MelodyLightningModule
from melodyrnn.fit.tbptt import common_length, spans, truncated_bptt
from melodyrnn.models.lookback import none_features
from melodyrnn.models.network import MelodyLSTM, sequence_loss


def test_spans_of_tied_and_longer_k2() -> None:
    assert spans(10, 4, 4) == [(0, 0, 4), (4, 4, 8), (8, 8, 10)]
    assert spans(10, 4, 6) == [(0, 0, 4), (2, 4, 8), (6, 8, 10)]
    assert spans(10, 4, 100) == [(0, 0, 4), (0, 4, 8), (0, 8, 10)]
    with pytest.raises(ValueError, match="k1 <= k2"):
        spans(10, 4, 2)


def _reach(k1: int, k2: int) -> list[int]:
    """Positions whose input embedding gets a gradient from each update, per update."""
    torch.manual_seed(0)
    net = MelodyLSTM(10, embedding_dim=4, hidden_size=6, num_layers=1, dropout=0.0, cell="rnn")
    inputs = torch.randint(1, 10, (1, 12))
    targets = torch.randint(1, 10, (1, 12))
    reached: list[int] = []
    embedded = {}

    def hook(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        embedded[len(embedded)] = (args[0], out)

    handle = net.encoder.register_forward_hook(hook)  # type: ignore[union-attr]

    def update(loss: torch.Tensor) -> None:
        loss.backward()
        ids, out = embedded[max(embedded)]  # the update's forward with a graph
        first = int((out.grad.abs().sum(-1) > 0).nonzero()[0, 1])
        reached.append(first - ids.size(1))  # how many steps before the update's end

    truncated_bptt(net, inputs, targets, None, k1, k2,
                   lambda lg, tg: sequence_loss(lg, tg, 0), update)
    handle.remove()
    return reached


def test_gradient_reaches_k2_steps_back() -> None:
    # four steps per update; the last update of a 12-step window reaches back k2 steps
    assert _reach(4, 4) == [-4, -4, -4]
    assert _reach(4, 8) == [-4, -8, -8]


def test_k2_below_k1_or_without_k1_is_refused() -> None:
    with pytest.raises(ConfigError, match="tbptt_k2 has to be at least tbptt_steps"):
        MelodyLightningModule(vocab_size=10, tbptt_steps=8, tbptt_k2=4)
    with pytest.raises(ConfigError, match="needs tbptt_steps"):
        MelodyLightningModule(vocab_size=10, tbptt_k2=4)


def test_common_length_pads_to_the_longest_batch_of_any_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = torch.tensor([[1, 4, 5], [1, 6, 0]])
    targets = torch.tensor([[4, 5, 2], [6, 2, 0]])
    lookback = torch.ones(2, 3, 5, dtype=torch.long)
    assert common_length(inputs, targets, lookback, pad_id=0)[0] is inputs  # one process

    def other_process_has_5(tensor: torch.Tensor, op: object = None) -> None:
        tensor.fill_(max(int(tensor), 5))  # what all_reduce(MAX) gives with a batch of 5 there

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", other_process_has_5)
    padded_inputs, padded_targets, padded_lookback = common_length(inputs, targets, lookback, 0)
    assert padded_inputs.tolist() == [[1, 4, 5, 0, 0], [1, 6, 0, 0, 0]]
    assert padded_targets.tolist() == [[4, 5, 2, 0, 0], [6, 2, 0, 0, 0]]
    assert padded_lookback is not None and padded_lookback.shape == (2, 5, 5)
    assert padded_lookback[:, 3:].tolist() == [[list(none_features(0))] * 2] * 2
    assert padded_lookback[:, :3].eq(1).all()
