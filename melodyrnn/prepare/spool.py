"""What each file gave, parked on disk between the two passes of a build.

Files come back from the workers in any order, and the split of a melody is known only once
every file is in (`tune_index`); the dataset is written in file order. So the first pass
appends each file's record (its packed melodies, or why it was skipped) to one spool file,
and the second reads them back by file index. Memory holds two integers per file.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np


class Spool:
    """Records by file index in one append-only file under `folder`."""

    def __init__(self, folder: Path, n_files: int) -> None:
        self.path = Path(folder) / "files.spool"
        self.offset = np.full(n_files, -1, dtype=np.int64)
        self.size = np.zeros(n_files, dtype=np.int64)
        self._file = open(self.path, "w+b")  # noqa: SIM115 (closed in close)
        self._end = 0
        self._reading = False

    def put(self, index: int, record: Any, blob: bytes = b"") -> None:
        """Store file `index`'s record; `blob` (already pickled melodies) goes after it as is."""
        data = pickle.dumps((record, len(blob)), protocol=pickle.HIGHEST_PROTOCOL) + blob
        if self._reading:  # a seek flushes the buffer: only when a read moved away
            self._file.seek(self._end)
            self._reading = False
        self._file.write(data)
        self.offset[index], self.size[index] = self._end, len(data)
        self._end += len(data)

    def get(self, index: int) -> tuple[Any, bytes] | None:
        """File `index`'s record and blob, or None when nothing was stored for it."""
        if self.offset[index] < 0:
            return None
        self._reading = True
        self._file.seek(int(self.offset[index]))
        data = self._file.read(int(self.size[index]))
        record, blob_size = pickle.loads(data)
        return record, data[len(data) - blob_size:] if blob_size else b""

    def close(self) -> None:
        """Close and remove the spool file."""
        self._file.close()
        self.path.unlink(missing_ok=True)
