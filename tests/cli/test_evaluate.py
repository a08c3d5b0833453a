"""`melodyrnn evaluate`: held-out figures as a table and JSON (with `--stm`, the model combined
with each melody's short-term model), and sample sets with a plot."""

from __future__ import annotations

import json

import pytest

from melodyrnn.cli import main

# the tests that score the tiny model are slow: it is trained once per session (a few seconds)


@pytest.mark.slow
def test_cli_evaluate_json(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["bits_per_note"] > 0
    assert out["baseline"]["bits_per_note"] > 0 and "order" in out["baseline"]


@pytest.mark.slow
def test_cli_evaluate_table(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data),
                 "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "bits/note" in out and "gram" in out


@pytest.mark.slow
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



@pytest.mark.slow
def test_cli_evaluate_stm_row(tiny_model, tiny_data, capsys):
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data),
                 "--no-baseline", "--stm-bias", "1.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["model + STM"]
    assert row["stm_bias"] == 1.5 and row["stm_bias_from"] == "given"
    assert row["notes"] == out["model"]["notes"] and row["bits_per_note"] > 0
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(tiny_data),
                 "--stm", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["model", "model", "baseline"]
    assert lines[3].startswith("model + STM") and "bits/note" in lines[1]
    assert "the lowest valid nats/token of 0.5: " in lines[-1]


@pytest.mark.parametrize("bad", ["-0.5", "nan", "lots"])
def test_cli_refuses_a_bad_stm_bias_in_one_sentence(bad, capsys):
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--data", "d", "--stm-bias", bad])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--stm-bias: STM bias " in err and bad in err


def test_cli_stm_does_not_apply_to_samples(capsys):
    assert main(["evaluate", "--data", "d", "--samples", "s", "--stm"]) == 1
    assert "do not apply to --samples" in capsys.readouterr().err
