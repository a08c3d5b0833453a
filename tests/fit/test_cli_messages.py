"""`melodyrnn fit` as a user runs it: one-sentence errors, exit codes, and what it prints."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from melodyrnn.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")
QUIET = ["--trainer.enable_progress_bar", "false"]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_missing_config_file_is_one_sentence(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(tmp_path / "nowhere.yaml"), "--data.path", str(tmp_path)])
    assert exc.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("melodyrnn fit: error:") and "nowhere.yaml" in line


@pytest.mark.parametrize(("flags", "needle"), [
    (["--model.cell", "lstmm"], "model.cell"),
    (["--trainer.max_epochs", "many"], "trainer.max_epochs"),
    (["--no-such-flag", "3"], "--no-such-flag"),
], ids=["cell", "max-epochs", "unknown-flag"])
def test_a_bad_option_is_one_sentence_without_the_usage(flags: list[str], needle: str,
                                                        tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", TINY, "--data.path", str(tmp_path), *flags])
    assert exc.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("melodyrnn fit: error:") and needle in line
    assert "usage:" not in line


def test_a_run_time_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", TINY, "--data.path", str(tmp_path / "missing"),
              "--trainer.default_root_dir", str(tmp_path / "runs"), *QUIET])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    # (Lightning's own log lines may be there too: its handler keeps the stderr it first saw)
    errors = [line for line in err.splitlines() if line.startswith("melodyrnn: error:")]
    assert len(errors) == 1 and "dataset directory" in errors[0], err


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def test_fit_ends_with_its_checkpoints_and_the_export_command(
        tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main(["fit", "--config", TINY, "--data.path", str(tiny_data),
                 "--trainer.default_root_dir", str(runs), "--trainer.max_epochs", "1",
                 "--trainer.limit_train_batches", "2", *QUIET]) == 0
    checkpoints = runs / "tiny" / "version_0" / "checkpoints"
    lines = capsys.readouterr().out.strip().splitlines()[-4:]
    assert lines[0].startswith(f"best checkpoint {checkpoints / 'best-epoch=0-'}")
    assert "(val_loss " in lines[0]
    assert lines[1] == f"last checkpoint {checkpoints / 'last.ckpt'}"
    assert lines[2] == f"bundle the best with: melodyrnn export {checkpoints.parent} models/tiny"
    assert lines[3].startswith(f"or the last with: melodyrnn export {checkpoints / 'last.ckpt'}")


@pytest.mark.parametrize(("message", "shown"), [
    ("💡 Tip: For seamless cloud logging and experiment tracking, try installing litlogger", False),
    ("GPU available: False, used: False", False),
    ("TPU available: False, using: 0 TPU cores", False),
    ("GPU available: True (cuda), used: True", True),
    ("`Trainer.fit` stopped: `max_epochs=3` reached.", True),
], ids=["tip", "no-gpu", "no-tpu", "gpu", "stopped"])
def test_lightning_tips_and_empty_banners_are_dropped(message: str, shown: bool) -> None:
    from melodyrnn.fit.cli import _QuietLightning

    record = logging.LogRecord("lightning.pytorch.utilities.rank_zero", logging.INFO, __file__,
                               1, message, None, None)
    assert _QuietLightning().filter(record) is shown


@pytest.mark.slow
def test_fit_prints_its_checkpoints_and_the_export_command_and_no_tips(
        tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "melodyrnn", "fit", "--config", TINY, "--data.path",
         str(tiny_data), "--trainer.default_root_dir", str(runs), "--trainer.max_epochs", "1",
         "--trainer.limit_train_batches", "2", *QUIET],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    run_dir = runs / "tiny" / "version_0"
    out = result.stdout
    assert f"best checkpoint {run_dir / 'checkpoints'}" in out
    assert f"last checkpoint {run_dir / 'checkpoints' / 'last.ckpt'}" in out
    export = next(line for line in out.splitlines() if "melodyrnn export" in line)
    words = shlex.split(export.split(": ", 1)[1])
    assert words[:3] == ["melodyrnn", "export", str(run_dir)]
    everything = result.stdout + result.stderr
    for noise in ("Tip:", "litlogger", "litmodels", "GPU available: False",
                  "TPU available: False", "LeafSpec"):
        assert noise not in everything, noise
    # the printed command works as printed
    exported = subprocess.run([sys.executable, "-m", "melodyrnn", *words[1:]], cwd=tmp_path,
                              env=_env(), capture_output=True, text=True, timeout=120,
                              check=False)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / words[3] / "model.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_exits_130(tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, "-m", "melodyrnn", "fit", "--config", TINY, "--data.path",
         str(tiny_data), "--trainer.default_root_dir", str(runs), "--trainer.max_epochs",
         "100000", "--early_stopping.patience", "100000", *QUIET],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell without job control starts children with SIGINT ignored; undo that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not (runs / "tiny" / "version_0" / "metrics.csv").is_file():
            assert child.poll() is None and time.monotonic() < deadline, "fit did not start"
            time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert "melodyrnn: interrupted" in err
