"""`melodyrnn export`: a checkpoint to a bundle, and a one-line error for a missing one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from melodyrnn.cli import main


def test_export_prints_where_it_wrote(tmp_path: Path, write_checkpoint: Callable,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    assert main(["export", str(ckpt), str(tmp_path / "out")]) == 0
    assert "wrote bundle" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nothing.ckpt"), str(tmp_path / "out2")]) == 1
    assert "melodyrnn: error:" in capsys.readouterr().err


def test_export_carries_lookback_and_attention(lookback_model: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import json

    run = lookback_model.parent / "runs" / "tiny" / "version_0"
    assert main(["export", str(run), str(tmp_path / "out")]) == 0
    assert "wrote bundle" in capsys.readouterr().out
    network = json.loads((tmp_path / "out" / "bundle.json").read_text())["network"]
    assert network["lookback"] is True and network["attention"] == 6


def test_export_onto_a_file_or_into_a_read_only_place_is_one_sentence(
        tmp_path: Path, write_checkpoint: Callable, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for force in ([], ["--force"]):  # a file is never replaced by a bundle folder
        assert main(["export", str(ckpt), str(afile), *force]) == 1
        err = capsys.readouterr().err.strip()
        assert err == (f"melodyrnn: error: {afile} is a file, not a bundle folder; remove it "
                       "or choose another bundle folder")
    assert afile.read_text() == "keep me"
    assert main(["export", str(ckpt), str(afile / "b")]) == 1
    assert f"{afile} is a file, not a folder" in capsys.readouterr().err
    assert main(["export", str(ckpt), str(tmp_path / "out")]) == 0
    assert main(["export", str(ckpt), str(tmp_path / "out")]) == 1
    assert "bundle.json exists; pass --force" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores file modes")
def test_export_into_a_read_only_folder_is_one_sentence(
        tmp_path: Path, write_checkpoint: Callable, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["export", str(ckpt), str(ro)]) == 1
        err = capsys.readouterr().err.strip()
        assert "cannot write (Permission denied); choose another folder" in err
        assert main(["export", str(ckpt), str(ro / "b")]) == 1
        err = capsys.readouterr().err.strip()
        assert "(Permission denied); choose another bundle folder" in err
        assert len(err.splitlines()) == 1 and os.listdir(ro) == []
    finally:
        ro.chmod(0o755)
