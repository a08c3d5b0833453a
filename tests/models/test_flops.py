"""Model FLOPs per token: twice the weights each token is multiplied by."""

from __future__ import annotations

import pytest

from melodyrnn.models.flops import flops_per_token, mfu, peak_tflops
from melodyrnn.models.network import MelodyLSTM, NetworkConfig


def _matrix_weights(network: MelodyLSTM) -> int:
    """The entries of every weight matrix a token goes through (embedding tables aside)."""
    return sum(p.numel() for name, p in network.named_parameters()
               if p.dim() == 2 and "encoder" not in name.split(".")[0])


@pytest.mark.parametrize("options", [
    dict(cell="lstm", hidden_size=32, num_layers=2, embedding_dim=16),
    dict(cell="gru", hidden_size=24, num_layers=1, embedding_dim=8),
    dict(cell="rnn", hidden_size=16, num_layers=3, input="onehot"),
    dict(cell="lstm", hidden_size=32, num_layers=1, embedding_dim=16, lookback=True),
])
def test_forward_flops_are_two_per_matrix_weight(options: dict) -> None:
    config = NetworkConfig(40, **options)
    network = MelodyLSTM(config)
    assert flops_per_token(config) == 2 * _matrix_weights(network)
    assert flops_per_token(config, training=True) == 3 * flops_per_token(config)


def test_attention_adds_its_projections_and_window() -> None:
    plain, attended = NetworkConfig(40, hidden_size=32), NetworkConfig(40, hidden_size=32,
                                                                       attention=8)
    extra = flops_per_token(attended) - flops_per_token(plain)
    projections = 2 * _matrix_weights(MelodyLSTM(attended).attention)  # type: ignore[arg-type]
    assert extra == projections + 2 * 2 * 8 * 32


def test_mfu_and_peaks() -> None:
    config = NetworkConfig(40, hidden_size=32)
    assert mfu(1e12 / flops_per_token(config), config, peak=1.0) == pytest.approx(1.0)
    assert peak_tflops("NVIDIA H200", "bf16-mixed") == 989.0
    assert peak_tflops("Some GPU", "bf16-mixed") is None
