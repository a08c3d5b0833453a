"""Form metrics on tunes built by hand, with and without repeat signs, with known answers."""

from __future__ import annotations

import math

import pytest

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.melody import Melody, Note
from melodyrnn.evaluate.form import (
    FORM_FEATURES,
    bar_contents,
    bar_repetition_rate,
    complete_final_bar,
    ends_on_tonic,
    figure_repetition_rate,
    final_bar_steps,
    form_features,
    half_bar_crossing_rate,
    out_of_key_rate,
    played_bars,
    repeats_a_part,
)
from melodyrnn.evaluate.metrics import repetition_rate

BAR = 16  # steps in a 4/4 bar at 4 steps a quarter


def tune(*bars: list[tuple[int, int]], start: int = 0, **kwargs) -> Melody:
    """Notes (pitch, duration) back to back from `start`, 4/4 by default; bars are only a way
    of writing them down (a bar's durations should add up to a bar)."""
    notes, step = [], start
    for bar in bars:
        for pitch, duration in bar:
            notes.append(Note(pitch, step, duration))
            step += duration
    return Melody(notes, **kwargs)


def bar_of(*pitches: int) -> list[tuple[int, int]]:
    """Four quarter notes."""
    return [(p, 4) for p in pitches]


# eight different bars: parts A (bars a1-a4) and B (b1-b4)
A = [bar_of(62, 64, 66, 67), bar_of(69, 67, 66, 64), bar_of(62, 66, 69, 74), bar_of(71, 69, 67, 66)]
B = [bar_of(74, 73, 71, 69), bar_of(67, 69, 71, 73), bar_of(74, 71, 69, 67), bar_of(66, 64, 62, 62)]
AABB_SIGNS = [Mark(0, REPEAT_START), Mark(4 * BAR, REPEAT_END), Mark(4 * BAR, REPEAT_START),
              Mark(8 * BAR, REPEAT_END)]


def test_an_aabb_tune_with_repeat_signs_repeats_its_parts() -> None:
    melody = tune(*A, *B, form=AABB_SIGNS, key="D:major")
    assert played_bars(melody) == 16
    assert repeats_a_part(melody)
    # the played order alone finds the parts too (unfold() has no signs left)
    assert not melody.unfold().form and repeats_a_part(melody.unfold())
    assert bar_repetition_rate(melody) == 0.5  # the second time through each part


def test_an_aabb_tune_written_out_repeats_its_parts() -> None:
    melody = tune(*A, *A, *B, *B, key="D:major")
    assert repeats_a_part(melody)
    assert form_features(melody) == form_features(tune(*A, *B, form=AABB_SIGNS, key="D:major"))


def test_a_tune_of_different_bars_repeats_no_part() -> None:
    assert not repeats_a_part(tune(*A, *B))
    assert bar_repetition_rate(tune(*A, *B)) == 0.0


def test_a_part_comes_back_with_one_bar_of_four_changed_but_not_two() -> None:
    a_var = [*A[:3], B[0]]  # a second ending, say
    assert repeats_a_part(tune(*A, *a_var))
    assert not repeats_a_part(tune(*A, *a_var), max_differing=0)
    assert not repeats_a_part(tune(*A, *A[:2], B[0], B[1]))  # only two bars come back


def test_a_part_must_come_back_after_it_on_a_bar_line() -> None:
    # A twice, but the second time a quarter late: no bar of it matches a bar of the first
    late = tune(*A, [(60, 4)], *A, [(60, 12)])
    assert not repeats_a_part(late)
    # a span of 2 bars played twice (ABAB) is shorter than a part
    assert not repeats_a_part(tune(A[0], A[1], A[0], A[1]))
    assert repeats_a_part(tune(A[0], A[1], A[0], A[1]), min_bars=2)


def test_a_short_repeat_under_signs_counts() -> None:
    # |: two bars :| is a repeated part as written, though too short for the played test
    melody = tune(A[0], A[1], form=[Mark(2 * BAR, REPEAT_END)])
    assert repeats_a_part(melody)
    assert not repeats_a_part(melody.unfold())


def test_bars_without_notes_never_make_a_repeated_part() -> None:
    melody = Melody([Note(60, 0, 4)], end_step=10 * BAR)  # one note, nine silent bars
    assert not repeats_a_part(melody)
    assert bar_repetition_rate(melody) == 0.8  # silent bars 3-10 repeat silent bar 2


def test_ends_on_the_tonic() -> None:
    assert ends_on_tonic(tune(bar_of(69, 66, 64, 74), key="D:major")) == 1.0  # D5
    assert ends_on_tonic(tune(bar_of(62, 66, 64, 69), key="D:major")) == 0.0  # ends on A
    assert ends_on_tonic(tune(bar_of(62, 66, 64, 69), key="A:dorian")) == 1.0
    assert math.isnan(ends_on_tonic(tune(bar_of(62, 66, 64, 62))))  # no key: no tonic
    assert math.isnan(ends_on_tonic(Melody([], key="D:major")))


def test_a_last_bar_that_completes_the_pickup() -> None:
    # a quarter-note pickup (steps 12-16), a whole bar, then a last bar of three quarters
    melody = tune([(62, 4)], bar_of(64, 66, 67, 69), [(71, 4), (69, 4), (62, 4)],
                  start=12, pickup_steps=4)
    assert melody.start_step == 12 and melody.end_step == 44
    assert final_bar_steps(melody) == 12
    assert complete_final_bar(melody) == 1.0
    assert played_bars(melody) == 2  # pickup and last bar make one bar together
    short = tune([(62, 4)], bar_of(64, 66, 67, 69), [(71, 4), (69, 4)], start=12,
                 pickup_steps=4)
    assert final_bar_steps(short) == 8 and complete_final_bar(short) == 0.0


def test_a_whole_last_bar_is_complete_and_a_short_one_is_not() -> None:
    assert complete_final_bar(tune(*A[:2])) == 1.0
    assert final_bar_steps(tune(*A[:2])) == BAR
    cut = tune(A[0], [(62, 4), (64, 4), (66, 4)])
    assert final_bar_steps(cut) == 12 and complete_final_bar(cut) == 0.0
    # a rest to the bar line makes it whole again
    assert complete_final_bar(cut.replace(end_step=2 * BAR)) == 1.0
    assert math.isnan(complete_final_bar(Melody([])))


def test_the_final_bar_is_read_on_the_written_tune() -> None:
    # |: pickup, one bar, a three-quarter bar :| - played, it runs on into the repeat
    melody = tune([(62, 4)], bar_of(64, 66, 67, 69), [(71, 4), (69, 4), (62, 4)],
                  start=12, pickup_steps=4, form=[Mark(44, REPEAT_END)])
    assert complete_final_bar(melody) == 1.0
    assert played_bars(melody) == 4


def test_bar_counts_round_to_the_nearest_bar() -> None:
    assert played_bars(tune(*A)) == 4
    assert played_bars(tune(*A, [(60, 4)])) == 4  # a beat over
    assert played_bars(tune(*A, [(60, 8)])) == 5  # half a bar over rounds up
    assert played_bars(tune(*A[:3], [(60, 4)])) == 3  # three quarters short of 4: 3.25
    assert played_bars(Melody([])) == 0


def test_bar_contents_are_relative_to_the_bar() -> None:
    melody = tune([(62, 4)], bar_of(64, 66, 67, 69), start=12, pickup_steps=4)
    assert bar_contents(melody) == [((12, 4, 62),),
                                    ((0, 4, 64), (4, 4, 66), (8, 4, 67), (12, 4, 69))]


SCALE = [(p, 2) for p in (60, 62, 64, 65, 67, 69, 71, 72)]  # a C major scale in eighths


def test_figure_repetition_is_counted_as_played() -> None:
    written = tune(SCALE, form=[Mark(16, REPEAT_END)])
    # written: intervals 2 2 1 2 2 2 1, figures 221 212 122 222 221 -> 2 of 5 repeat
    assert repetition_rate(written) == pytest.approx(2 / 5)
    # played twice: 13 figures, of which only the three across the repeat (2 1 -12, 1 -12 2,
    # -12 2 2) occur once
    assert figure_repetition_rate(written) == pytest.approx(10 / 13)


def test_out_of_key_notes_are_counted_as_played() -> None:
    # part A (played twice) holds an F#, outside D dorian; part B stays in the mode
    melody = tune(bar_of(62, 64, 66, 67), bar_of(69, 67, 65, 62), key="D:dorian",
                  form=[Mark(BAR, REPEAT_END)])
    assert out_of_key_rate(melody) == pytest.approx(2 / 12)
    assert out_of_key_rate(melody.replace(form=())) == pytest.approx(1 / 8)
    assert math.isnan(out_of_key_rate(tune(bar_of(62, 64, 66, 67))))


def test_notes_across_the_middle_of_a_six_eight_bar() -> None:
    # 6/8 at 4 per quarter: 12-step bars, the middle at step 6
    bars = [[(62, 6), (64, 6)], [(62, 4), (64, 4), (66, 4)], [(67, 12)]]
    melody = tune(*bars, time_signature=(6, 8))
    # (64 at steps 16-20: 4 < 6 < 8 in its bar) and the dotted half cross; the rest do not
    assert half_bar_crossing_rate(melody) == pytest.approx(2 / 6)
    assert math.isnan(half_bar_crossing_rate(Melody([], time_signature=(6, 8))))


def test_form_features_of_an_aabb_tune() -> None:
    melody = tune(*A, *B, form=AABB_SIGNS, key="D:major")
    features = form_features(melody)
    assert list(features) == list(FORM_FEATURES)
    assert features == pytest.approx({
        "ends_on_tonic": 1.0, "complete_final_bar": 1.0, "played_bars": 16.0,
        "bars_multiple_of_4": 1.0, "bars_multiple_of_8": 1.0, "repeats_a_part": 1.0,
        "figure_repetition_rate": figure_repetition_rate(melody), "bar_repetition_rate": 0.5,
        "out_of_key_rate": 0.0, "pitch_range": 12.0})


def test_endings_are_taken_by_pass() -> None:
    # |: a1 a2 a3 |1 a4 :|2 b1 : the second pass ends differently, still a repeated part
    melody = tune(*A, B[0], form=[Mark(3 * BAR, ENDING, 1), Mark(4 * BAR, REPEAT_END),
                                  Mark(4 * BAR, ENDING, 2)])
    assert played_bars(melody) == 8
    assert repeats_a_part(melody.unfold())
    assert bar_repetition_rate(melody) == pytest.approx(3 / 8)
