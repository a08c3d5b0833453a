"""The lab's training loop: updates counted, seeds repeat, the best epoch kept, divergence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from melodyrnn.lab.data import load_lab_data
from melodyrnn.lab.train import BASE, bits_per_note, build_network, train

SMALL = dataclasses.replace(BASE, hidden_size=16, embedding_dim=8, seq_len=32, batch_size=8)


def test_windows_are_packed_as_fit_packs_them(scales_dataset: Path) -> None:
    data = load_lab_data(scales_dataset)
    inputs, targets = data.windows("train", 32)
    tokens = torch.from_numpy(data.splits["train"].tokens.astype("int64"))
    assert inputs.shape == targets.shape and inputs.size(1) == 32
    assert torch.equal(inputs.flatten()[:len(tokens)], tokens[:inputs.numel()])
    assert not (targets == data.bos_id).any()  # the BOS after an EOS is not predicted
    assert data.notes("valid") == int(data.is_note[torch.from_numpy(
        data.splits["valid"].tokens.astype("int64"))].sum())


def test_seeded_runs_repeat_and_tbptt_counts_updates(scales_dataset: Path) -> None:
    data = load_lab_data(scales_dataset)
    settings = dataclasses.replace(SMALL, batches=3, keep_best=False)
    first = train(build_network(data, settings), data, settings)
    again = train(build_network(data, settings), data, settings)
    assert first.losses == again.losses and len(first.losses) == 3
    chunked = dataclasses.replace(settings, k1=8, k2=16)
    log = train(build_network(data, chunked), data, chunked)
    assert len(log.losses) == 3 * 32 // 8  # one update per 8 steps of each 32-step window
    assert log.epochs == pytest.approx(3 * 8 / len(data.windows("train", 32)[0]))


def test_the_best_epoch_is_kept(scales_dataset: Path) -> None:
    data = load_lab_data(scales_dataset)
    settings = dataclasses.replace(SMALL, batches=60)
    net = build_network(data, settings)
    log = train(net, data, settings)
    assert log.best_epoch is not None and len(log.valid_bpn) >= 3
    assert bits_per_note(net, data) == pytest.approx(min(log.valid_bpn), rel=1e-5)
    assert log.valid_bpn[log.best_epoch - 1] == min(log.valid_bpn)
    assert min(log.valid_bpn) < log.valid_bpn[0]  # scale runs are learnt


def test_a_run_that_blows_up_stops(scales_dataset: Path) -> None:
    data = load_lab_data(scales_dataset)
    settings = dataclasses.replace(SMALL, cell="rnn", optimizer="sgd", lr=1e4, clip_norm=0.0,
                                   batches=200)
    log = train(build_network(data, settings), data, settings)
    assert log.diverged_at is not None and log.diverged_at == len(log.losses) < 200
