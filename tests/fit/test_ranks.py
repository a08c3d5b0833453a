"""RankRecord: digests of tensors and weights, and the record a run writes per process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from melodyrnn.fit.cli import make_cli
from melodyrnn.fit.ranks import tensor_digest, weights_digest


def test_tensor_digest_tells_values_dtypes_and_shapes_apart() -> None:
    ids = torch.arange(6)
    assert tensor_digest(ids) == tensor_digest(torch.arange(6))
    assert len(tensor_digest(ids)) == 16
    assert tensor_digest(ids) != tensor_digest(torch.tensor([0, 1, 2, 3, 4, 6]))
    assert tensor_digest(ids) != tensor_digest(ids.reshape(2, 3))
    assert tensor_digest(ids) != tensor_digest(ids.to(torch.int32))
    assert tensor_digest(ids.reshape(2, 3).t()) == tensor_digest(ids.reshape(2, 3).t().clone())


def test_weights_digest_follows_names_not_their_order() -> None:
    a, b = torch.zeros(2), torch.ones(3, dtype=torch.bfloat16)
    assert weights_digest({"a": a, "b": b}) == weights_digest({"b": b, "a": a})
    assert weights_digest({"a": a, "b": b}) != weights_digest({"a": b, "b": a})
    assert weights_digest({"a": a}) != weights_digest({"a": a + 1e-7})


@pytest.mark.slow
def test_a_run_on_one_process_records_its_batches_and_checkpointed_weights(
        scales_dataset: Path, tmp_path: Path, configs_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    make_cli(["fit", "--config", str(configs_dir / "tiny.yaml"), "--data.path",
              str(scales_dataset), "--trainer.default_root_dir", str(tmp_path / "runs"),
              "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
              "--trainer.enable_progress_bar", "false",
              "--trainer.callbacks+=melodyrnn.fit.ranks.RankRecord",
              "--trainer.callbacks.folder", str(tmp_path / "ranks")])
    record = json.loads((tmp_path / "ranks" / "rank0.json").read_text())
    assert (record["global_rank"], record["world_size"], record["global_step"]) == (0, 1, 3)
    assert len(record["batches"]) == len(set(record["batches"])) == 3
    last = torch.load(tmp_path / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt",
                      weights_only=True)
    assert weights_digest(last["state_dict"]) == record["weights"]
    assert "1 process(es), 3 batches on this one, the same weights" in capsys.readouterr().err
