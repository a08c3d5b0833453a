"""`melodyrnn lab memory` on the scales dataset: probes, baselines, the JSON and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.errors import ConfigError
from melodyrnn.lab import gradients, memory, probes
from melodyrnn.lab.data import load_lab_data
from melodyrnn.lab.train import build_network
from melodyrnn.prepare.shards import write_split

SMALL = memory.Options(batches=30, hidden_size=16, distances=(1, 2, 4), min_positions=20,
                       probe_steps=40)



@pytest.fixture(scope="module")
def probed(scales_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """One small run of the experiment, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("lab")
    data = load_lab_data(scales_dataset)
    lines: list[str] = []
    return memory.run(data, out, SMALL, lines.append), out, lines


def test_json_plot_and_lengths(probed) -> None:
    result, out, lines = probed
    written = json.loads((out / "memory" / "memory.json").read_text())
    numbers = written["numbers"]
    assert set(numbers) >= {"distances", "baselines", "cells", "reach", "prefix", "positions",
                            "tokens_back"}
    assert (out / "memory" / result.plots[0]).is_file()
    assert numbers["distances"] == [1, 2, 4]
    for cell in ("rnn", "gru", "lstm"):
        for variant in ("trained", "untrained"):
            values = numbers["cells"][cell][variant]
            assert len(values) == 3 and all(0.0 <= v <= 1.0 for v in values)
    assert len(numbers["cells"]["lstm"]["trained_h_only"]) == 3
    assert "no TimeSig_ or Key_ tokens" in numbers["prefix"]["skipped"]
    assert len(lines) == 3 and all(line.startswith("memory: trained ") for line in lines)
    assert 3 <= len(result.reading) <= 7


def test_previous_pitch_of_a_scale_is_read_above_chance(probed) -> None:
    numbers = probed[0].numbers
    majority = numbers["baselines"]["majority"][0]
    assert majority < 0.25  # twelve pitches, spread evenly by random starts
    for cell in ("rnn", "gru", "lstm"):
        assert numbers["cells"][cell]["trained"][0] > majority + 0.3


def test_baseline_from_the_current_pitch_is_exact_on_rising_scales(probed) -> None:
    # the note before Pitch_p on a rising scale is always Pitch_(p-1): no memory needed
    assert probed[0].numbers["baselines"]["current_pitch"] == pytest.approx([1.0, 1.0, 1.0])


def test_tokens_back_counts_pitch_and_duration(probed) -> None:
    # each note of the scales is Pitch_ Duration_: d notes back is 2 d tokens back
    assert probed[0].numbers["tokens_back"] == {"1": 2.0, "2": 4.0, "4": 8.0}


def test_note_positions_by_hand(scales_dataset: Path) -> None:
    data = load_lab_data(scales_dataset)
    melody = np.array([1, 3, 15, 4, 16, 5, 15, 2])  # BOS P60 D1 P61 D2 P62 D1 EOS
    positions = memory.note_positions(data, [melody], (0, 1, 2))
    assert positions.step.tolist() == [1, 3, 5]
    assert positions.targets[1].tolist() == [-1, 3, 4]
    assert positions.targets[2].tolist() == [-1, -1, 3]


def test_refuses_distances_no_melody_reaches(scales_dataset: Path, tmp_path: Path) -> None:
    data = load_lab_data(scales_dataset)
    with pytest.raises(ConfigError, match="--distances"):
        memory.run(data, tmp_path, memory.Options(distances=(64,), batches=1, hidden_size=8))


def test_prefix_recall_of_a_meter_token(tmp_path: Path) -> None:
    vocab = ["PAD", "BOS", "EOS", "TimeSig_3/4", "TimeSig_4/4", "Pitch_60", "Pitch_62",
             "Duration_2"]
    rng = np.random.default_rng(0)

    def tune() -> list[int]:
        return [1, int(rng.integers(3, 5))] + [int(rng.integers(5, 7)), 7] * 20 + [2]

    for split, n in (("train", 60), ("valid", 30), ("test", 2)):
        write_split(tmp_path, split, [tune() for _ in range(n)])
    (tmp_path / "tokenizer.json").write_text(json.dumps({"name": "note", "options": {},
                                                         "vocab": vocab}))
    data = load_lab_data(tmp_path)
    options = memory.Options(hidden_size=16, probe_steps=40)
    net = build_network(data, gradients.cell_settings(options, "rnn"))
    melodies = {s: data.melodies(s) for s in ("train", "valid")}
    prefix = probes.prefix_recall(data, {"rnn": net}, melodies, options.probe_steps,
                                  options.l2)
    entry = prefix["TimeSig"]
    assert "Key" not in prefix and prefix["steps"] == list(probes.PREFIX_STEPS)
    assert len(entry["rnn"]) == len(entry["majority"]) == len(probes.PREFIX_STEPS)
    assert entry["positions"][0] == 30
    assert entry["rnn"][-1] is None  # no tune is 65 tokens past its meter
    # an untrained RNN's state still echoes the token it read a step ago
    assert entry["rnn"][0] > entry["majority"][0] + 0.2
