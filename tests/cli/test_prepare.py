"""`melodyrnn prepare` as a user runs it: exit codes, one-sentence errors, the summary."""

from __future__ import annotations

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


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_file_timeout_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "x", "--file-timeout", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--file-timeout" in err and len(err.splitlines()) == 1


def test_an_out_that_is_a_file_is_one_line_error(tmp_path, capsys, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    (tmp_path / "afile").write_text("x")
    assert main(["prepare", str(folder), "--out", str(tmp_path / "afile"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"melodyrnn: error: --out {tmp_path / 'afile'} is a file, not a folder; "
                   "choose another --out")
