"""Which split a tune belongs to: a stable hash of the tune, never of the order or the cache."""

from __future__ import annotations

import hashlib


def split_of(group: str, valid: float, test: float) -> str:
    """'train', 'valid' or 'test' from a stable hash of a tune's source id.

    The hash depends on the id alone, so adding files never moves existing tunes between splits.
    """
    digest = hashlib.sha1(group.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test else "valid" if u < test + valid else "train"


def tune_group(melody_source: str) -> str:
    """The tune a melody belongs to (its id without track/part suffixes), used for splitting."""
    return melody_source.split(":track", 1)[0]
