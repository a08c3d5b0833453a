"""Pre-training pools without copies of held-out melodies: each rule, transposition, and what
the rules must leave alone."""

from __future__ import annotations

import random

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ConfigError
from melodyrnn.evaluate.leakage import (
    RULES,
    edit_similarity,
    find_leaks,
    intervals,
    leak_report,
)


def _melody(pitches, durations=None, source=""):
    durations = durations or [2] * len(pitches)
    notes, step = [], 0
    for pitch, duration in zip(pitches, durations, strict=True):
        notes.append(Note(pitch, step, duration))
        step += duration
    return Melody(notes, source=source)


def _tune(rng: random.Random, n: int) -> list[int]:
    pitches = [rng.randrange(60, 72)]
    for _ in range(n - 1):
        pitches.append(min(84, max(48, pitches[-1] + rng.choice([-5, -3, -2, -1, 1, 2, 4, 7]))))
    return pitches


def test_each_rule_finds_its_kind_of_copy_in_any_key():
    rng = random.Random(3)
    held = [_tune(rng, 40) for _ in range(3)]
    exact = [p + 7 for p in held[0]]  # a fifth up, same rhythm
    # the same pitches, another rhythm: no fingerprint run, but 16 shared intervals
    rhythm = _melody([p - 2 for p in held[1][5:30]], [1, 3] * 12 + [2])
    # 20 notes of held[2] with the same rhythm, inside a new tune: the fingerprint's run
    inside = _tune(rng, 10) + [p + 5 for p in held[2][10:30]] + _tune(rng, 10)
    # held[0] with every 10th note moved (two intervals each): no run of 16 intervals left
    variant = [p + (1 if k % 10 == 3 else 0) for k, p in enumerate(held[0])]
    unrelated = [_tune(rng, 40) for _ in range(20)]
    pool = [_melody(exact), rhythm, _melody(inside), _melody(variant),
            *(_melody(t) for t in unrelated)]
    leaks = find_leaks(pool, [_melody(t) for t in held])
    assert [(leak.index, leak.held_out, leak.rule) for leak in leaks] == [
        (0, 0, "copy"), (1, 1, "pitch run"), (2, 2, "fingerprint"), (3, 0, "similar")]
    report = leak_report(leaks, len(pool))
    assert report["dropped"] == 4 and report["kept"] == len(pool) - 4
    assert report["dropped_by_rule"] == dict.fromkeys(RULES, 1)
    assert report["held_out_copied"] == 3


def test_a_pool_tune_linked_to_a_test_tune_through_another_pool_tune_goes_too():
    rng = random.Random(5)
    a, b, c = (_tune(rng, 30) for _ in range(3))
    held = _melody(a)
    bridge = _melody(a[:18] + b)  # shares 18 notes with the held-out tune
    far = _melody(b[-18:] + c)  # shares 18 notes with the bridge only
    leaks = find_leaks([far, bridge], [held])
    assert {(leak.index, leak.rule) for leak in leaks} == {(0, "fingerprint"), (1, "fingerprint")}


def test_shared_figures_and_short_tunes_are_not_copies():
    rng = random.Random(7)
    cadence = [67, 65, 64, 62, 60]
    held = [_melody(_tune(rng, 30) + cadence) for _ in range(5)]
    pool = [_melody(_tune(rng, 30) + cadence) for _ in range(50)]  # a common ending only
    pool += [_melody([60]), _melody([60, 62])]  # too short for grams or runs
    held += [_melody([72]), _melody([55, 57, 59])]
    assert find_leaks(pool, held) == []


def test_edit_similarity():
    assert edit_similarity([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert edit_similarity([1, 2, 3, 4], [1, 9, 3, 4]) == 0.75  # one replaced
    assert edit_similarity([1, 2, 3, 4], [1, 2, 4]) == 0.75  # one deleted
    assert edit_similarity([], [1, 2]) == 0.0
    assert edit_similarity([], []) == 1.0


def test_intervals_and_bad_settings():
    assert intervals([60, 62, 59]) == (2, -3)
    assert intervals([60]) == ()
    one = [_melody([60, 62, 64])]
    with pytest.raises(ConfigError, match="duplicate run 1 "):
        find_leaks(one, one, run=1)
    with pytest.raises(ConfigError, match=r"similarity 1\.5 "):
        find_leaks(one, one, similarity=1.5)
