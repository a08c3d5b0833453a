"""The train/valid/test split: a stable hash of each tune's id."""

from __future__ import annotations

from collections import Counter

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
