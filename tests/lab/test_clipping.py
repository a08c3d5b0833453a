"""`melodyrnn lab clipping` on the scales dataset: divergence without clipping, survival with
clipping by norm, the curves, the sweep, the JSON and the plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from melodyrnn.errors import ConfigError
from melodyrnn.lab import clipping
from melodyrnn.lab.data import load_lab_data

# lr 10 is well above where the unclipped tiny RNN still trains (about 3; it diverges within
# 10 updates at 10 for seeds 0, 1, 2), and a clip of 0.25 keeps every step as short as lr 2.5
SMALL = clipping.Options(batches=30, hidden_size=16, lr=10.0, lrs=(1.0, 10.0), clip_norm=0.25)



@pytest.fixture(scope="module")
def swept(scales_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small sweep, run once for the module: (result, out folder, progress lines)."""
    out, lines = tmp_path_factory.mktemp("lab"), []
    return clipping.run(load_lab_data(scales_dataset), out, SMALL, lines.append), out, lines


def runs_at(result, lr: float) -> dict[str, dict]:
    return {r["mode"]: r for r in result.numbers["runs"] if r["lr"] == lr}


def test_unclipped_diverges_and_clipped_by_norm_trains(swept) -> None:
    result, _, _ = swept
    main = runs_at(result, 10.0)
    assert main["none"]["diverged_at"] is not None
    assert main["none"]["diverged_at"] < SMALL.batches // 2
    assert main["none"]["valid_bpn"] is None
    assert main["norm"]["diverged_at"] is None
    assert main["norm"]["updates"] == SMALL.batches
    # the gradient was larger than the clip, so clipping did something
    assert main["norm"]["grad_norm_max"] > 2 * SMALL.clip_norm
    assert 0 < main["norm"]["clipped_share"] <= 1
    assert math.isfinite(main["norm"]["valid_bpn"])
    # at a modest learning rate nothing diverges
    assert all(r["diverged_at"] is None for r in runs_at(result, 1.0).values())


def test_curves_have_one_value_per_update(swept) -> None:
    result, _, _ = swept
    for record in result.numbers["runs"]:
        assert len(record["losses"]) == len(record["grad_norms"]) == record["updates"]
        stop = record["diverged_at"]
        assert record["updates"] == (SMALL.batches if stop is None else stop)


def test_json_plots_and_reading(swept) -> None:
    result, out, lines = swept
    saved = json.loads((out / "clipping" / "clipping.json").read_text())
    assert {"numbers", "plots", "reading", "settings", "seconds", "provenance"} <= set(saved)
    numbers = saved["numbers"]
    assert numbers["lrs"] == [1.0, 10.0]
    assert set(numbers["sweep"]) == {"none", "norm", "value"}
    assert len(numbers["sweep"]["none"]["diverged_at"]) == 2
    assert numbers["divergence_limit"] == pytest.approx(2 * math.log(18))
    assert saved["settings"]["train"]["norm"]["clip_norm"] == SMALL.clip_norm
    assert saved["settings"]["train"]["none"]["optimizer"] == "sgd"
    for name in result.plots:
        assert (out / "clipping" / name).stat().st_size > 10_000
    assert 3 <= len(result.reading) <= 6
    stop = runs_at(result, 10.0)["none"]["diverged_at"]
    assert f"diverged at update {stop}" in result.reading[0]
    assert len(lines) == 6 and all(line.startswith("clipping: trained rnn") for line in lines)


@pytest.mark.parametrize(("change", "words"), [
    ({"cell": "lstm2"}, "cell 'lstm2'"), ({"lrs": (1.0, -2.0)}, "lrs"),
    ({"clip_value": 0.0}, "clip_value has to be above 0, got 0.0"),
    ({"batches": 0}, "batches has to be at least 1")])
def test_refuses_options_that_cannot_train(change: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        clipping.Options(**change)


def test_reading_says_plainly_when_clipping_did_not_help() -> None:
    """Numbers made by hand where clipping by norm diverges as often as no clipping."""
    def record(lr: float, mode: str, stop: int | None) -> dict:
        return {"lr": lr, "mode": mode, "diverged_at": stop, "updates": stop or 40,
                "grad_norm_max": 900.0, "clipped_share": 0.5, "valid_bpn": None if stop else 6.0}
    stops = {"none": (None, 7), "norm": (None, 9), "value": (None, 7)}
    runs = [record(lr, mode, stops[mode][i]) for mode in stops for i, lr in enumerate((1.0, 8.0))]
    numbers = {"cell": "rnn", "main_lr": 8.0, "lrs": [1.0, 8.0], "clip_norm": 1.0,
               "clip_value": 0.1, "batches": 40, "parameters": 10_000, "divergence_limit": 11.6,
               "uniform_bpn": 19.0,
               "runs": runs, "sweep": {m: {"diverged_at": list(stops[m])} for m in stops}}
    sentences = clipping.reading(numbers)
    assert sentences[0].startswith("With SGD at learning rate 8 the unclipped RNN diverged at "
                                   "update 7 of 40")
    assert "diverged too, at update 9" in sentences[1]
    assert "the same update as without clipping" in sentences[2]
    assert "10,000 parameters" in sentences[2] and "sqrt(P) = 80 long" in sentences[2]
    assert "did not widen" in sentences[4] and "disagrees with the lecture" in sentences[4]
    assert "6.00 bits per note (no clipping at lr 1)" in sentences[5]
