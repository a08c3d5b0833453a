"""Which split a tune belongs to: copies of one tune together, and never by order or cache.

O'Neill's and Ryan's print many of the same tunes, often in another key or with small
changes, so a split by file or tune id alone would put one tune in train and its copy in test.
Instead tunes are grouped first: two tunes that share a run of `DUPLICATE_RUN` notes
(intervals, rests and durations, so transposition cannot hide it; `prepare.fingerprint`) are
in one group, and so, transitively, is every tune linked to them. Each group is named by its
smallest tune id, and the sha1 of that name picks the split. The result depends only on the
melodies and their ids, never on which file was read first, the cache or timing.

Folk tunes share runs of 8 to 12 notes as a matter of course (common figures and cadences);
16 notes, two bars of eighths in 4/4, is already the same tune. A new file can join two groups
and so move a group to another split; files that copy nothing already there never move others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.core.melody import Melody
from melodyrnn.prepare.fingerprint import note_symbols, run_hashes

DUPLICATE_RUN = 16  # notes in common that make two tunes one


def split_of(group: str, valid: float, test: float) -> str:
    """'train', 'valid' or 'test' from a stable hash of a group's (or tune's) name."""
    digest = hashlib.sha1(group.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test else "valid" if u < test + valid else "train"


def tune_group(melody_source: str) -> str:
    """The tune a melody belongs to (its id without track/part suffixes)."""
    return melody_source.split(":track", 1)[0]


@dataclass(frozen=True)
class Splits:
    """The split of every melody, and the groups of tunes that share a long run."""

    of_melody: list[str]  # 'train', 'valid' or 'test', one per melody in order
    group_of_tune: dict[str, str]  # tune id -> name of its group (its smallest tune id)

    def duplicate_groups(self) -> list[list[str]]:
        """Groups of more than one tune, each sorted, largest first (then by name)."""
        members: dict[str, list[str]] = {}
        for tune, group in self.group_of_tune.items():
            members.setdefault(group, []).append(tune)
        groups = [sorted(m) for m in members.values() if len(m) > 1]
        return sorted(groups, key=lambda g: (-len(g), g[0]))


def assign_splits(melodies: Sequence[Melody], valid: float, test: float,
                  duplicate_run: int = DUPLICATE_RUN) -> Splits:
    """The split of each melody: its tune's group, hashed (see the module docstring)."""
    tunes = [tune_group(m.source) for m in melodies]
    group_of_tune = group_tunes(melodies, tunes, duplicate_run)
    return Splits([split_of(group_of_tune[t], valid, test) for t in tunes], group_of_tune)


def group_tunes(melodies: Sequence[Melody], tunes: Sequence[str],
                duplicate_run: int = DUPLICATE_RUN) -> dict[str, str]:
    """Tune id -> group name, where tunes sharing a run of `duplicate_run` notes are one group."""
    names = sorted(set(tunes))
    index = {name: i for i, name in enumerate(names)}
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if melodies:
        hashes, owner = run_hashes(note_symbols(melodies), duplicate_run)
        tune_index = np.array([index[t] for t in tunes], dtype=np.int64)[owner]
        order = np.argsort(hashes, kind="stable")
        hashes, tune_index = hashes[order], tune_index[order]
        same = np.flatnonzero(hashes[1:] == hashes[:-1])
        for a, b in zip(tune_index[same].tolist(), tune_index[same + 1].tolist(), strict=True):
            ra, rb = root(a), root(b)
            if ra != rb:  # the smaller index (name) stays the root: the group's name
                parent[max(ra, rb)] = min(ra, rb)
    return {name: names[root(i)] for i, name in enumerate(names)}
