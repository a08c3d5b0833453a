"""`melodyrnn export`: a checkpoint to a bundle, and a one-line error for a missing one."""

from __future__ import annotations

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
