"""Does a generated melody copy its training set? Shared runs and shared n-grams.

Notes are compared by their transposition- and grid-invariant symbols, and runs of notes by
their hashes, both from `prepare.fingerprint`: two runs match when their intervals, rests and
durations are equal, so a copy transposed to any key is found.

For each generated melody, `OriginalityIndex.check` reports

- longest_shared_run: the largest k such that some run of k notes of the melody matches some
  run of k notes of one training melody (0 for no notes);
- ngram_share: with n = `ngram`, the share of the melody's len - n + 1 runs of n notes that
  match a run of n notes anywhere in the training set (NaN with fewer than n notes);
- is_copy: longest_shared_run >= copy_run or ngram_share >= copy_share.

How: the index keeps, for k = 1..n, the sorted distinct hashes of all
training runs of k notes, and every n-note run's hash with its position. A query walks k up
from 1, keeping only the start positions whose run still matches (a run matches only if its
prefix does); past n it carries along only the training positions whose run equals one of
the query's, which are few. Cost: O(N log N) once for N training notes, then about
O(Q log N) for Q query notes plus O(matches) per extra note of the longest run. Equal hashes
are taken as equal runs; with 64 bits a false match is vanishingly unlikely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyError
from melodyrnn.prepare.fingerprint import NoteSymbols, extend_hash, note_symbols


@dataclass(frozen=True)
class OriginalityResult:
    """How much of one generated melody is found in the training set (see module docstring).

    `matched_source` is the `source` of the training melody holding the longest shared run
    and `matched_index` its position in the training list ('' and -1 when nothing matched).
    """

    longest_shared_run: int
    ngram_share: float
    is_copy: bool
    matched_source: str = ""
    matched_index: int = -1


class OriginalityIndex:
    """The training melodies, indexed once, to check generated melodies against.

    `ngram`: notes per n-gram for `ngram_share` (default 8: 8 durations, 7 intervals, 7
    rests). A melody is flagged `is_copy` when its longest shared run has at least `copy_run`
    notes (default 24: three bars of eighth notes in 4/4) or at least `copy_share` of its
    n-grams occur in the training set (default 0.5).

    Why 24: held-out tunes of the folk corpus checked against its training split share runs
    of 8 to 16 notes as a matter of course (common figures and cadences; median 12), and the
    runs of 24 notes and more are the tail of the same tune found twice in the corpus.
    """

    def __init__(self, training_melodies: Sequence[Melody], ngram: int = 8, *,
                 copy_run: int = 24, copy_share: float = 0.5) -> None:
        if ngram < 1:
            raise MelodyError(f"ngram must be at least 1 note, got {ngram}")
        if copy_run < 1 or not 0.0 < copy_share <= 1.0:
            raise MelodyError(f"copy_run must be >= 1 and copy_share in (0, 1], got "
                              f"{copy_run} and {copy_share}")
        self.ngram, self.copy_run, self.copy_share = ngram, copy_run, copy_share
        self.sources = [m.source for m in training_melodies]
        self._train = note_symbols(training_melodies)
        # For k = 1..ngram: sorted distinct hashes of all k-note runs, and where one occurs.
        self._distinct: list[tuple[np.ndarray, np.ndarray]] = []
        pos = np.arange(len(self._train.first))
        h = self._train.first
        for k in range(1, ngram + 1):
            if k > 1:
                keep = pos + k <= self._train.end[pos]
                pos, h = pos[keep], extend_hash(h[keep], self._train.next[pos[keep] + k - 1])
            values, first_at = np.unique(h, return_index=True)
            self._distinct.append((values, pos[first_at]))
        order = np.argsort(h, kind="stable")
        self._ngram_hashes, self._ngram_positions = h[order], pos[order]

    def __len__(self) -> int:
        return len(self.sources)

    def check(self, melody: Melody) -> OriginalityResult:
        """Longest shared run, n-gram share and copy flag of one melody."""
        return self.check_all([melody])[0]

    def check_all(self, melodies: Sequence[Melody]) -> list[OriginalityResult]:
        """`check` for many melodies at once (much faster than one by one)."""
        query = note_symbols(melodies)
        best = np.zeros(len(melodies), dtype=np.int64)
        match = np.full(len(melodies), -1, dtype=np.int64)
        shared = np.zeros(len(melodies), dtype=np.int64)
        pos, h = self._walk_known(query, best, match, shared)
        if len(pos):
            self._walk_beyond(query, pos, h, best, match)
        results = []
        for i, length in enumerate(query.lengths):
            windows = length - self.ngram + 1
            share = shared[i] / windows if windows > 0 else math.nan
            source_index = int(self._train.melody[match[i]]) if match[i] >= 0 else -1
            results.append(OriginalityResult(
                longest_shared_run=int(best[i]), ngram_share=float(share),
                is_copy=bool(best[i] >= self.copy_run or share >= self.copy_share),
                matched_source=self.sources[source_index] if source_index >= 0 else "",
                matched_index=source_index))
        return results

    def _walk_known(self, query: NoteSymbols, best: np.ndarray, match: np.ndarray,
                    shared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Runs of 1..ngram notes, looked up in the index; returns the n-runs that matched."""
        pos = np.arange(len(query.first))
        h = query.first
        for k, (values, where) in enumerate(self._distinct, start=1):
            if k > 1:
                keep = pos + k <= query.end[pos]
                pos, h = pos[keep], extend_hash(h[keep], query.next[pos[keep] + k - 1])
            idx = np.minimum(np.searchsorted(values, h), len(values) - 1)
            found = values[idx] == h if len(values) else np.zeros(len(h), dtype=bool)
            pos, h, idx = pos[found], h[found], idx[found]
            if not len(pos):
                break
            best[query.melody[pos]] = k
            match[query.melody[pos]] = where[idx]
            if k == self.ngram:
                shared += np.bincount(query.melody[pos], minlength=len(shared))
        return pos, h

    def _walk_beyond(self, query: NoteSymbols, pos: np.ndarray, h: np.ndarray,
                     best: np.ndarray, match: np.ndarray) -> None:
        """Runs longer than ngram notes, against only the training runs that still match."""
        wanted = np.unique(h)
        lo = np.searchsorted(self._ngram_hashes, wanted, side="left")
        hi = np.searchsorted(self._ngram_hashes, wanted, side="right")
        sizes = hi - lo
        # positions lo[i] .. hi[i]-1 for every i, flattened
        flat = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        t_pos, t_h = self._ngram_positions[flat], self._ngram_hashes[flat]
        train = self._train
        k = self.ngram
        while len(pos) and len(t_pos):
            k += 1
            keep = pos + k <= query.end[pos]
            pos, h = pos[keep], extend_hash(h[keep], query.next[pos[keep] + k - 1])
            keep = t_pos + k <= train.end[t_pos]
            t_pos, t_h = t_pos[keep], extend_hash(t_h[keep], train.next[t_pos[keep] + k - 1])
            order = np.lexsort((t_pos, t_h))  # by hash, then position: the first is reported
            t_pos, t_h = t_pos[order], t_h[order]
            idx = np.minimum(np.searchsorted(t_h, h), max(len(t_h) - 1, 0))
            found = t_h[idx] == h if len(t_h) else np.zeros(len(h), dtype=bool)
            pos, h, idx = pos[found], h[found], idx[found]
            best[query.melody[pos]] = k
            match[query.melody[pos]] = t_pos[idx]
            # keep the training runs that some query run still equals
            wanted = np.unique(h)
            j = np.minimum(np.searchsorted(wanted, t_h), max(len(wanted) - 1, 0))
            alive = wanted[j] == t_h if len(wanted) else np.zeros(len(t_h), dtype=bool)
            t_pos, t_h = t_pos[alive], t_h[alive]


def format_originality(results: Sequence[OriginalityResult], ngram: int = 8,
                       show: int = 10) -> str:
    """A short summary: how many were flagged, run and n-gram share figures, the worst ones."""
    if not results:
        return "originality: no melodies checked"
    runs = np.array([r.longest_shared_run for r in results])
    shares = np.array([r.ngram_share for r in results])
    finite = shares[np.isfinite(shares)]
    copies = [i for i, r in enumerate(results) if r.is_copy]
    share_text = (f"mean {finite.mean():.3f}, max {finite.max():.3f}" if len(finite)
                  else "n/a (melodies shorter than n)")
    lines = [
        f"originality of {len(results)} melodies: {len(copies)} flagged as copies "
        f"({100 * len(copies) / len(results):.1f}%)",
        f"  longest shared run (notes): median {np.median(runs):g}, "
        f"90th percentile {np.percentile(runs, 90):g}, max {runs.max()}",
        f"  share of {ngram}-note n-grams found in training: {share_text}",
    ]
    worst = sorted(copies, key=lambda i: -results[i].longest_shared_run)[:show]
    for i in worst:
        r = results[i]
        source = r.matched_source or f"training #{r.matched_index}"
        lines.append(f"  #{i}: {r.longest_shared_run} notes shared, n-gram share "
                     f"{r.ngram_share:.2f}, from {source}")
    if len(copies) > show:
        lines.append(f"  ... and {len(copies) - show} more")
    return "\n".join(lines)
