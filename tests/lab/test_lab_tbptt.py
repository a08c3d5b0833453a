"""`melodyrnn lab tbptt` on the scales dataset: updates per window, the series, the JSON, the
plot, and the options TBPTT cannot train."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from melodyrnn.errors import ConfigError
from melodyrnn.lab import tbptt
from melodyrnn.lab.data import load_lab_data

# windows of 30 with k1 = 4: 7 whole chunks and one of 2 steps, 8 updates per window
SMALL = tbptt.Options(batches=12, hidden_size=16, seq_len=30, k1=4, k2s=(8, 4, 16))



@pytest.fixture(scope="module")
def compared(scales_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small comparison, run once for the module: (result, out folder, progress lines)."""
    out, lines = tmp_path_factory.mktemp("lab"), []
    return tbptt.run(load_lab_data(scales_dataset), out, SMALL, lines.append), out, lines


def test_updates_per_window_are_the_chunks(compared) -> None:
    result, _, _ = compared
    numbers = result.numbers
    assert numbers["full"]["updates"] == SMALL.batches
    assert numbers["full"]["updates_per_batch"] == 1
    for record in numbers["fixed"]:
        assert record["updates_per_batch"] == 8  # ceil(30 / 4), whatever k2
        assert record["updates"] == len(record["losses"]) == 8 * SMALL.batches
    assert [(r["k1"], r["k2"]) for r in numbers["tied"]] == [(4, 4), (8, 8), (16, 16)]
    assert [r["updates"] for r in numbers["tied"]] == [8 * 12, 4 * 12, 2 * 12]


def test_every_run_has_the_same_epochs_and_a_cost(compared) -> None:
    result, _, lines = compared
    runs = [result.numbers["full"], *result.numbers["fixed"], *result.numbers["tied"]]
    assert len({round(r["epochs"], 9) for r in runs}) == 1
    for r in runs:
        assert r["seconds"] > 0
        assert r["seconds_per_epoch"] == pytest.approx(r["seconds"] / r["epochs"])
        assert math.isfinite(r["valid_bpn"]) and r["diverged_at"] is None
    # TBPTT(4, 4) is both the first of the fixed series and the first tied: trained once
    assert len(lines) == 1 + 3 + 2
    assert lines[0].startswith("tbptt: trained lstm full BPTT (12 updates")


def test_many_short_updates_beat_one_long_one_at_equal_epochs(compared) -> None:
    """On scale runs (each next token follows from the last two) the 8 updates per window of
    chunks of 4 learn far more in 12 batches than full BPTT's one."""
    result, _, _ = compared
    numbers = result.numbers
    assert numbers["tied"][0]["valid_bpn"] < numbers["full"]["valid_bpn"] - 0.5
    assert "better in the same epochs" in result.reading[3]


def test_json_and_plot(compared) -> None:
    result, out, _ = compared
    saved = json.loads((out / "tbptt" / "tbptt.json").read_text())
    assert {"numbers", "plots", "reading", "settings", "seconds", "provenance"} <= set(saved)
    assert saved["seconds"] > 0
    numbers = saved["numbers"]
    assert {"full", "fixed", "tied", "k1", "k2s", "epochs", "seq_len"} <= set(numbers)
    assert numbers["k2s"] == [4, 8, 16]
    assert len(numbers["full"]["valid_bpn_curve"]) == math.ceil(numbers["epochs"] - 1e-9)
    train = saved["settings"]["train"]
    assert train["TBPTT(4, 16)"]["k1"] == 4 and train["TBPTT(4, 16)"]["k2"] == 16
    assert train["full BPTT"]["k1"] == 0 and train["full BPTT"]["seq_len"] == 30
    assert (out / "tbptt" / result.plots[0]).stat().st_size > 10_000
    assert 4 <= len(result.reading) <= 6


def test_refuses_k2_shorter_than_k1() -> None:
    with pytest.raises(ConfigError, match=r"^k2 8 is not between k1 16 and seq_len 128: "):
        tbptt.Options(k1=16, k2s=(8, 32))


@pytest.mark.parametrize(("change", "words"), [
    ({"k2s": (16, 256)}, "k2 256 is not between k1 16 and seq_len 128"),
    ({"k1": 200}, "k1 200 is longer than the window"), ({"k1": 0}, "k1 has to be at least 1"),
    ({"k2s": ()}, "k2s has to name at least one"), ({"cell": "tanh"}, "cell 'tanh'")])
def test_refuses_other_options_tbptt_cannot_train(change: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        tbptt.Options(**change)
