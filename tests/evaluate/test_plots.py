"""Plots: each writes a PNG atomically; training curves read a Lightning CSVLogger file."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyRNNError, ReadError, WriteError
from melodyrnn.evaluate.plots import (
    plot_metric_histograms,
    plot_piano_roll,
    plot_training_curves,
    read_epoch_metrics,
    read_step_metrics,
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


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's IHDR chunk."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_read_step_metrics(tmp_path: Path) -> None:
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("epoch,step,train_grad_norm,val_loss\n0,19,0.7,\n0,20,,2.5\n"
                        "0,39,0.4,\n1,59,nan,\n1,79,0.3")
    assert read_step_metrics(csv_path) == {"train_grad_norm": ([19, 39, 79], [0.7, 0.4, 0.3])}


def test_training_curves_add_a_gradient_norm_panel_when_logged(tmp_path: Path) -> None:
    without = tmp_path / "a" / "metrics.csv"
    without.parent.mkdir()
    without.write_text(METRICS_CSV)
    rows = METRICS_CSV.splitlines()
    with_norm = tmp_path / "b" / "metrics.csv"
    with_norm.parent.mkdir()
    with_norm.write_text("\n".join([rows[0] + ",train_grad_norm"] + [r + ",0.5" if "19" in r
                                    or "59" in r else r + "," for r in rows[1:-1]]) + "\n")
    assert read_step_metrics(with_norm)["train_grad_norm"] == ([19, 59], [0.5, 0.5])
    three = png_size(plot_training_curves(without, tmp_path / "three.png"))
    four = png_size(plot_training_curves(with_norm, tmp_path / "four.png"))
    assert three[0] > three[1]  # one row of three panels
    assert four[1] > 1.5 * three[1]  # two rows of two


def test_a_metrics_file_that_is_not_text_is_one_read_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(ReadError, match=r"metrics\.csv: not a metrics\.csv written by"):
        plot_training_curves(csv_path, tmp_path / "out.png")


def test_without_matplotlib_the_plot_says_how_to_install_it(tmp_path: Path, folk_tune: Melody,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(MelodyRNNError, match=r'pip install "melodyrnn\[plots\]"'):
        plot_piano_roll(folk_tune, tmp_path / "roll.png")
    assert not (tmp_path / "roll.png").exists()


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


def test_a_long_wide_melody_keeps_a_bounded_picture(tmp_path: Path) -> None:
    """400 bars over five octaves: the roll stays one readable picture of bounded size."""
    notes = [Note(36 + (7 * i) % 60, 4 * i, 4) for i in range(1600)]
    out = plot_piano_roll(Melody(notes, pickup_steps=0), tmp_path / "long.png")
    width, height = png_size(out)
    assert width <= 18 * 120 and height <= 8 * 120
    assert len(written_png(out)) < 1_000_000


def test_a_pickup_is_bar_zero(tmp_path: Path, folk_tune: Melody) -> None:
    """The roll of a tune with an upbeat starts at the upbeat, not at an empty bar."""
    tune = folk_tune.replace(pickup_steps=2)
    written_png(plot_piano_roll(tune, tmp_path / "pickup.png"))


@pytest.mark.slow
def test_plot_metric_histograms(tmp_path: Path, folk_tune: Melody,
                                c_major_scale: Melody) -> None:
    generated = [folk_tune.transpose(i) for i in range(3)]
    reference = [c_major_scale, Melody([Note(60, 0, 4), Note(64, 8, 4), Note(67, 16, 16)])]
    written_png(plot_metric_histograms(generated, reference, tmp_path / "hist.png"))
