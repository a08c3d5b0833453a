"""The cache of extracted melodies: one JSON file per source file content and options.

Keys hash a file's sha1 with the extraction options and a version, so a changed file, option or
package version simply misses. A damaged or unwritable cache only costs time, never a result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from melodyrnn._files import atomic_write_text, read_json
from melodyrnn.errors import CorpusError, MelodyRNNError


def cache_dir() -> Path:
    """Where extracted melodies are cached: $MELODYRNN_CACHE or ~/.cache/melodyrnn."""
    root = os.environ.get("MELODYRNN_CACHE") or Path.home() / ".cache" / "melodyrnn"
    return Path(root) / "extract"


def key(sha1: str, options: dict[str, Any], version: str) -> str:
    """The cache key of one file's content under some extraction options."""
    blob = json.dumps([sha1, options, version], sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()


def load(cache_key: str) -> dict[str, Any] | None:
    """The cached data, or None when missing or damaged."""
    try:
        data = read_json(cache_dir() / f"{cache_key}.json", CorpusError, "cached melodies")
    except CorpusError:
        return None
    return data if isinstance(data, dict) else None


def store(cache_key: str, data: dict[str, Any]) -> None:
    """Write the data atomically; a cache that cannot be written is skipped."""
    with contextlib.suppress(MelodyRNNError):  # a read-only or full cache only costs time
        atomic_write_text(cache_dir() / f"{cache_key}.json", json.dumps(data))
