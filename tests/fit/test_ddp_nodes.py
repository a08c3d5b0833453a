"""DDP across machines, played on this one: two `melodyrnn fit` processes as nodes 0 and 1 of
one CPU process each, meeting over the loopback address (gloo), as two machines of a cluster
would over the network (`--trainer.num_nodes 2`, NODE_RANK, MASTER_ADDR, MASTER_PORT)."""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.fit.ranks import weights_digest

ROOT = Path(__file__).resolve().parents[2]
SEQ_LEN, BATCH_SIZE = 32, 16  # configs/tiny.yaml's
# A hang (a collective one process never reaches) fails the test instead of blocking it.
PROCESS_TIMEOUT_S = 600
# What would make Lightning think it runs under SLURM or torchrun instead of on its own.
_LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "LOCAL_WORLD_SIZE",
                       "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_env(node_rank: int, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in _LAUNCHER_VARIABLES and not key.startswith(("SLURM_", "TORCHELASTIC_"))}
    env.update(NODE_RANK=str(node_rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p))
    if sys.platform.startswith("linux"):  # gloo would take the interface of the host name
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def _run_two_nodes(command: list[str], cwd: Path) -> list[subprocess.CompletedProcess]:
    """Start node 0 and node 1 together; both finished, or both killed at the timeout."""
    port = _free_port()
    children = [subprocess.Popen(command, cwd=cwd, env=_node_env(rank, port), text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for rank in (0, 1)]
    done = []
    try:
        for child in children:
            out, err = child.communicate(timeout=PROCESS_TIMEOUT_S)
            done.append(subprocess.CompletedProcess(command, child.returncode, out, err))
    except subprocess.TimeoutExpired:
        tails = []
        for rank, child in enumerate(children):
            child.kill()
            out, err = child.communicate()
            tails.append(f"node {rank} stderr:\n{err[-1500:]}")
        pytest.fail(f"DDP over loopback hung for {PROCESS_TIMEOUT_S} s\n" + "\n".join(tails))
    return done


def _batches_per_rank(dataset: Path, packing: str) -> int:
    """Batches each of two processes gets when DistributedSampler shares the train split."""
    data = MelodyDataModule(str(dataset), batch_size=BATCH_SIZE, seq_len=SEQ_LEN,
                            packing=packing)
    items = math.ceil(len(data.make_dataset("train")) / 2)
    return math.ceil(items / BATCH_SIZE) if packing == "pack" else items  # pad: items are batches


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--data.packing", "pad", "--model.tbptt_steps", "8"]],
                         ids=["pack", "pad-tbptt"])
def test_two_nodes_over_loopback_share_batches_and_agree(scales_dataset: Path, tmp_path: Path,
                                                         configs_dir: Path,
                                                         extra: list[str]) -> None:
    runs, records = tmp_path / "runs", tmp_path / "ranks"
    command = [sys.executable, "-m", "melodyrnn", "fit", "--config",
               str(configs_dir / "tiny.yaml"), "--data.path", str(scales_dataset),
               "--trainer.default_root_dir", str(runs), "--trainer.max_epochs", "1",
               "--trainer.enable_progress_bar", "false",
               "--trainer.accelerator", "cpu", "--trainer.devices", "1",
               "--trainer.strategy", "ddp", "--trainer.num_nodes", "2",
               "--trainer.callbacks+=melodyrnn.fit.ranks.RankRecord",
               "--trainer.callbacks.folder", str(records), *extra]
    node0, node1 = _run_two_nodes(command, tmp_path)
    for rank, done in enumerate((node0, node1)):
        assert done.returncode == 0, f"node {rank}:\n{done.stderr[-3000:]}"

    first, second = (json.loads((records / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (first["global_rank"], second["global_rank"]) == (0, 1)
    assert (first["node_rank"], second["node_rank"]) == (0, 1)
    assert first["world_size"] == second["world_size"] == 2
    # DistributedSampler: half the batches each, none of them on both processes
    packing = "pad" if "pad" in extra else "pack"
    assert len(first["batches"]) == len(second["batches"]) \
        == _batches_per_rank(scales_dataset, packing)
    assert not set(first["batches"]) & set(second["batches"])
    # every step averaged the gradients: the same weights, and those are in last.ckpt
    assert first["global_step"] == second["global_step"] > 0
    assert first["weights"] == second["weights"]
    run = runs / "tiny" / "version_0"
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert weights_digest(last["state_dict"]) == first["weights"]
    assert last["global_step"] == first["global_step"]

    # the first process wrote the run folder as a run on one machine would, alone
    assert sorted(p.name for p in (runs / "tiny").iterdir()) == ["version_0"]
    assert {p.name for p in run.iterdir()} >= {"checkpoints", "config.yaml", "hparams.yaml",
                                              "metrics.csv"}
    saved = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert saved == [f"best-epoch=0-step={first['global_step']}.ckpt", "last.ckpt"]
    with open(run / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    steps = [row["step"] for row in rows if row.get("train_loss_step")]
    assert steps and len(steps) == len(set(steps))  # one writer: no step logged twice
    assert sum(1 for row in rows if row.get("val_loss")) == 1
    assert f"last checkpoint {run / 'checkpoints' / 'last.ckpt'}" in node0.stdout
    assert "checkpoint" not in node1.stdout  # the summary is said once
    assert "the same weights on every process" in node0.stderr
