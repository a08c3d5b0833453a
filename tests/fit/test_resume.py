"""Training that loses no more than it must: last.ckpt after every epoch and on Ctrl-C or
SIGTERM, resuming into the same run folder, a diverging run stopped, runs without validation
or checkpointing."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from melodyrnn.fit.cli import make_cli

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")


def _fit(dataset: Path, runs: Path, *extra: str) -> object:
    return make_cli(["fit", "--config", TINY, "--data.path", str(dataset),
                     "--trainer.default_root_dir", str(runs),
                     "--trainer.enable_progress_bar", "false", *extra])


def _last(runs: Path, version: int = 0) -> dict:
    path = runs / "tiny" / f"version_{version}" / "checkpoints" / "last.ckpt"
    return torch.load(path, weights_only=True, map_location="cpu")


def _rows(runs: Path, version: int = 0) -> list[dict[str, str]]:
    with open(runs / "tiny" / f"version_{version}" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_last_is_the_latest_epoch_even_after_early_stopping(scales_dataset: Path,
                                                            tmp_path: Path) -> None:
    # patience 0 and min_delta 10: the second validation is no improvement, so it stops there
    cli = _fit(scales_dataset, tmp_path, "--trainer.max_epochs", "5",
               "--early_stopping.patience", "0", "--early_stopping.min_delta", "10")
    assert cli.trainer.current_epoch == 2  # stopped after epochs 0 and 1
    last = _last(tmp_path)
    assert last["global_step"] == cli.trainer.global_step
    assert last["epoch"] == 1  # the epoch early stopping ended, whether best or not
    stopping = next(v for k, v in last["callbacks"].items() if "EarlyStopping" in k)
    assert stopping["stopped_epoch"] == 1  # the early-stopping state is in last.ckpt


@pytest.mark.slow
def test_checkpoint_every_n_steps_writes_last_mid_epoch(scales_dataset: Path,
                                                        tmp_path: Path) -> None:
    steps: list[int] = []
    cli = make_cli(["--config", TINY, "--data.path", str(scales_dataset),
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "7",
                    "--trainer.enable_progress_bar", "false",
                    "--checkpoint_every_n_steps", "3"], run=False)
    save = cli.trainer.save_checkpoint

    def record(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(path).name == "last.ckpt":
            steps.append(cli.trainer.global_step)
        return save(path, *args, **kwargs)

    cli.trainer.save_checkpoint = record  # type: ignore[method-assign]
    cli.trainer.fit(cli.model, cli.datamodule)
    assert steps == [3, 6, 7]  # every 3 steps, and where training ended inside the epoch


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--trainer.limit_val_batches", "0"],
                                   ["--trainer.max_steps", "3"]],
                         ids=["no-validation", "max-steps-in-first-epoch"])
def test_without_val_loss_early_stopping_and_best_step_aside(
        extra: list[str], scales_dataset: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _fit(scales_dataset, tmp_path, "--trainer.max_epochs", "2", *extra)
    checkpoints = tmp_path / "tiny" / "version_0" / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["last.ckpt"]
    captured = capsys.readouterr()
    assert "early stopping and the best checkpoint step aside" in captured.err
    assert f"last checkpoint {checkpoints / 'last.ckpt'}" in captured.out


@pytest.mark.slow
def test_without_checkpointing_nothing_is_saved_and_it_says_so(
        scales_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = _fit(scales_dataset, tmp_path, "--trainer.max_epochs", "1",
               "--trainer.limit_train_batches", "2", "--trainer.enable_checkpointing", "false")
    assert cli.trainer.global_step == 2
    assert not list(tmp_path.glob("**/*.ckpt"))
    assert "checkpointing is off" in capsys.readouterr().err


@pytest.mark.slow
def test_a_diverging_run_stops_and_is_never_saved_as_best(
        scales_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _fit(scales_dataset, tmp_path, "--trainer.max_epochs", "3", "--model.lr", "1000",
             "--model.grad_clip_norm", "0")
    assert info.value.code == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("melodyrnn: error:"))
    assert "training diverged at step" in line and "lower --model.lr (now 1000)" in line
    assert "--model.grad_clip_norm 1.0" in line
    assert not list(tmp_path.glob("**/best-*.ckpt"))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _fit_command(dataset: Path, runs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "melodyrnn", "fit", "--config", TINY, "--data.path",
            str(dataset), "--trainer.default_root_dir", str(runs),
            "--trainer.enable_progress_bar", "false", "--early_stopping.patience", "100000",
            *extra]


def _interrupt_when_training(command: list[str], runs: Path, signum: int
                             ) -> subprocess.CompletedProcess:
    child = subprocess.Popen(command, cwd=runs.parent, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             # a shell without job control starts children with SIGINT ignored
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        # last.ckpt appears after the first epoch: training is under way
        while not list(runs.glob("tiny/version_*/checkpoints/last.ckpt")):
            assert child.poll() is None and time.monotonic() < deadline, "fit did not start"
            time.sleep(0.2)
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return subprocess.CompletedProcess(command, child.returncode, out, err)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_an_interrupted_run_saves_last_and_resumes_in_the_same_folder(
        signum: int, scales_dataset: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    command = _fit_command(scales_dataset, runs, "--trainer.max_epochs", "100000")
    done = _interrupt_when_training(command, runs, signum)
    assert done.returncode == 130, done.stderr[-3000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("melodyrnn: interrupted"))
    last = _last(runs)
    step = last["global_step"]
    assert f"last.ckpt holds step {step}" in line
    resume = line.split("resume with: ", 1)[1]
    assert resume.endswith("--ckpt_path last") and "--ckpt_path last" not in resume[:-16]
    rows_before = len(_rows(runs))
    # resume as printed, one epoch past the interrupted one: the same folder, the steps go on
    words = resume.split()[2:]  # after "melodyrnn fit"
    epochs = str(last["epoch"] + 2)
    again = subprocess.run([sys.executable, "-m", "melodyrnn", "fit", *words,
                            "--trainer.max_epochs", epochs], cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    # a checkpoint saved mid-epoch resumes in its epoch; one saved as an epoch ended (the
    # signal came on its last step) resumes at the start of the next
    resumed = re.search(rf"melodyrnn: resumed \S+ at epoch (\d+), step {step}\n", again.stderr)
    assert resumed and int(resumed[1]) in (last["epoch"], last["epoch"] + 1), again.stderr
    assert not (runs / "tiny" / "version_1").exists()
    after = _last(runs)
    assert after["global_step"] > step and after["epoch"] == last["epoch"] + 1
    assert len(_rows(runs)) > rows_before  # metrics appended, not replaced
