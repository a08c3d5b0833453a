"""The per-tune index of a build: tune ids, their groups and splits, with fingerprints on disk.

`splits.assign_splits` groups tunes that share a run of `DUPLICATE_RUN` notes from melodies in
memory; a build of any size gets the same groups from here without holding a melody. Each
melody's run hashes (`sources.melody_runs`) are appended to bucket files on disk by their top
bits, with the number of the tune they belong to; `assign` then reads one bucket at a time,
sorts it and joins the tunes of equal hashes. A group is named by its smallest tune id
whichever order the tunes came in, so the result is `assign_splits`'s. In memory stay only
the tune ids and, per tune, its parent in the union-find and its split.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from melodyrnn.prepare.splits import split_of, tune_group

RUN_RECORD = np.dtype([("hash", "<u8"), ("tune", "<i4")])
FLUSH_RUNS = 1 << 16  # runs held (768 kB) before they go to their buckets
RUNS_PER_BUCKET = 1 << 18  # runs a bucket holds (3 MB) when the corpus size is guessed right
SPLIT_CODES = ("train", "valid", "test")


class TuneIndex:
    """Tunes as they come (in any order), their note runs in bucket files under `folder`."""

    def __init__(self, folder: Path, expected_runs: int = 0) -> None:
        self.folder = Path(folder)
        bits = max(0, int(np.ceil(np.log2(max(expected_runs, 1) / RUNS_PER_BUCKET))))
        self.bits = min(bits, 8)
        self.number: dict[str, int] = {}  # tune id -> its number, in the order tunes came
        self.names: list[str] = []
        self._files = [open(self.folder / f"runs-{b:03d}.bin", "wb")  # noqa: SIM115
                       for b in range(1 << self.bits)]
        self._pending: list[np.ndarray] = []  # runs not yet in their buckets
        self._pending_runs = 0
        self.parent = array("i")
        self.roots = np.zeros(0, dtype=np.int32)  # per tune: its group's root, after `assign`
        self.split_code = np.zeros(0, dtype=np.uint8)  # per tune: its index in SPLIT_CODES

    def tune_of(self, source: str, file_id: str = "") -> int:
        """The number of the tune a melody (by its source) belongs to, added if new. A tune
        id equal to `file_id` (a MIDI file is one tune) is kept as that very string, so
        that the index holds no second copy of each file's name."""
        name = tune_group(source)
        number = self.number.get(name)
        if number is None:
            if name == file_id:
                name = file_id
            number = self.number[name] = len(self.names)
            self.names.append(name)
        return number

    def add(self, sources: Sequence[str], runs: np.ndarray, run_melody: np.ndarray,
            file_id: str = "") -> None:
        """The melodies of one file: their sources, and the hash and melody of each run."""
        tunes = np.array([self.tune_of(s, file_id) for s in sources], dtype=np.int32)
        if not len(runs):
            return
        records = np.empty(len(runs), dtype=RUN_RECORD)
        records["hash"], records["tune"] = runs, tunes[run_melody]
        self._pending.append(records)
        self._pending_runs += len(records)
        if self._pending_runs >= FLUSH_RUNS:
            self._flush()

    def _flush(self) -> None:
        """Append the pending runs to their buckets (one sort and one write per bucket: a
        write per file and bucket costs more than the hashing)."""
        if not self._pending:
            return
        records = np.concatenate(self._pending)
        self._pending, self._pending_runs = [], 0
        if self.bits:
            bucket = (records["hash"] >> np.uint64(64 - self.bits)).astype(np.int64)
            order = np.argsort(bucket, kind="stable")
            records, bucket = records[order], bucket[order]
            edges = np.searchsorted(bucket, np.arange(len(self._files) + 1))
        else:
            edges = np.array([0, len(records)])
        for b, file in enumerate(self._files):
            if edges[b + 1] > edges[b]:
                file.write(records[edges[b]:edges[b + 1]].tobytes())

    def assign(self, valid: float, test: float) -> None:
        """Join the tunes that share a run, and give each tune its group's split."""
        self._flush()
        for file in self._files:
            file.close()
        self.parent = array("i", range(len(self.names)))
        for bucket in range(len(self._files)):
            path = self.folder / f"runs-{bucket:03d}.bin"
            records = np.fromfile(path, dtype=RUN_RECORD)
            path.unlink()
            order = np.argsort(records["hash"], kind="stable")
            hashes, tunes = records["hash"][order], records["tune"][order]
            del records, order
            same = np.flatnonzero(hashes[1:] == hashes[:-1])
            for a, b in zip(tunes[same].tolist(), tunes[same + 1].tolist(), strict=True):
                self._join(a, b)
        self.roots = np.fromiter((self._root(t) for t in range(len(self.names))),
                                 dtype=np.int32, count=len(self.names))
        code_of_root = np.zeros(len(self.names), dtype=np.uint8)
        for root in np.flatnonzero(np.bincount(self.roots, minlength=len(self.names))):
            code_of_root[root] = SPLIT_CODES.index(split_of(self.names[root], valid, test))
        self.split_code = code_of_root[self.roots]

    def _root(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def _join(self, a: int, b: int) -> None:
        ra, rb = self._root(a), self._root(b)
        if ra != rb:  # the smaller tune id stays the root: the group's name
            low, high = (ra, rb) if self.names[ra] < self.names[rb] else (rb, ra)
            self.parent[high] = low

    def split_of_melody(self, source: str) -> str:
        """'train', 'valid' or 'test' for a melody of a tune already added (after `assign`)."""
        return SPLIT_CODES[int(self.split_code[self.number[tune_group(source)]])]

    def duplicate_groups(self, listed: int) -> tuple[list[list[str]], dict[int, int]]:
        """The first `listed` groups of more than one tune (as `Splits.duplicate_groups`
        orders them: largest first, then by name), and how many groups there are by size
        (after `assign`)."""
        counts = np.bincount(self.roots, minlength=len(self.names))
        joined = np.flatnonzero(counts > 1)
        sizes, n_groups = np.unique(counts[joined], return_counts=True)
        shown = sorted(joined.tolist(), key=lambda root: (-counts[root], self.names[root]))
        shown = shown[:listed]
        members: dict[int, list[str]] = {root: [] for root in shown}
        for tune in np.flatnonzero(np.isin(self.roots, shown)).tolist():
            members[int(self.roots[tune])].append(self.names[tune])
        by_size = dict(zip(sizes.tolist(), n_groups.tolist(), strict=True))
        return [sorted(members[root]) for root in shown], by_size

    def close(self) -> None:
        """Close the bucket files (a failed build; `assign` closes them too)."""
        for file in self._files:
            file.close()
