"""The train/valid/test split: copies of a tune kept together, a stable hash of each group."""

from __future__ import annotations

import random
from collections import Counter

from melodyrnn.core.melody import Melody, Note
from melodyrnn.prepare import splits


def test_split_is_stable_and_roughly_proportional():
    ids = [f"music21:essenFolksong/kinder0.abc#{i}" for i in range(4000)]
    first = [splits.split_of(i, 0.1, 0.1) for i in ids]
    assert first == [splits.split_of(i, 0.1, 0.1) for i in ids]  # same answer every time
    counts = Counter(first)
    assert 0.08 < counts["valid"] / len(ids) < 0.12
    assert 0.08 < counts["test"] / len(ids) < 0.12
    # a tune's split depends on its own id only, so adding tunes never moves the others
    more = ids + [f"new#{i}" for i in range(500)]
    assert [splits.split_of(i, 0.1, 0.1) for i in more][:4000] == first


def test_tracks_and_parts_of_one_tune_share_a_split():
    assert splits.tune_group("music21:x.abc#3:track0:part1") == "music21:x.abc#3"


# --- near-duplicates stay together --------------------------------------------------------------

def _tune(pitches: list[int], source: str, durations: tuple[int, ...] = (2,)) -> Melody:
    notes, step = [], 0
    for i, p in enumerate(pitches):
        d = durations[i % len(durations)]
        notes.append(Note(p, step, d))
        step += d
    return Melody(notes, source=source)


RNG = random.Random(7)
A = [60 + RNG.randrange(-7, 8) for _ in range(40)]
UNRELATED = [[60 + RNG.randrange(-7, 8) for _ in range(40)] for _ in range(3)]


def test_a_transposed_copy_with_a_new_ending_joins_its_tune():
    a = _tune(A, "book1.abc#1")
    copy = _tune([p + 5 for p in A[:20]] + [70, 72, 74, 76], "book2.abc#9:track0")
    others = [_tune(u, f"other.abc#{i}") for i, u in enumerate(UNRELATED)]
    groups = splits.group_tunes([a, copy, *others], [splits.tune_group(m.source)
                                                     for m in (a, copy, *others)])
    assert groups["book1.abc#1"] == groups["book2.abc#9"] == "book1.abc#1"
    assert {groups[f"other.abc#{i}"] for i in range(3)} == {f"other.abc#{i}" for i in range(3)}


def test_a_shared_run_shorter_than_the_threshold_does_not_join():
    a = _tune(A, "a")
    b = _tune(A[:splits.DUPLICATE_RUN - 1] + UNRELATED[0], "b")
    c = _tune(A[:splits.DUPLICATE_RUN] + UNRELATED[1], "c")
    groups = splits.group_tunes([a, b, c], ["a", "b", "c"])
    assert groups == {"a": "a", "b": "b", "c": "a"}


def test_chains_of_copies_are_one_group_named_by_its_smallest_id():
    first, second = _tune(A, "z"), _tune(A[20:] + UNRELATED[0], "m")
    third = _tune(UNRELATED[0] + UNRELATED[1], "b")  # shares the tail of "m" only
    assigned = splits.assign_splits([first, second, third], 0.3, 0.3)
    assert assigned.group_of_tune == {"z": "b", "m": "b", "b": "b"}
    assert len(set(assigned.of_melody)) == 1
    assert assigned.of_melody[0] == splits.split_of("b", 0.3, 0.3)
    assert assigned.duplicate_groups() == [["b", "m", "z"]]


def test_groups_do_not_depend_on_melody_order():
    melodies = [_tune(A, "x"), _tune([p - 3 for p in A], "y"),
                *(_tune(u, f"u{i}") for i, u in enumerate(UNRELATED))]
    forward = splits.assign_splits(melodies, 0.2, 0.2)
    backward = splits.assign_splits(melodies[::-1], 0.2, 0.2)
    assert forward.group_of_tune == backward.group_of_tune
    assert forward.of_melody == backward.of_melody[::-1]
