"""The lab's training loop: a network of the package, trained on packed windows, every update
recorded (loss, gradient norm before clipping, seconds).

It is `fit`'s training reduced to what an experiment needs: the same network
(`models/network.py`), loss (cross-entropy over real targets), clipping (by total norm, then by
value, as `fit/module.py` does) and truncated BPTT (`fit/tbptt.py`), with no Lightning
machinery, so that a run of a few hundred updates takes seconds and each update can be watched.
A run stops where `fit` would stop it (`fit/guards.py`): at a loss that is not finite, or above
2 ln V nats per token for 5 updates running.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from melodyrnn.fit.guards import DIVERGED_PATIENCE, loss_limit
from melodyrnn.fit.module import clip_gradients
from melodyrnn.fit.tbptt import truncated_bptt
from melodyrnn.lab.data import LabData
from melodyrnn.models.network import MelodyLSTM, NetworkConfig, sequence_loss, token_losses


@dataclass(frozen=True)
class TrainSettings:
    """A small network and how to train it; every lab run is one of these (JSON-able)."""

    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    input: Literal["embedding", "onehot"] = "embedding"
    embedding_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 6e-3
    batches: int = 1200  # batches of windows; each gives one update, or T / k1 with TBPTT
    batch_size: int = 16
    seq_len: int = 128
    clip_norm: float = 1.0  # 0 = off
    clip_value: float = 0.0  # 0 = off
    k1: int = 0  # truncated BPTT: one update every k1 steps (0 = full BPTT of the window)
    k2: int = 0  # ... each backpropagating k2 steps (0 = k1)
    keep_best: bool = True  # measure valid after each epoch, end with the best weights
    seed: int = 0

    def network(self, vocab_size: int, pad_id: int) -> NetworkConfig:
        """The network these settings train."""
        return NetworkConfig(vocab_size, cell=self.cell, input=self.input,
                             embedding_dim=self.embedding_dim, hidden_size=self.hidden_size,
                             num_layers=self.num_layers, dropout=self.dropout, pad_id=pad_id)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainLog:
    """What one run did, update by update."""

    losses: list[float] = field(default_factory=list)  # nats per target token
    grad_norms: list[float] = field(default_factory=list)  # total L2 norm before clipping
    seconds: float = 0.0  # training time, evaluation excluded
    epochs: float = 0.0  # passes over the training windows
    diverged_at: int | None = None  # the update where the run was stopped, if it was
    valid_bpn: list[float] = field(default_factory=list)  # after each epoch, with keep_best
    best_epoch: int | None = None  # the epoch whose weights the network ends with

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_network(data: LabData, settings: TrainSettings) -> MelodyLSTM:
    """A freshly initialised network, the same for the same settings and seed."""
    torch.manual_seed(settings.seed)
    return MelodyLSTM(settings.network(data.vocab_size, data.pad_id))


def train(net: MelodyLSTM, data: LabData, settings: TrainSettings) -> TrainLog:
    """Train `net` in place for `settings.batches` batches of training windows."""
    inputs, targets = data.windows("train", settings.seq_len)  # (N, T) each
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer: torch.optim.Optimizer = (
        torch.optim.SGD(net.parameters(), lr=settings.lr) if settings.optimizer == "sgd"
        else torch.optim.Adam(net.parameters(), lr=settings.lr))
    log, limit, bad = TrainLog(), loss_limit(data.vocab_size), 0
    order = torch.empty(0, dtype=torch.long)
    best: dict[str, Tensor] | None = None
    net.train()
    began, measuring = time.perf_counter(), 0.0

    def update(loss: Tensor) -> None:
        nonlocal bad
        optimizer.zero_grad()
        loss.backward()
        log.grad_norms.append(float(clip_gradients(net, settings.clip_norm, settings.clip_value)))
        optimizer.step()
        value = float(loss.detach())
        log.losses.append(value)
        bad = bad + 1 if not value <= limit else 0
        if not math.isfinite(value) or bad >= DIVERGED_PATIENCE:
            raise _Diverged

    def score(logits: Tensor, chunk_targets: Tensor) -> Tensor:
        return sequence_loss(logits, chunk_targets, data.pad_id)

    try:
        for batch in range(settings.batches):
            if len(order) == 0:
                if batch and settings.keep_best:
                    measuring -= time.perf_counter()
                    best = _measure_epoch(net, data, log, best)
                    measuring += time.perf_counter()
                order = torch.randperm(len(inputs), generator=generator)
            pick, order = order[:settings.batch_size], order[settings.batch_size:]
            log.epochs += len(pick) / len(inputs)
            batch_inputs, batch_targets = inputs[pick], targets[pick]
            if settings.k1:
                truncated_bptt(net, batch_inputs, batch_targets, None, settings.k1,
                               settings.k2 or settings.k1, score, update)
            else:
                logits, _ = net(batch_inputs)  # (B, T, V)
                update(score(logits, batch_targets))
    except _Diverged:
        log.diverged_at = len(log.losses)
    log.seconds = time.perf_counter() - began - measuring
    if settings.keep_best and log.diverged_at is None:
        best = _measure_epoch(net, data, log, best)
    if best is not None:
        net.load_state_dict(best)
    net.eval()
    return log


def _measure_epoch(net: MelodyLSTM, data: LabData, log: TrainLog,
                   best: dict[str, Tensor] | None) -> dict[str, Tensor] | None:
    """Valid bits per note after an epoch; the weights to keep if they are the best yet."""
    log.valid_bpn.append(bits_per_note(net, data, "valid"))
    net.train()
    if log.best_epoch is None or log.valid_bpn[-1] < log.valid_bpn[log.best_epoch - 1]:
        log.best_epoch = len(log.valid_bpn)
        return {k: v.detach().clone() for k, v in net.state_dict().items()}
    return best


class _Diverged(Exception):
    """Raised inside an update to end a run that blew up."""


@torch.no_grad()
def bits_per_note(net: MelodyLSTM, data: LabData, split: str = "valid",
                  seq_len: int = 512) -> float:
    """The split's total cross-entropy in bits over its notes, windows of `seq_len` tokens."""
    inputs, targets = data.windows(split, seq_len)
    net.eval()
    nats = 0.0
    for start in range(0, len(inputs), 64):
        logits, _ = net(inputs[start:start + 64])  # (b, T, V)
        nats += float(token_losses(logits, targets[start:start + 64], data.pad_id).sum())
    return nats / math.log(2) / max(1, data.notes(split))


# the network every experiment starts from, each changing what it studies. On essen-kinder the
# LSTM reaches 3.58 valid bits per note after 1,200 batches of 16 at 6e-3 (best epoch 161 of 172,
# levelling off), where 300 batches of 32 at 3e-3 left it at 5.13 and still falling
BASE = TrainSettings()

_TRAINED: dict[tuple[str, TrainSettings], tuple[MelodyLSTM, TrainLog]] = {}


def trained(data: LabData, settings: TrainSettings) -> tuple[MelodyLSTM, TrainLog]:
    """A network trained with `settings`, trained once per process (`lab all` shares them)."""
    key = (data.describe()["tokens_sha1"], settings)
    if key not in _TRAINED:
        net = build_network(data, settings)
        _TRAINED[key] = (net, train(net, data, settings))
    return _TRAINED[key]
