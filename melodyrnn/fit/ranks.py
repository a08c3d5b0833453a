"""What each training process saw and ended with: `RankRecord`, a check of a data-parallel run.

Under DDP every process trains on its own share of the batches (Lightning's DistributedSampler)
and every optimizer step averages the gradients of all of them, so the processes must see
different batches and end with the same weights. `RankRecord` writes down both, one JSON file
per process, and at the end of fit says on the first process whether the weights agree:

    melodyrnn fit --config configs/tiny.yaml --data.path DATA --trainer.strategy ddp \\
        --trainer.callbacks+=melodyrnn.fit.ranks.RankRecord --trainer.callbacks.folder ranks

`{folder}/rank{R}.json` holds the process's global rank, node rank, local rank and world size,
a digest of the input ids of every training batch it trained on, in order, the global step it
ended at and a digest of its weights (`weights_digest`, the same for a checkpoint's
state_dict). A digest is the first 16 hex digits of SHA-256; no token ids are written.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from melodyrnn._files import atomic_write_text

_DIGITS = 16  # hex digits of a digest: 64 bits, no collision among a run's batches


def tensor_digest(*tensors: torch.Tensor) -> str:
    """SHA-256 of the tensors' dtypes, shapes and bytes (on the CPU), as 16 hex digits."""
    sha = hashlib.sha256()
    for tensor in tensors:
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        sha.update(f"{flat.dtype}{tuple(tensor.shape)}".encode())
        sha.update(flat.view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()[:_DIGITS]


def weights_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """A digest of every tensor of a state_dict, by name in sorted order."""
    sha = hashlib.sha256()
    for name in sorted(state_dict):
        sha.update(name.encode())
        sha.update(tensor_digest(state_dict[name]).encode())
    return sha.hexdigest()[:_DIGITS]


class RankRecord(Callback):
    """Writes `{folder}/rank{R}.json` per process: digests of its batches and final weights."""

    def __init__(self, folder: str = "ranks") -> None:
        """Remember where the records go.

        Args:
            folder: Directory for rank{R}.json, one file per process (made if missing).
        """
        self.folder = Path(folder)
        self.batches: list[str] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.batches = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self.batches.append(tensor_digest(batch[0]))  # the (B, T) input ids

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        weights = weights_digest(pl_module.state_dict())
        record = {"global_rank": trainer.global_rank, "node_rank": trainer.node_rank,
                  "local_rank": trainer.local_rank, "world_size": trainer.world_size,
                  "global_step": trainer.global_step, "batches": self.batches,
                  "weights": weights}
        path = self.folder / f"rank{trainer.global_rank}.json"
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")  # WriteError naming it
        # the first process's digest to all, then whether every one matched it
        first = trainer.strategy.broadcast(weights)
        agree = trainer.strategy.reduce_boolean_decision(weights == first, all=True)
        if trainer.is_global_zero:
            verdict = ("the same weights on every process" if agree
                       else "DIFFERENT weights on some processes")
            print(f"melodyrnn: rank record: {trainer.world_size} process(es), "
                  f"{len(self.batches)} batches on this one, {verdict}; wrote {self.folder}",
                  file=sys.stderr)
