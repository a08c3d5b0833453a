"""The lab's command line, `lab all` and the report, driven by a small experiment made here."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from melodyrnn.cli import main
from melodyrnn.lab import suite
from melodyrnn.lab.data import LabData, load_lab_data
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import BASE, bits_per_note, trained


@dataclass(frozen=True)
class Options:
    seed: int = field(default=0, metadata={"help": "seed"})
    batches: int = field(default=4, metadata={"help": "training batches"})
    hidden_size: int = field(default=8, metadata={"help": "units"})
    cells: tuple[str, ...] = field(default=("rnn", "lstm"), metadata={"help": "cells"})
    scale: float = field(default=0.5, metadata={"help": "a number"})
    curve: bool = field(default=True, metadata={"help": "draw a curve"})


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    began, folder = time.perf_counter(), experiment_folder(out, "probe")
    numbers = {}
    for cell in options.cells:
        settings = dataclasses.replace(BASE, cell=cell, batches=options.batches,
                                       hidden_size=options.hidden_size, seq_len=16,
                                       seed=options.seed)
        net, log = trained(data, settings)
        numbers[cell] = {"bpn": bits_per_note(net, data), "losses": log.losses}
        say(f"probe: trained {cell}")
    fig = figure(3, 2)
    fig.add_subplot().plot(numbers[options.cells[0]]["losses"])
    plot = save_figure(fig, folder / "probe.png")
    reading = [f"the {c} network reached {numbers[c]['bpn']:.2f} bits per note"
               for c in options.cells]
    result = LabResult("probe", "A probe of the lab", numbers, [plot], reading,
                       {**dataclasses.asdict(options)})
    return finish(folder, result, data.describe(), options.seed, began)


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("melodyrnn.lab.probe")
    module.NAME, module.TITLE, module.SUMMARY = "probe", "A probe of the lab", "a probe"
    module.Options, module.run = Options, run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "melodyrnn.lab.probe", module)
    monkeypatch.setattr(suite, "EXPERIMENTS", ("probe",))


def test_experiment_flags_results_and_report(probe: None, scales_dataset: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lab"
    assert main(["lab", "probe", "--data", str(scales_dataset), "--out", str(out),
                 "--cells", "gru", "--batches", "3", "--no-curve"]) == 0
    printed = capsys.readouterr().out
    assert "probe: trained gru" in printed and "the gru network reached" in printed
    saved = json.loads((out / "probe" / "probe.json").read_text())
    assert saved["settings"]["cells"] == ["gru"] and saved["settings"]["curve"] is False
    assert len(saved["numbers"]["gru"]["losses"]) == 3
    assert saved["provenance"]["data"]["melodies"] == {"train": 200, "valid": 30, "test": 30}
    assert saved["provenance"]["seed"] == 0 and saved["provenance"]["torch"]
    assert main(["lab", "report", "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "A probe of the lab" in page and "data:image/png;base64," in page
    assert "the gru network reached" in page and "probe/probe.json" in page


def test_all_runs_every_experiment_and_writes_the_report(probe: None, scales_dataset: Path,
                                                          tmp_path: Path) -> None:
    data = load_lab_data(scales_dataset)
    results = suite.run_all(data, tmp_path, {"batches": 2, "cells": ("rnn",)}, say=lambda s: None)
    assert [r.name for r in results] == ["probe"]
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize(("flags", "message"), [
    (["--batches", "0"], "--batches has to be at least 1, got 0"),
    (["--scale", "-1"], "--scale has to be 0 or more, got -1.0"),
    (["--scale", "nan"], "--scale has to be 0 or more, got nan"),
], ids=["zero-batches", "negative", "nan"])
def test_bad_values_are_one_sentence(probe: None, scales_dataset: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str], flags: list[str],
                                     message: str) -> None:
    assert main(["lab", "probe", "--data", str(scales_dataset), "--out", str(tmp_path),
                 *flags]) == 1
    assert capsys.readouterr().err.strip() == f"melodyrnn: error: {message}"


def test_bad_flag_and_missing_report(probe: None, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["lab", "probe", "--batches", "x"])
    assert info.value.code == 2
    assert "argument --batches: 'x' is not a whole number" in capsys.readouterr().err
    assert main(["lab", "report", "--out", str(tmp_path)]) == 1
    assert "holds no experiment results" in capsys.readouterr().err
