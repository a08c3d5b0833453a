"""Plots: each writes a PNG atomically; training curves read a Lightning CSVLogger file."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ReadError, WriteError
from melodyrnn.evaluate.plots import (
    plot_metric_histograms,
    plot_piano_roll,
    plot_training_curves,
    read_epoch_metrics,
)

pytest.importorskip("matplotlib")  # an optional extra; melodyrnn.plots imports it lazily

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# As Lightning's CSVLogger writes it: step rows, validation rows and epoch rows, each filling
# a few columns; the last line is cut short, as when the file is read while training runs.
METRICS_CSV = """\
epoch,lr,step,train_acc,train_bpn,train_loss,train_loss_step,val_acc,val_bpn,val_loss
0,,19,,,,2.94,,,
0,,40,,,,,0.25,8.96,2.81
0,0.002,40,0.22,10.4,3.26,,,,
1,,59,,,,2.76,,,
1,,81,,,,,0.34,6.86,2.15
1,0.002,81,0.27,8.34,2.62,,,,
2,,99,,,,2.1"""


def written_png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left over
    return data


def test_read_epoch_metrics(tmp_path: Path) -> None:
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(METRICS_CSV)
    series = read_epoch_metrics(csv_path)
    assert series["train_loss"] == {0: 3.26, 1: 2.62}
    assert series["val_bpn"] == {0: 8.96, 1: 6.86}
    assert series["train_loss_step"] == {0: 2.94, 1: 2.76, 2: 2.1}
    assert "step" not in series and "epoch" not in series


def test_plot_training_curves(tmp_path: Path) -> None:
    csv_path = tmp_path / "run" / "metrics.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(METRICS_CSV)
    out = plot_training_curves(csv_path, tmp_path / "plots" / "curves.png")
    assert out == tmp_path / "plots" / "curves.png"
    written_png(out)


def test_plot_training_curves_refuses_a_file_without_curves(tmp_path: Path) -> None:
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("epoch,step,grad_norm\n0,10,1.5\n")
    with pytest.raises(ReadError, match="no per-epoch train_/val_ loss"):
        plot_training_curves(csv_path, tmp_path / "out.png")
    with pytest.raises(ReadError, match="cannot read"):
        plot_training_curves(tmp_path / "missing.csv", tmp_path / "out.png")


def test_plot_piano_roll_and_no_overwrite(tmp_path: Path, folk_tune: Melody) -> None:
    out = tmp_path / "roll" / "tune.png"
    written_png(plot_piano_roll(folk_tune, out))
    with pytest.raises(WriteError, match="already exists"):
        plot_piano_roll(folk_tune, out, force=False)


@pytest.mark.slow
def test_plot_metric_histograms(tmp_path: Path, folk_tune: Melody,
                                c_major_scale: Melody) -> None:
    generated = [folk_tune.transpose(i) for i in range(3)]
    reference = [c_major_scale, Melody([Note(60, 0, 4), Note(64, 8, 4), Note(67, 16, 16)])]
    written_png(plot_metric_histograms(generated, reference, tmp_path / "hist.png"))
