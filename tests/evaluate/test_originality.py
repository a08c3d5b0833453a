"""Originality: copies of training melodies are found, transposed or not; new ones are not."""

from __future__ import annotations

import math
import random

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyError
from melodyrnn.evaluate.originality import OriginalityIndex, format_originality

# Twenty notes of a reel-like tune: (pitch, duration in sixteenths), back to back.
TUNE = [(62, 2), (66, 2), (69, 4), (71, 2), (69, 2), (66, 4), (64, 2), (62, 2), (64, 4),
        (66, 2), (67, 2), (69, 4), (74, 4), (71, 2), (69, 2), (67, 4), (66, 2), (64, 2),
        (62, 6), (69, 2)]
OTHER = [(60, 4), (64, 4), (67, 4), (72, 8), (71, 4), (67, 4), (62, 8), (60, 16)]


def melody(notes: list[tuple[int, int]], start: int = 0, source: str = "",
           steps_per_quarter: int = 4) -> Melody:
    out, step = [], start
    for pitch, duration in notes:
        out.append(Note(pitch, step, duration))
        step += duration
    return Melody(out, source=source, steps_per_quarter=steps_per_quarter)


@pytest.fixture(scope="module")
def index() -> OriginalityIndex:
    return OriginalityIndex([melody(OTHER, source="other"), melody(TUNE, source="tune")])


def embedded(shift: int, rest: int = 0) -> Melody:
    """The tune moved by `shift` semitones between notes of durations (3 and 7 sixteenths)
    that no training melody has, with a `rest` before its 11th note."""
    before = [(50, 3), (55, 7), (52, 7)]
    after = [(60, 3), (59, 3), (57, 7), (55, 3)]
    notes = [Note(p, 0, d) for p, d in before]
    body = [(p + shift, d) for p, d in TUNE]
    notes += [Note(p, 0, d) for p, d in body]
    notes += [Note(p, 0, d) for p, d in after]
    out, step = [], 0
    for i, n in enumerate(notes):
        if i == len(before) + 10:
            step += rest
        out.append(Note(n.pitch, step, n.duration_steps))
        step += n.duration_steps
    return Melody(out)


def test_a_transposed_copy_inside_a_melody_is_found(index: OriginalityIndex) -> None:
    result = index.check(embedded(shift=5))
    assert result.longest_shared_run == 20
    # 27 notes give 20 windows of 8; the 13 inside the copy match, the rest hold a 3 or a 7
    assert result.ngram_share == pytest.approx(13 / 20)
    assert result.is_copy  # by share: 0.65 >= 0.5 (the run, 20, is under 24)
    assert (result.matched_source, result.matched_index) == ("tune", 1)


def test_a_rest_inside_the_copy_splits_the_run(index: OriginalityIndex) -> None:
    result = index.check(embedded(shift=-3, rest=2))
    assert result.longest_shared_run == 10
    # windows starting at copy notes 0-2 and 10-12 stay inside one half: 6 of 20
    assert result.ngram_share == pytest.approx(6 / 20)
    assert not result.is_copy


def test_thresholds_are_arguments() -> None:
    training = [melody(TUNE, source="tune")]
    by_run = OriginalityIndex(training, copy_run=20, copy_share=1.0).check(embedded(0))
    neither = OriginalityIndex(training, copy_run=21, copy_share=0.7).check(embedded(0))
    assert by_run.is_copy and not neither.is_copy


def test_a_whole_copy_in_another_key_and_grid(index: OriginalityIndex) -> None:
    triple = melody([(p - 7, 3 * d) for p, d in TUNE], start=5, steps_per_quarter=12)
    result = index.check(triple)
    assert (result.longest_shared_run, result.ngram_share, result.is_copy) == (20, 1.0, True)


def test_a_random_melody_is_not_flagged(index: OriginalityIndex) -> None:
    rng = random.Random(7)
    notes = [(rng.randint(55, 79), rng.choice([1, 2, 3, 4, 6])) for _ in range(40)]
    result = index.check(melody(notes))
    assert not result.is_copy
    assert result.ngram_share == 0.0
    assert result.longest_shared_run < 8


def test_short_and_empty_melodies(index: OriginalityIndex) -> None:
    short = index.check(melody(TUNE[:5]))
    assert short.longest_shared_run == 5 and math.isnan(short.ngram_share)
    assert not short.is_copy
    empty = index.check(Melody([]))
    assert (empty.longest_shared_run, empty.is_copy, empty.matched_source,
            empty.matched_index) == (0, False, "", -1)
    assert math.isnan(empty.ngram_share)


def test_check_all_agrees_with_check(index: OriginalityIndex) -> None:
    melodies = [embedded(2), melody(OTHER), embedded(0, rest=1), melody(TUNE[3:12])]
    together = index.check_all(melodies)
    assert [r.longest_shared_run for r in together] == [20, 8, 10, 9]
    for m, r in zip(melodies, together, strict=True):
        one = index.check(m)
        assert (one.longest_shared_run, one.matched_index, one.is_copy) == \
            (r.longest_shared_run, r.matched_index, r.is_copy)


def test_format_originality(index: OriginalityIndex) -> None:
    text = format_originality(index.check_all([embedded(5), melody(OTHER[:3])]))
    assert text.splitlines()[0] == "originality of 2 melodies: 1 flagged as copies (50.0%)"
    assert "#0: 20 notes shared, n-gram share 0.65, from tune" in text


def test_bad_arguments() -> None:
    with pytest.raises(MelodyError, match="ngram must be at least 1"):
        OriginalityIndex([], ngram=0)
    with pytest.raises(MelodyError, match="copy_share"):
        OriginalityIndex([], copy_share=0.0)
