"""Per-file extraction and its cache: form and pickup survive a round trip, and what the step
grid changed is counted per recipe source and in total, in the manifest and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.score import Score, Track
from melodyrnn.prepare import build
from melodyrnn.prepare.recipes import recipe_for
from melodyrnn.prepare.report import GridLoss
from melodyrnn.prepare.sources import (
    _melody_from_json,
    _melody_to_json,
    _result_from_cache,
    extract_recipe,
)

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")

# 4/4 at 4 steps a quarter: a one-beat pickup from step 12, then |: A :|: B :|
PICKUP = 4
FORM = (Mark(48, REPEAT_END), Mark(48, REPEAT_START), Mark(80, REPEAT_END))


def _tune(i: int) -> list[Note]:
    return [Note(67, 12, 4)] + [Note(60 + (i + k) % 12, 16 + 4 * k, 4) for k in range(16)]


def fake_read_scores(path: Path, steps_per_quarter: int = 4, drops=None) -> list[Score]:
    """A hand-built tune with form for tuneNN.mid, with grid counts that grow with NN."""
    i = int(Path(path).stem[-2:])
    return [Score([Track(_tune(i))], steps_per_quarter=steps_per_quarter, source=str(path),
                  form=FORM, pickup_steps=PICKUP, moved_onsets=i, total_onsets=17,
                  merged_notes=1, grace_notes=2)]


@pytest.fixture
def tunes_with_form(monkeypatch: pytest.MonkeyPatch):
    """Every tune file reads as a hand-built tune with form (extraction runs in-process)."""
    monkeypatch.setattr("melodyrnn.prepare.sources.read_scores", fake_read_scores)


@pytest.mark.parametrize("melody", [
    Melody([Note(60, 0, 4)]),
    Melody(_tune(3), pickup_steps=PICKUP, form=FORM, key="D:dorian", source="a.abc#3:track0"),
    Melody([Note(62, 10, 2), Note(64, 12, 12), Note(65, 24, 12), Note(67, 36, 12)],
           time_signature=(6, 8), pickup_steps=2, qpm=96.0,
           form=[Mark(12, REPEAT_START), Mark(24, ENDING, 1), Mark(36, REPEAT_END),
                 Mark(36, ENDING, 2)]),
], ids=["plain", "pickup-and-repeats", "endings-in-6-8"])
def test_cached_melodies_keep_form_and_pickup(melody):
    back = _melody_from_json(json.loads(json.dumps(_melody_to_json(melody))))
    assert back == melody
    assert (back.form, back.pickup_steps, back.end_step) == \
        (melody.form, melody.pickup_steps, melody.end_step)
    assert back.unfold() == melody.unfold()


@st.composite
def melodies_with_form(draw: st.DrawFn) -> Melody:
    """A 4/4 melody with or without a pickup and a `:|` after one of its notes."""
    pickup = draw(st.sampled_from([0, 2, 4, 12]))
    step, notes = 16 - pickup if pickup else 0, []
    for _ in range(draw(st.integers(1, 12))):
        step += draw(st.sampled_from([0, 0, 1, 4]))  # sometimes a rest first
        duration = draw(st.sampled_from([1, 2, 3, 4, 8]))
        notes.append(Note(draw(st.integers(40, 90)), step, duration, draw(st.integers(1, 127))))
        step += duration
    ends = [n.end_step for n in notes]
    form = [Mark(draw(st.sampled_from(ends)), REPEAT_END)] if draw(st.booleans()) else []
    return Melody(notes, pickup_steps=pickup, form=form, key=draw(st.sampled_from(
        [None, "G:major", "E:dorian"])), source="t.abc#1:track0")


@settings(max_examples=60, deadline=None)
@given(melodies_with_form())
def test_any_cached_melody_comes_back_equal(melody):
    back = _melody_from_json(json.loads(json.dumps(_melody_to_json(melody))))
    assert back == melody and back.end_step == melody.end_step


def test_an_entry_cached_before_form_is_not_used():
    old = {"path": "a.abc", "sid": "a.abc", "sha1": "0" * 40, "tunes": 1, "drops": {},
           "moved_onsets": 0, "total_onsets": 8, "error": None,
           "melodies": [{"source": "a.abc#1:track0", "spq": 4, "qpm": 120.0, "ts": [4, 4],
                         "key": None, "end": 16, "notes": [[60, 0, 16, 80]]}]}
    assert _result_from_cache(old) is None


def test_form_survives_extraction_cold_and_warm(tmp_path, make_tune_folder, tunes_with_form):
    recipe = recipe_for([str(make_tune_folder(tmp_path, n=3))])
    cold, _ = extract_recipe(recipe, jobs=1, progress=False, use_cache=False)
    first, _ = extract_recipe(recipe, jobs=1, progress=False)  # extracts and caches
    warm, report = extract_recipe(recipe, jobs=1, progress=False)
    assert report.cached_files == 3
    assert cold == first == warm
    assert all(m.form == FORM and m.pickup_steps == PICKUP for m in warm)
    assert [len(m.unfold()) for m in warm] == [2 * (1 + 8) + 2 * 8] * 3  # the pickup repeats too


def test_grid_losses_per_source_and_in_total(tmp_path, make_tune_folder, tunes_with_form):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = make_tune_folder(tmp_path / "a", n=3), make_tune_folder(tmp_path / "b", n=2)
    out = tmp_path / "ds"
    report = build.prepare([str(a), str(b)], out, progress=False, jobs=1)
    quantization = json.loads((out / "manifest.json").read_text())["quantization"]
    # moved: tune00-02 of a move 0 + 1 + 2 onsets, tune00-01 of b 0 + 1
    assert quantization == {
        "steps_per_quarter": 4, "moved_onsets": 4, "total_onsets": 85, "merged_notes": 5,
        "grace_notes": 10,
        "by_source": {
            str(a): {"moved_onsets": 3, "total_onsets": 51, "merged_notes": 3, "grace_notes": 6},
            str(b): {"moved_onsets": 1, "total_onsets": 34, "merged_notes": 2, "grace_notes": 4},
        }}
    summary = report.summary()
    assert "on the 4-per-quarter grid: moved 4 of 85 onsets (4.7%), merged 5 notes, " \
           "left out 10 grace notes" in summary
    assert f"by source: {a} moved 3, merged 3, grace 6; {b} moved 1, merged 2, grace 4" \
        in summary
    warm = build.prepare([str(a), str(b)], out, progress=False, jobs=1, force=True)
    assert warm.cached_files == 5 and warm.grid_by_source == report.grid_by_source
    again = build.prepare([str(a), str(b)], out, progress=False, jobs=1)
    assert again.up_to_date and again.grid_by_source == report.grid_by_source
    assert again.summary().splitlines()[-2:] == summary.splitlines()[-2:]


def test_a_file_two_sources_name_is_counted_under_the_first(tmp_path, make_tune_folder,
                                                           tunes_with_form):
    folder = make_tune_folder(tmp_path, n=3)
    twice = str(folder / "tune02.mid")
    _, report = extract_recipe(recipe_for([str(folder), twice]), jobs=1, progress=False)
    assert report.grid_by_source == {
        str(folder): GridLoss(moved_onsets=3, total_onsets=51, merged_notes=3, grace_notes=6),
        twice: GridLoss()}


def test_a_grid_that_changed_nothing_says_so(tmp_path, make_tune_folder):
    report = build.prepare([str(make_tune_folder(tmp_path, n=2))], tmp_path / "ds",
                           progress=False)
    assert report.grid == GridLoss(total_onsets=32)
    assert "grid: moved 0 of 32 onsets, merged 0 notes, left out 0 grace notes" in \
        report.summary()
    assert "by source" not in report.summary()
