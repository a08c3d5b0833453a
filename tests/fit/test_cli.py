"""Training through the CLI on a tiny synthetic dataset: metrics, variants, clipping, resume,
seeds, errors, the shipped configs and DDP."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from melodyrnn.fit.cli import make_cli, run_cli
from melodyrnn.prepare.shards import read_split


@pytest.fixture
def dataset(scales_dataset: Path) -> Path:
    """The scale runs of conftest.py; their vocabulary is `scales_vocab`."""
    return scales_dataset


@pytest.fixture
def tiny_config(configs_dir: Path) -> str:
    return str(configs_dir / "tiny.yaml")


@pytest.fixture
def fit(tiny_config: str) -> Callable:
    """fit(dataset, runs, *extra): run `fit` with the tiny config into `runs`; the LightningCLI."""
    def run(dataset: Path, runs: Path, *extra: str) -> object:
        return make_cli(["fit", "--config", tiny_config, "--data.path", str(dataset),
                        "--trainer.default_root_dir", str(runs),
                        "--trainer.enable_progress_bar", "false", *extra])
    return run


def read_metrics(version_dir: Path) -> list[dict[str, str]]:
    with open(version_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(r[name]) for r in rows if r.get(name)]


@pytest.mark.slow
def test_fit_lowers_loss_and_logs_every_metric(dataset: Path, tmp_path: Path, fit: Callable,
                                               scales_vocab: list[str]) -> None:
    cli = fit(dataset, tmp_path, "--trainer.max_epochs", "4")
    run = tmp_path / "tiny" / "version_0"
    assert {p.name for p in (run / "checkpoints").iterdir()} >= {"last.ckpt"}
    assert any(p.name.startswith("best-") for p in (run / "checkpoints").iterdir())
    assert (run / "config.yaml").is_file()
    # TensorBoard logs appear exactly when tensorboard is installed (it is optional)
    import importlib.util
    has_tensorboard = importlib.util.find_spec("tensorboard") is not None
    assert bool(list(run.glob("events.out.tfevents.*"))) == has_tensorboard
    rows = read_metrics(run)
    val_loss, train_loss = column(rows, "val_loss"), column(rows, "train_loss")
    assert len(val_loss) == len(train_loss) == 4
    assert val_loss[-1] < val_loss[0] and train_loss[-1] < train_loss[0]
    assert val_loss[-1] < math.log(len(scales_vocab))  # better than guessing uniformly
    for stage in ("train", "val"):
        loss, ppl = column(rows, f"{stage}_loss"), column(rows, f"{stage}_ppl")
        assert ppl == pytest.approx([math.exp(x) for x in loss], rel=1e-5)
        assert all(0 <= a <= 1 for a in column(rows, f"{stage}_acc"))
    # one gradient norm per optimizer step (log_every_n_steps: 1)
    assert len(column(rows, "train_grad_norm")) == cli.trainer.global_step
    # bits per note: the same total nats, per Pitch_ token instead of per token, in bits
    valid = read_split(dataset, "valid").tokens[1:]
    tokens = int((valid != scales_vocab.index("BOS")).sum())
    notes = int(sum(scales_vocab[t].startswith("Pitch_") for t in valid))
    expected_bpn = [x * tokens / notes / math.log(2) for x in val_loss]
    assert column(rows, "val_bpn") == pytest.approx(expected_bpn, rel=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    ["--model.cell", "gru", "--model.input", "onehot"],
    ["--model.cell", "rnn", "--model.lr_schedule", "cosine", "--model.warmup_steps", "2"],
    ["--model.tbptt_steps", "8", "--model.lr_schedule", "plateau"],
    ["--data.packing", "pad", "--model.optimizer", "sgd", "--model.lr", "0.5"],
], ids=["gru-onehot", "rnn-cosine", "tbptt-plateau", "pad-sgd"])
def test_variants_train(dataset: Path, tmp_path: Path, extra: list[str], fit: Callable) -> None:
    cli = fit(dataset, tmp_path, "--trainer.max_epochs", "2", "--trainer.limit_train_batches",
              "4", *extra)
    rows = read_metrics(tmp_path / "tiny" / "version_0")
    assert all(math.isfinite(x) for x in column(rows, "val_loss"))
    assert cli.trainer.current_epoch == 2
    if "--model.tbptt_steps" in extra:
        # 32-step windows in chunks of 8: four optimizer steps per batch
        assert not cli.model.automatic_optimization
        assert cli.trainer.global_step == 2 * 4 * 4


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    ["--model.lookback", "true", "--data.packing", "pad"],
    ["--model.attention", "8", "--model.tbptt_steps", "8"],
    ["--model.lookback", "true", "--model.attention", "4", "--model.tbptt_steps", "8",
     "--model.cell", "gru"],
    ["--model.lookback", "true", "--model.tbptt_steps", "8", "--model.tbptt_k2", "20"],
], ids=["lookback-pad", "attention-tbptt", "both-tbptt-gru", "lookback-tbptt-k2"])
def test_lookback_and_attention_train(bars_dataset: Path, tmp_path: Path, extra: list[str],
                                      fit: Callable) -> None:
    cli = fit(bars_dataset, tmp_path, "--trainer.max_epochs", "2",
              "--trainer.limit_train_batches", "3", *extra)
    rows = read_metrics(tmp_path / "tiny" / "version_0")
    val_loss = column(rows, "val_loss")
    assert len(val_loss) == 2 and all(math.isfinite(x) for x in val_loss)
    net = cli.model.net.config
    assert net.lookback == ("--model.lookback" in extra) == cli.datamodule.lookback
    assert net.attention == (int(extra[extra.index("--model.attention") + 1])
                             if "--model.attention" in extra else 0)
    if "--model.tbptt_steps" in extra:  # 32-step windows in chunks of 8
        assert cli.trainer.global_step == 2 * 3 * 4
        assert cli.model.tbptt_k2 == (20 if "--model.tbptt_k2" in extra else 8)


def test_lookback_and_attention_options_are_checked(dataset: Path, tmp_path: Path,
                                                    tiny_config: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for flags, code, needle in (
            (["--model.lookback", "true"], 1, "melodyrnn: error: lookback needs bar lengths"),
            (["--model.attention", "-3"], 1,
             "melodyrnn: error: attention has to be a window of 0 (off) to 512 tokens, got -3"),
            (["--model.attention", "many"], 2, "model.attention")):
        with pytest.raises(SystemExit) as info:
            make_cli(["--config", tiny_config, "--data.path", str(dataset),
                      "--trainer.default_root_dir", str(tmp_path), *flags], run=False)
        assert info.value.code == code
        assert needle in capsys.readouterr().err


class _GradNormAfterStep(L.Callback):
    """Records the total gradient norm after clipping, when the batch is done."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads])).item())


@pytest.mark.slow
def test_clipping_bounds_the_norm_and_logs_it_before_clipping(dataset: Path, tmp_path: Path,
                                                              tiny_config: str) -> None:
    probe = _GradNormAfterStep()
    # run=False: build the trainer without fitting, so the probe can join its callbacks
    cli = make_cli(["--config", tiny_config, "--data.path", str(dataset),
                   "--trainer.default_root_dir", str(tmp_path),
                   "--trainer.enable_progress_bar", "false", "--trainer.max_epochs", "1",
                   "--model.grad_clip_norm", "0.01"], run=False)
    cli.trainer.callbacks.append(probe)
    cli.trainer.fit(cli.model, cli.datamodule)
    logged = column(read_metrics(tmp_path / "tiny" / "version_0"), "train_grad_norm")
    assert probe.norms and max(probe.norms) <= 0.01 * 1.001
    assert min(logged) > 0.01  # the logged norm is taken before clipping


@pytest.mark.slow
def test_resume_from_last_continues_counting_epochs(dataset: Path, tmp_path: Path,
                                                   fit: Callable) -> None:
    first = fit(dataset, tmp_path, "--trainer.max_epochs", "2")
    steps = first.trainer.global_step
    second = fit(dataset, tmp_path, "--trainer.max_epochs", "3", "--ckpt_path", "last")
    assert second.trainer.current_epoch == 3
    assert second.trainer.global_step == steps * 3 // 2  # one more epoch, none redone
    # the same run folder, its metrics appended
    assert not (tmp_path / "tiny" / "version_1").exists()
    assert len(column(read_metrics(tmp_path / "tiny" / "version_0"), "val_loss")) == 3


@pytest.mark.slow
def test_same_seed_gives_identical_weights(dataset: Path, tmp_path: Path, fit: Callable) -> None:
    runs = [fit(dataset, tmp_path / name, "--seed_everything", "7", "--trainer.max_epochs", "1",
                "--model.dropout", "0.3", "--model.num_layers", "2")
            for name in ("a", "b")]
    first, second = (r.model.state_dict() for r in runs)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.slow
def test_bad_values_end_in_one_sentence(dataset: Path, tmp_path: Path, fit: Callable,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        fit(dataset, tmp_path, "--model.tie_weights", "true")
    assert info.value.code == 1  # a MelodyRNNError at run time
    assert "melodyrnn: error: tie_weights needs embedding_dim equal to hidden_size" \
        in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        fit(tmp_path / "missing", tmp_path)
    assert info.value.code == 1
    assert "melodyrnn: error: dataset directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        fit(dataset, tmp_path, "--model.cell", "lstmm")
    assert info.value.code == 2  # a bad command line
    assert "model.cell" in capsys.readouterr().err


@pytest.mark.slow
def test_run_cli_returns_zero_for_the_melodyrnn_command(dataset: Path, tmp_path: Path,
                                                        tiny_config: str) -> None:
    assert run_cli(["fit", "--config", tiny_config, "--data.path", str(dataset),
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1",
                    "--trainer.limit_train_batches", "2",
                    "--trainer.enable_progress_bar", "false"]) == 0
    assert (tmp_path / "tiny" / "version_0" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize(("config", "hidden_size"), [("folk", 256), ("large", 1024)])
def test_shipped_configs_build(bars_dataset: Path, tmp_path: Path, config: str,
                               hidden_size: int, configs_dir: Path) -> None:
    # a dataset with TimeSig and Bar tokens: the folk model's lookback inputs need bar lengths
    cli = make_cli(["--config", str(configs_dir / f"{config}.yaml"),
                    "--data.path", str(bars_dataset), "--trainer.default_root_dir",
                    str(tmp_path)], run=False)
    assert cli.model.net.hidden_size == hidden_size
    assert cli.model.net.config.lookback == (config == "folk")
    assert cli.model.hparams.grad_clip_norm == 1.0
    assert any(isinstance(c, EarlyStopping) for c in cli.trainer.callbacks)
    assert any(type(c).__name__ == "LastCheckpoint" for c in cli.trainer.callbacks)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(dataset: Path, tmp_path: Path, scales_vocab: list[str],
                                  tiny_config: str) -> None:
    command = [sys.executable, "-m", "melodyrnn", "fit", "--config", tiny_config,
               "--data.path", str(dataset), "--trainer.default_root_dir", str(tmp_path),
               "--trainer.enable_progress_bar", "false", "--trainer.strategy", "ddp",
               "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoints = tmp_path / "tiny" / "version_0" / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    hparams = torch.load(checkpoints / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert json.dumps(hparams["tokenizer"]["vocab"]) == json.dumps(scales_vocab)
