"""`melodyrnn evaluate`: held-out figures as a table and JSON, and sample sets with a plot."""

from __future__ import annotations

import json

import pytest

from melodyrnn.cli import main

# every test here scores the tiny model, which is trained once per session (a few seconds)
pytestmark = pytest.mark.slow


def test_cli_evaluate_json(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["bits_per_note"] > 0
    assert out["baseline"]["bits_per_note"] > 0 and "order" in out["baseline"]


def test_cli_evaluate_table(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data),
                 "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "bits/note" in out and "gram" in out


def test_cli_evaluate_samples(tiny_model, tiny_data, tmp_path, capsys):
    samples = tmp_path / "samples"
    assert main(["generate", "--model", str(tiny_model), "--num", "6", "--bars", "4",
                 "--seed", "2", "--formats", "mid", "--out", str(samples)]) == 0
    capsys.readouterr()
    plot = tmp_path / "hist.png"
    assert main(["evaluate", "--data", str(tiny_data), "--samples", str(samples),
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "pitch_class_entropy" in out and "longest" in out.lower()
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["evaluate", "--data", str(tiny_data), "--samples", str(samples), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["originality"]) == 6 and "scale_consistency" in data["metrics"]

