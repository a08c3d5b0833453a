"""Token shards on disk: the format `prepare` writes and training reads.

A dataset directory holds `manifest.json`, `tokenizer.json` and, for each split
(`train`, `valid`, `test`), two numpy files:

- `{split}.tokens.npy`: every sequence's token ids (each BOS ... EOS) laid end to end, uint16;
- `{split}.offsets.npy`: int64 array of length n+1; sequence i is tokens[offsets[i]:offsets[i+1]].

Both are read with `mmap_mode="r"`, so several training processes share one copy in the page
cache instead of each loading the data. They are written a chunk at a time (`SplitWriter`), so
writing never holds a split's tokens in memory either.
"""

from __future__ import annotations

import functools
import shutil
from array import array
from collections.abc import Iterable, Sequence
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


CHUNK_TOKENS = 1 << 18  # tokens a SplitWriter holds before it appends them to disk (512 kB)


class SplitWriter:
    """Writes one split sequence by sequence: tokens go to disk in chunks of `chunk_tokens`
    (to `{split}.tokens.part`), so memory holds one chunk and one length per sequence
    whatever the corpus size; `close` turns them into the two .npy files, byte for byte what
    `np.save` writes for the whole arrays."""

    def __init__(self, directory: Path, split: str, chunk_tokens: int = CHUNK_TOKENS) -> None:
        self.directory, self.split, self.chunk_tokens = Path(directory), split, chunk_tokens
        self.part = self.directory / f"{split}.tokens.part"
        self.lengths = array("q")
        self.buffer = array("H")  # uint16: a token id over 65535 does not fit
        self._file = open(self.part, "wb")  # noqa: SIM115 (closed in close or abort)

    def append(self, sequence: Sequence[int]) -> None:
        """Add one sequence of token ids."""
        try:
            self.buffer.extend(sequence)
        except (OverflowError, TypeError):
            raise CorpusError(f"token id outside 0-65535 in split '{self.split}'") from None
        self.lengths.append(len(sequence))
        if len(self.buffer) >= self.chunk_tokens:
            self.flush()

    def flush(self) -> None:
        """Append the buffered tokens to the .part file."""
        self.buffer.tofile(self._file)
        self._file.flush()
        del self.buffer[:]

    def close(self) -> None:
        """Write `{split}.tokens.npy` and `{split}.offsets.npy` (each atomically) and remove
        the .part file."""
        self.flush()
        self._file.close()
        offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self.lengths, dtype=np.int64), out=offsets[1:])
        atomic_write(self.directory / f"{self.split}.tokens.npy",
                     functools.partial(_save_tokens, part=self.part, count=int(offsets[-1])))
        atomic_write(self.directory / f"{self.split}.offsets.npy",
                     functools.partial(_save, array=offsets))
        self.part.unlink()

    def abort(self) -> None:
        """Close and remove the .part file (a failed build)."""
        self._file.close()
        self.part.unlink(missing_ok=True)


def write_split(directory: Path, split: str, sequences: Iterable[Sequence[int]],
                chunk_tokens: int = CHUNK_TOKENS) -> None:
    """Write one split's sequences as tokens/offsets .npy files (atomically, file by file),
    taking them one at a time from any iterable (see `SplitWriter`)."""
    writer = SplitWriter(directory, split, chunk_tokens)
    try:
        for sequence in sequences:
            writer.append(sequence)
        writer.close()
    except BaseException:
        writer.abort()
        raise


def _save(path: Path, array: np.ndarray) -> None:
    np.save(path, array)


def _save_tokens(path: Path, part: Path, count: int) -> None:
    """What `np.save` writes for the `count` uint16 tokens in `part`, copied a megabyte at a
    time: neither read into memory nor mapped (mapped pages would count as the process's)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint16)),
              "fortran_order": False, "shape": (count,)}
    with open(path, "wb") as out, open(part, "rb") as tokens:
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(tokens, out, 1 << 20)


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
