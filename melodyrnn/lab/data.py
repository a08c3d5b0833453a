"""The lab's data: a prepared dataset's splits as packed windows, melodies and note counts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodyrnn.errors import CorpusError, TokenizerError
from melodyrnn.fit.datamodule import read_dataset_tokenizer, read_manifest
from melodyrnn.fit.module import NOTE_PREFIXES
from melodyrnn.prepare.build import prepare
from melodyrnn.prepare.shards import SPLITS, TokenSplit, read_split
from melodyrnn.tokenizers import Tokenizer, load_tokenizer

DEFAULT_CORPUS = "essen-kinder"
DEFAULT_PATH = Path("corpora") / DEFAULT_CORPUS


@dataclass
class LabData:
    """One prepared dataset, read once: its tokenizer, vocabulary and the three splits."""

    path: Path
    # None for data that is not note tokens (lab/chars.py), or whose tokenizer.json this
    # version cannot rebuild
    tokenizer: Tokenizer | None
    vocab: list[str]
    splits: dict[str, TokenSplit]
    manifest: dict[str, Any] = field(default_factory=dict)
    # notes of each split, where they are not the note-starting tokens (characters of ABC)
    note_counts: dict[str, int] | None = None

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        return self.vocab.index("PAD")

    @property
    def bos_id(self) -> int:
        return self.vocab.index("BOS")

    @property
    def is_note(self) -> Tensor:
        """(V,) bool: which token ids start a note (a note's bits are charged to them)."""
        return torch.tensor([t.startswith(NOTE_PREFIXES) for t in self.vocab])

    def melodies(self, split: str) -> list[np.ndarray]:
        """Each melody of a split as its token ids (BOS ... EOS)."""
        tokens = self.splits[split]
        return [np.asarray(tokens[i], dtype=np.int64) for i in range(len(tokens))]

    def notes(self, split: str) -> int:
        """Notes in a split: the tokens that start a note (or `note_counts`)."""
        if self.note_counts is not None:
            return self.note_counts[split]
        tokens = torch.from_numpy(np.asarray(self.splits[split].tokens, dtype=np.int64))
        return int(self.is_note[tokens].sum())

    def windows(self, split: str, seq_len: int) -> tuple[Tensor, Tensor]:
        """The split's melodies end to end, cut into (N, seq_len) inputs and targets.

        As `fit` packs them (`fit/datamodule.py`): targets are the inputs shifted by one, PAD
        where nothing is to be predicted (padding of the last window, and the BOS after an EOS).
        """
        tokens = np.asarray(self.splits[split].tokens, dtype=np.int64)
        if len(tokens) < 2:
            raise CorpusError(f"{self.path}: the {split} split has no tokens to learn from")
        n = -(-(len(tokens) - 1) // seq_len)
        stream = np.full(n * seq_len + 1, self.pad_id, dtype=np.int64)
        stream[:len(tokens)] = tokens
        inputs = torch.from_numpy(stream[:-1].reshape(n, seq_len).copy())
        targets = torch.from_numpy(stream[1:].reshape(n, seq_len).copy())
        targets[targets == self.bos_id] = self.pad_id
        return inputs, targets

    def describe(self) -> dict[str, Any]:
        """What the JSON of an experiment records of its data."""
        digest = hashlib.sha1()
        for split in SPLITS:
            digest.update(np.ascontiguousarray(self.splits[split].tokens).tobytes())
        return {"path": str(self.path), "corpus": self.manifest.get("corpus", self.path.name),
                "vocab_size": self.vocab_size,
                "tokenizer": self.tokenizer.name if self.tokenizer else self.manifest.get(
                    "tokenizer", "characters"),
                "melodies": {s: len(t) for s, t in self.splits.items()},
                "notes": {s: self.notes(s) for s in self.splits},
                "tokens": {s: len(t.tokens) for s, t in self.splits.items()},
                "tokens_sha1": digest.hexdigest()}


def load_lab_data(path: str | Path | None = None, *, quiet: bool = False) -> LabData:
    """The dataset at `path`; by default corpora/essen-kinder, built by `prepare` if missing."""
    directory = Path(path) if path is not None else DEFAULT_PATH
    if path is None and not (directory / "tokenizer.json").is_file():
        if not quiet:
            print(f"building {directory} from music21's corpus (once; a few seconds)")
        prepare(DEFAULT_CORPUS, directory, progress=False)
    tokenizer_json = read_dataset_tokenizer(directory)
    splits = {split: read_split(directory, split) for split in SPLITS}
    for split in ("train", "valid"):
        if len(splits[split]) == 0:
            raise CorpusError(f"{directory}: the {split} split holds no melodies; the lab "
                              "trains on train and measures on valid")
    try:
        tokenizer: Tokenizer | None = load_tokenizer(tokenizer_json)
    except TokenizerError:  # token ids are enough to train on; decoding needs the tokenizer
        tokenizer = None
    return LabData(directory, tokenizer, list(tokenizer_json["vocab"]), splits,
                   read_manifest(directory))
