"""The CPU kernel a network's recurrent layers run on: the native one for the short calls of
sampling, torch's oneDNN choice for long ones, the same numbers either way."""

from __future__ import annotations

import pytest
import torch

from melodyrnn.models.network import NATIVE_STEP_ROWS, MelodyLSTM


def _flags_seen(net: MelodyLSTM, ids: torch.Tensor) -> list[bool]:
    """The oneDNN flag as the recurrent layers saw it, once per call."""
    seen: list[bool] = []
    handle = net.rnn.register_forward_pre_hook(
        lambda *_: seen.append(torch.backends.mkldnn.enabled))
    try:
        with torch.no_grad():
            net(ids)
    finally:
        handle.remove()
    return seen


@pytest.mark.parametrize(("cell", "rows", "tokens", "native"), [
    ("lstm", 1, 1, True), ("lstm", NATIVE_STEP_ROWS, 1, True), ("lstm", 1, 3, True),
    ("lstm", NATIVE_STEP_ROWS + 1, 1, False), ("lstm", 1, 64, False), ("lstm", 64, 3, False),
    ("gru", 1, 1, False), ("rnn", 1, 1, False),
], ids=lambda v: str(v))
def test_short_lstm_calls_run_natively(cell, rows, tokens, native):
    net = MelodyLSTM(12, cell=cell, embedding_dim=4, hidden_size=8, dropout=0.0).eval()
    assert torch.backends.mkldnn.enabled
    seen = _flags_seen(net, torch.ones(rows, tokens, dtype=torch.long))
    assert seen == [not native]
    assert torch.backends.mkldnn.enabled  # restored for training and everything else


def test_the_native_kernel_computes_what_onednn_does():
    torch.manual_seed(0)
    net = MelodyLSTM(30, embedding_dim=16, hidden_size=32, dropout=0.0).eval()
    ids = torch.randint(1, 30, (5, 1))
    with torch.no_grad():
        _, state = net(torch.randint(1, 30, (5, 7)))
        native, (h, c) = net(ids, state)  # a short call: the native kernel
        output, (h_ref, c_ref) = net.rnn(net._inputs(ids, None), state)  # oneDNN, as torch picks
        onednn = net.decoder(output)
    assert torch.allclose(native, onednn, atol=1e-5)
    assert torch.allclose(h, h_ref, atol=1e-5) and torch.allclose(c, c_ref, atol=1e-5)
