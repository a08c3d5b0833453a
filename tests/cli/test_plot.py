"""`melodyrnn plot curves|roll|metrics`: a PNG written and said in one line, or one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodyrnn.cli import main
from melodyrnn.core.melody import Melody, Note

pytest.importorskip("matplotlib")  # the `plots` extra

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METRICS_CSV = """\
epoch,lr,step,train_acc,train_bpn,train_grad_norm,train_loss,train_loss_step,val_acc,val_bpn,val_loss
0,,19,,,0.71,,2.94,,,
0,,40,,,,,,0.25,8.96,2.81
0,0.002,40,0.22,10.4,,3.26,,,,
1,,59,,,0.41,,2.76,,,
1,,81,,,,,,0.34,6.86,2.15
1,0.002,81,0.27,8.34,,2.62,,,,
"""


def _png(path: Path) -> int:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert 5_000 < len(data) < 400_000  # a real picture, and small enough to share
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    return len(data)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodyrnn: error: ") and len(err.splitlines()) == 1, err
    return err.removeprefix("melodyrnn: error: ")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs" / "tiny" / "version_1"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text(METRICS_CSV)
    (tmp_path / "runs" / "tiny" / "version_0").mkdir()  # an older run that logged nothing
    return folder


def test_curves_of_a_run_folder_or_its_run_name(tmp_path, run_dir, capsys) -> None:
    out = tmp_path / "curves.png"
    assert main(["plot", "curves", str(run_dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (training curves of {run_dir}/metrics.csv)\n"
    _png(out)
    # the run name's folder: its newest version with a metrics.csv
    assert main(["plot", "curves", str(run_dir.parent), "--out", str(out), "--force"]) == 0
    assert f"of {run_dir}/metrics.csv" in capsys.readouterr().out


def test_curves_refuse_an_existing_out_without_force(tmp_path, run_dir, capsys) -> None:
    out = tmp_path / "curves.png"
    out.write_bytes(b"mine")
    assert main(["plot", "curves", str(run_dir), "--out", str(out)]) == 1
    assert _error(capsys) == f"{out} already exists; use --force to overwrite it"
    assert out.read_bytes() == b"mine"


@pytest.mark.parametrize("case", ["missing", "no-metrics", "no-curves", "binary"])
def test_curves_errors_are_one_sentence_naming_the_path(tmp_path, capsys, case) -> None:
    run = tmp_path / "run"
    if case != "missing":
        run.mkdir()
    if case == "no-curves":
        (run / "metrics.csv").write_text("epoch,step,train_grad_norm\n0,10,1.5\n")
    if case == "binary":
        (run / "metrics.csv").write_bytes(b"\xff\xfe\x00\x81" * 100)
    out = tmp_path / "curves.png"
    assert main(["plot", "curves", str(run), "--out", str(out)]) == 1
    message = _error(capsys)
    expected = {"missing": f"{run}: no such run folder",
                "no-metrics": f"{run}: no metrics.csv in this folder",
                "no-curves": f"{run}/metrics.csv: no per-epoch train_/val_ loss",
                "binary": f"{run}/metrics.csv: not a metrics.csv written by `melodyrnn fit`"}
    assert message.startswith(expected[case]), message
    assert not out.exists()


def test_bad_flags_are_refused_at_the_parser(tmp_path, run_dir, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plot", "curves", str(run_dir), "--out", str(tmp_path / "curves.jpg")])
    assert exit_.value.code == 2
    assert "'" + str(tmp_path / "curves.jpg") + "' does not end in .png" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["plot", "roll", "x.mid", "--out", "x.png", "--index", "0"])
    assert exit_.value.code == 2
    assert "--index: 0 must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["plot", "pie", "--out", "x.png"])
    assert exit_.value.code == 2
    assert "invalid choice: 'pie'" in capsys.readouterr().err


def _two_tunes_abc(path: Path) -> Path:
    path.write_text("X:1\nT:First\nM:4/4\nL:1/4\nK:C\nC D E F | G A B c |]\n"
                    "X:2\nT:Second\nM:3/4\nL:1/4\nK:G\nG A B | d2 B | A3 |]\n",
                    encoding="utf-8")
    return path


def test_roll_of_a_midi_file(tmp_path, folk_tune, capsys) -> None:
    folk_tune.write(tmp_path / "tune.mid")
    out = tmp_path / "roll.png"
    assert main(["plot", "roll", str(tmp_path / "tune.mid"), "--out", str(out)]) == 0
    assert capsys.readouterr().out == (f"wrote {out} (piano roll of the melody in "
                                       f"{tmp_path / 'tune.mid'}, 18 notes, 7 bars)\n")
    _png(out)


def test_roll_picks_a_melody_by_index(tmp_path, capsys) -> None:
    book = _two_tunes_abc(tmp_path / "book.abc")
    out = tmp_path / "roll.png"
    assert main(["plot", "roll", str(book), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "piano roll of melody 1 of 2 in" in said and "(--index picks another)" in said
    assert main(["plot", "roll", str(book), "--index", "2", "--out", str(out), "--force"]) == 0
    said = capsys.readouterr().out
    assert "melody 2 of 2" in said and "6 notes, 3 bars" in said
    assert main(["plot", "roll", str(book), "--index", "3", "--out", str(out), "--force"]) == 1
    assert _error(capsys) == (f"{book} holds 2 melodies; --index 3 is not one of them "
                              "(choose 1 to 2)")


def test_roll_of_an_unreadable_file_is_one_sentence(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"not a midi file")
    assert main(["plot", "roll", str(bad), "--out", str(tmp_path / "roll.png")]) == 1
    assert str(bad) in _error(capsys)
    assert main(["plot", "roll", str(tmp_path / "nope.mid"), "--out",
                 str(tmp_path / "roll.png")]) == 1
    assert str(tmp_path / "nope.mid") in _error(capsys)
    assert not (tmp_path / "roll.png").exists()


def _samples(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    for i in range(n):
        notes = [Note(60 + (i + k) % 12, 4 * k, 4) for k in range(12)]
        Melody(notes, source=f"s{i}").write(folder / f"s{i}.mid")
    return folder


@pytest.mark.slow
def test_metrics_of_samples_against_a_dataset(tmp_path, bars_dataset, capsys) -> None:
    samples = _samples(tmp_path / "samples")
    out = tmp_path / "metrics.png"
    assert main(["plot", "metrics", str(samples), "--data", str(bars_dataset),
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out == (f"wrote {out} (metrics of 3 melodies in {samples} vs "
                                       f"8 melodies of the test split of {bars_dataset})\n")
    _png(out)


def test_metrics_errors_are_one_sentence(tmp_path, bars_dataset, capsys) -> None:
    samples = _samples(tmp_path / "samples", n=1)
    out = tmp_path / "metrics.png"
    assert main(["plot", "metrics", str(samples), "--data", str(tmp_path / "nodata"),
                 "--out", str(out)]) == 1
    assert _error(capsys).startswith(f"{tmp_path / 'nodata'}: not a dataset folder")
    (tmp_path / "empty").mkdir()
    assert main(["plot", "metrics", str(tmp_path / "empty"), "--data", str(bars_dataset),
                 "--out", str(out)]) == 1
    assert f"'{tmp_path / 'empty'}' matches no MIDI, MusicXML or ABC file" in _error(capsys)
    assert not out.exists()
