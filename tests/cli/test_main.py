"""The melodyrnn command as a whole: the console script, and the path a user takes end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from melodyrnn.cli import main


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "melodyrnn", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "prepare" in result.stdout


@pytest.mark.slow
def test_prepare_fit_export_generate_evaluate_end_to_end(tmp_path, capsys, write_tiny_corpus,
                                                         configs_dir):
    """The whole path a user takes, through the `melodyrnn` command only."""
    recipe = write_tiny_corpus(tmp_path, n=24)
    data, runs = tmp_path / "data", tmp_path / "runs"
    config = configs_dir / "tiny.yaml"
    assert main(["prepare", str(recipe), "--out", str(data), "--quiet"]) == 0
    assert main(["fit", "--config", str(config), "--data.path", str(data),
                 "--trainer.default_root_dir", str(runs), "--trainer.max_epochs", "2",
                 "--trainer.enable_progress_bar", "false"]) == 0
    assert (runs / "tiny" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    assert main(["export", str(runs / "tiny" / "version_0"), str(tmp_path / "bundle")]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", str(tmp_path / "bundle"), "--bars", "2", "--seed", "3",
                 "--formats", "mid", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "melody-3.mid").is_file()
    assert main(["evaluate", "--model", str(tmp_path / "bundle"), "--data", str(data)]) == 0
    assert "gram" in capsys.readouterr().out
