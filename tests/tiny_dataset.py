"""A tiny prepared dataset built in code: scale runs in a `note`-style vocabulary.

Shared by the training, model and bundle tests. Each melody is BOS, then notes climbing a
12-tone scale one step at a time from a random start (Pitch_p Duration_d pairs, durations
cycling 1 2 1 4), then EOS: next tokens are almost always predictable, so loss must fall.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from melodyrnn.prepare.shards import write_split

VOCAB = ["PAD", "BOS", "EOS", *(f"Pitch_{p}" for p in range(60, 72)),
         *(f"Duration_{d}" for d in (1, 2, 4))]
DURATIONS = (1, 2, 1, 4)


def scale_melody(rng: random.Random) -> list[int]:
    """Token ids of one melody: BOS, a rising scale run of 4-20 notes, EOS."""
    start, n_notes = rng.randrange(12), rng.randint(4, 20)
    ids = [VOCAB.index("BOS")]
    for i in range(n_notes):
        ids.append(VOCAB.index(f"Pitch_{60 + (start + i) % 12}"))
        ids.append(VOCAB.index(f"Duration_{DURATIONS[i % len(DURATIONS)]}"))
    ids.append(VOCAB.index("EOS"))
    return ids


def write_tiny_dataset(directory: Path, n_train: int = 200, n_valid: int = 30,
                       n_test: int = 30, seed: int = 0) -> Path:
    """Write manifest.json, tokenizer.json and train/valid/test shards; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    counts = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, n in counts.items():
        write_split(directory, split, [scale_melody(rng) for _ in range(n)])
    tokenizer = {"name": "note", "options": {}, "vocab": VOCAB}
    (directory / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    manifest = {"corpus": "synthetic-scales", "sources": ["tests/tiny_dataset.py"],
                "tokenizer": "note", "splits": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory
