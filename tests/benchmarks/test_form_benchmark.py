"""benchmarks/form.py on a handful of tunes built in code, and its command line."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from melodyrnn.core.form import REPEAT_END, Mark
from melodyrnn.core.melody import Melody, Note


@pytest.fixture(scope="module")
def form_benchmark(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    """benchmarks/form.py"""
    return benchmark_module("form")


def real_tune(i: int) -> Melody:
    """A folk-like tune: |: four bars :| |: four bars :| in D, ending on D, with a pickup."""
    rng = random.Random(i)
    scale = [62, 64, 66, 67, 69, 71, 73, 74]
    notes, step = [Note(69, 12, 4)], 16  # a quarter-note pickup
    for _bar in range(8):
        for _ in range(4):
            notes.append(Note(rng.choice(scale), step, 4))
            step += 4
    notes[-2] = Note(62, notes[-2].start_step, 4)  # the last bar, three beats, ends on D
    return Melody(notes[:-1], key="D:major", time_signature=(4, 4), pickup_steps=4,
                  form=[Mark(5 * 16 - 4, REPEAT_END), Mark(9 * 16 - 4, REPEAT_END)],
                  end_step=9 * 16 - 4, source=f"real{i}")


def sample_tune(i: int) -> Melody:
    """A wandering tune: chromatic steps, no repeats, a last bar cut short."""
    rng = random.Random(100 + i)
    pitch, notes = 60, []
    for k in range(21 + i % 5):
        pitch = max(48, min(84, pitch + rng.choice((-3, -1, 1, 2))))
        notes.append(Note(pitch, 4 * k, 4))
    return Melody(notes, key="C:major", time_signature=(6, 8) if i % 2 else (4, 4),
                  source=f"sample{i}")


def test_real_tunes_against_wandering_ones(form_benchmark: ModuleType) -> None:
    real = [real_tune(i) for i in range(8)]
    samples = [sample_tune(i) for i in range(10)]
    result = {"form": form_benchmark.compare_form(samples, real),
              "choices": form_benchmark.compare_choices(samples, real),
              "conditioned": form_benchmark.compare_conditioned(samples, real),
              "reference": form_benchmark.compare_form(real, real)}
    rows = result["form"]["rows"]
    assert rows["ends_on_tonic"]["real"] == 1.0
    assert rows["complete_final_bar"]["real"] == 1.0
    assert rows["repeats_a_part"] == pytest.approx({**rows["repeats_a_part"], "samples": 0.0,
                                                    "real": 1.0})
    assert rows["played_bars"]["real_median"] == 16
    assert rows["written_with_repeat_signs"] == {"samples": 0.0, "real": 1.0}
    assert result["form"]["classifier"]["accuracy"] > 0.9
    assert result["choices"]["meter"]["samples"] == {"4/4": 0.5, "6/8": 0.5}
    assert result["choices"]["meter"]["total_variation"] == 0.5
    assert result["conditioned"]["real_dorian"] == 0
    passed = {goal: ok for goal, _value, ok in form_benchmark.goals(result)}
    assert passed == dict.fromkeys(form_benchmark.GOALS, False)
    report = form_benchmark.format_report(result)
    assert "repeats a part (AABB-like)" in report and "FAIL  classifier accuracy" in report
    assert "reference: 8 valid tunes against the 8 test tunes" in report


def test_a_set_against_itself_meets_the_goals_it_can(form_benchmark: ModuleType) -> None:
    real = [real_tune(i) for i in range(10)]
    result = {"form": form_benchmark.compare_form(real, real)}
    passed = dict((goal, ok) for goal, _value, ok in form_benchmark.goals(result))
    assert passed[form_benchmark.GOALS[0]] and passed[form_benchmark.GOALS[1]]
    assert result["form"]["rows"]["figure_repetition_rate"]["overlap"] > 0.7


def test_bad_flags_are_refused_with_a_sentence(form_benchmark: ModuleType,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        form_benchmark.parse_args(["--num", "0"])
    assert "--num has to be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        form_benchmark.parse_args(["--temperature", "-1"])
    assert "--temperature has to be at least 0" in capsys.readouterr().err
    assert form_benchmark.parse_args([]).num == 500


@pytest.mark.slow
def test_main_on_the_tiny_model(form_benchmark: ModuleType, tiny_model: Path, tiny_data: Path,
                                tmp_path: Path) -> None:
    out = tmp_path / "form.json"
    form_benchmark.main(["--model", str(tiny_model), "--data", str(tiny_data), "--num", "6",
                         "--num-conditioned", "3", "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["num"] == 6 and written["form"]["samples"] == 6
    assert {g["goal"] for g in written["goals"]} <= set(form_benchmark.GOALS)
