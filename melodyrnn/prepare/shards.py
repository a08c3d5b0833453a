"""Token shards on disk: the format `prepare` writes and training reads.

A dataset directory holds `manifest.json`, `tokenizer.json` and, for each split
(`train`, `valid`, `test`), two numpy files:

- `{split}.tokens.npy`: every sequence's token ids (each BOS ... EOS) laid end to end, uint16;
- `{split}.offsets.npy`: int64 array of length n+1; sequence i is tokens[offsets[i]:offsets[i+1]].

Both are read with `mmap_mode="r"`, so several training processes share one copy in the page
cache instead of each loading the data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodyrnn._files import atomic_write
from melodyrnn.errors import CorpusError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class TokenSplit:
    """One split of a dataset: `tokens` (uint16) and `offsets` (int64, n+1), memory-mapped."""

    tokens: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Length in tokens of each sequence."""
        return np.diff(self.offsets)


def write_split(directory: Path, split: str, sequences: Sequence[Sequence[int]]) -> None:
    """Write one split's sequences as tokens/offsets .npy files (atomically, file by file)."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.empty(int(offsets[-1]), dtype=np.uint16)
    for seq, start, stop in zip(sequences, offsets[:-1], offsets[1:], strict=True):
        if len(seq) and (max(seq) > 65535 or min(seq) < 0):
            raise CorpusError(f"token id outside 0-65535 in split '{split}'")
        tokens[start:stop] = seq
    for name, array in (("tokens", tokens), ("offsets", offsets)):
        atomic_write(directory / f"{split}.{name}.npy", functools.partial(_save, array=array))


def _save(path: Path, array: np.ndarray) -> None:
    np.save(path, array)


def read_split(directory: str | Path, split: str) -> TokenSplit:
    """Memory-map one split of a prepared dataset; a clear CorpusError if it is missing."""
    directory = Path(directory)
    if split not in SPLITS:
        raise CorpusError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    paths = [directory / f"{split}.{name}.npy" for name in ("tokens", "offsets")]
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"{path} is missing; is {directory} a dataset written by "
                              "`melodyrnn prepare`?")
    try:
        tokens = np.load(paths[0], mmap_mode="r")
        offsets = np.load(paths[1], mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise CorpusError(f"{directory}: split '{split}' cannot be read ({exc}); "
                          "run `melodyrnn prepare` again") from None
    if offsets.ndim != 1 or len(offsets) < 1 or int(offsets[-1]) != len(tokens):
        raise CorpusError(f"{directory}: split '{split}' is inconsistent (offsets do not match "
                          "tokens); run `melodyrnn prepare` again")
    return TokenSplit(tokens=tokens, offsets=offsets)
