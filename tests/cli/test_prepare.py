"""The `melodyrnn` command as a user runs it: exit codes, one-sentence errors, summaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from melodyrnn.cli import main

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")


def test_prepare_prints_summary(tmp_path, capsys, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=3)
    assert main(["prepare", str(folder), "--out", str(tmp_path / "ds"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"-> {tmp_path / 'ds'}" in out and "melodies 3" in out


def test_prepare_list_names_corpora(capsys):
    assert main(["prepare", "--list", "x"]) == 0
    out = capsys.readouterr().out
    assert "essen-kinder" in out and "oneills" in out


@pytest.mark.parametrize("flags, needle", [
    (["--valid", "1.5"], "--valid"),
    (["--min-notes", "zero"], "--min-notes"),
    (["--transpose", "3:-3"], "--transpose"),
    (["--strategy", "loudest"], "--strategy"),
], ids=["valid", "min-notes", "transpose", "strategy"])
def test_bad_flags_exit_2_with_one_sentence(flags, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "x", *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_missing_source_is_one_line_error(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodyrnn: error:") and "nowhere" in err
    assert len(err.splitlines()) == 1


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
