"""Training batches from a prepared dataset: window datasets and `MelodyDataModule`.

A dataset directory (written by `melodyrnn prepare`, format in `prepare/shards.py`) is read through
memory maps, so several DDP processes share one copy in the page cache. Two ways to batch:

- "pack" (default): all sequences end to end (BOS ... EOS BOS ... EOS ...), cut into windows of
  `seq_len` inputs and `seq_len` targets; only the very last window is padded, so almost every
  position is a real token. Each window starts from a zero recurrent state.
- "pad": one melody per row (melodies longer than `seq_len` cut into pieces), rows grouped into
  batches of similar length and padded with PAD to the longest row of their batch.

Every item is a pair `(inputs, targets)` of int64 tensors where targets are inputs shifted by
one. Targets the model is not asked to predict hold PAD and are ignored by the loss: padding,
and in "pack" mode the BOS that follows an EOS (generation always starts from a given BOS).

With `lookback` (linked from `--model.lookback`) each item is a triple `(inputs, targets,
features)`: features (T, 5) or (B, T, 5) are the lookback features of the inputs
(`models/lookback.py`), computed once per split over its whole stream when the split is set
up (a few seconds for 700k tokens), kept as a uint16 array beside the tokens and sliced as
they are; padding gets the none-features.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from melodyrnn._files import read_json
from melodyrnn.errors import ConfigError, CorpusError
from melodyrnn.models.lookback import none_features, stream_features
from melodyrnn.prepare.shards import SPLITS, TokenSplit, read_split
from melodyrnn.tokenizers import load_tokenizer

Packing = Literal["pack", "pad"]
# Manifest entries larger than this (e.g. a list of every source file) stay out of checkpoints.
_MAX_MANIFEST_VALUE_CHARS = 4000
_PREPARE_AGAIN = "run `melodyrnn prepare` again"


def read_dataset_tokenizer(directory: str | Path) -> dict[str, Any]:
    """A dataset's tokenizer JSON, checked to have a vocabulary with PAD, BOS and EOS."""
    path = Path(directory) / "tokenizer.json"
    if not Path(directory).is_dir():
        raise CorpusError(f"dataset directory {directory} does not exist; build one with "
                          "`melodyrnn prepare`")
    if not path.is_file():
        raise CorpusError(f"{path} is missing; is {directory} a dataset written by "
                          "`melodyrnn prepare`?")
    tokenizer = read_json(path, CorpusError, "the tokenizer file", _PREPARE_AGAIN)
    vocab = tokenizer.get("vocab") if isinstance(tokenizer, dict) else None
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise CorpusError(f"{path} has no 'vocab' list of token names")
    missing = [t for t in ("PAD", "BOS", "EOS") if t not in vocab]
    if missing:
        raise CorpusError(f"{path}: the vocabulary lacks {', '.join(missing)}")
    return tokenizer


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The dataset's manifest.json, or {} when there is none (it is provenance, not data)."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        return {}
    manifest = read_json(path, CorpusError, "the manifest", _PREPARE_AGAIN)
    return manifest if isinstance(manifest, dict) else {}


class _ShardDataset(Dataset):
    """Base for datasets over one split: opens the memory map lazily in each process.

    Pickling (for spawned DataLoader workers) sends the path, never the arrays, so each worker
    maps the file itself instead of receiving a copy.
    """

    def __init__(self, directory: str | Path, split: str, pad_id: int,
                 features: np.ndarray | None = None) -> None:
        self.directory = Path(directory)
        self.split_name = split
        self.pad_id = pad_id
        self.features = features  # (n_tokens, 5) lookback features, or None
        self._split: TokenSplit | None = None

    @property
    def split(self) -> TokenSplit:
        if self._split is None:
            self._split = read_split(self.directory, self.split_name)
        return self._split

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_split": None}

    def _features_of(self, starts: np.ndarray, lengths: np.ndarray, width: int) -> torch.Tensor:
        """(rows, width, 5) features of the tokens [start, start + length) of each row."""
        assert self.features is not None
        out = np.empty((len(starts), width, self.features.shape[1]), dtype=np.int64)
        out[:] = none_features(self.pad_id)
        for row, (start, length) in enumerate(zip(starts, lengths, strict=True)):
            out[row, :length] = self.features[start:start + length]
        return torch.from_numpy(out)


class PackedWindows(_ShardDataset):
    """Sequences end to end, cut into windows of `seq_len` (inputs, targets) pairs."""

    def __init__(self, directory: str | Path, split: str, seq_len: int, pad_id: int,
                 bos_id: int, features: np.ndarray | None = None) -> None:
        super().__init__(directory, split, pad_id, features)
        self.seq_len = seq_len
        self.bos_id = bos_id
        n_tokens = len(self.split.tokens)
        # Window i reads tokens[i*T : i*T + T + 1]: consecutive windows share one token.
        self.n_windows = math.ceil((n_tokens - 1) / seq_len) if n_tokens > 1 else 0

    def __len__(self) -> int:
        return self.n_windows

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        start = i * self.seq_len
        window = np.full(self.seq_len + 1, self.pad_id, dtype=np.int64)
        chunk = self.split.tokens[start:start + self.seq_len + 1]
        window[:len(chunk)] = chunk
        inputs = torch.from_numpy(window[:-1])  # (T,)
        targets = torch.from_numpy(window[1:].copy())  # (T,)
        targets[targets == self.bos_id] = self.pad_id
        if self.features is None:
            return inputs, targets
        n_inputs = min(len(chunk), self.seq_len)
        features = self._features_of(np.array([start]), np.array([n_inputs]), self.seq_len)
        return inputs, targets, features[0]  # (T, 5)

    def real_token_share(self) -> float:
        """Share of target positions that hold a real token rather than padding."""
        n_targets = max(len(self.split.tokens) - 1, 0)
        return n_targets / (self.n_windows * self.seq_len) if self.n_windows else 0.0


class PaddedMelodies(_ShardDataset):
    """One melody (or a `seq_len` piece of a long one) per row; item b is a whole batch.

    Rows are sorted by length (ties in a seeded random order) and cut into batches of
    `batch_size`, so each batch pads only to its own longest row. The DataLoader shuffles the
    order of batches (with `batch_size=None`), and under DDP Lightning's DistributedSampler
    shares batches between processes.
    """

    def __init__(self, directory: str | Path, split: str, seq_len: int, batch_size: int,
                 pad_id: int, seed: int = 0, features: np.ndarray | None = None) -> None:
        super().__init__(directory, split, pad_id, features)
        self.seq_len = seq_len
        starts, lengths = self._pieces(self.split, seq_len)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(lengths))
        order = order[np.argsort(lengths[order], kind="stable")]
        self.starts = starts[order]
        self.lengths = lengths[order]
        self.batches = [slice(b, min(b + batch_size, len(order)))
                        for b in range(0, len(order), batch_size)]

    @staticmethod
    def _pieces(split: TokenSplit, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Token start and length of each row; a piece holds at most seq_len + 1 tokens."""
        offsets = np.asarray(split.offsets, dtype=np.int64)
        lengths = np.diff(offsets)
        keep = lengths >= 2  # a sequence needs an input and a target
        offsets, lengths = offsets[:-1][keep], lengths[keep]
        n_pieces = np.ceil((lengths - 1) / seq_len).astype(np.int64)
        seq_index = np.repeat(np.arange(len(lengths)), n_pieces)
        piece_index = np.arange(int(n_pieces.sum())) - np.repeat(np.cumsum(n_pieces) - n_pieces,
                                                                 n_pieces)
        starts = offsets[seq_index] + piece_index * seq_len
        ends = np.minimum(starts + seq_len + 1, offsets[seq_index] + lengths[seq_index])
        return starts, ends - starts

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> tuple[torch.Tensor, ...]:
        rows = self.batches[b]
        starts, lengths = self.starts[rows], self.lengths[rows]
        window = np.full((len(starts), int(lengths.max())), self.pad_id, dtype=np.int64)
        for row, (start, length) in enumerate(zip(starts, lengths, strict=True)):
            window[row, :length] = self.split.tokens[start:start + length]
        ids = torch.from_numpy(window)
        if self.features is None:
            return ids[:, :-1], ids[:, 1:].clone()  # (B, T), (B, T)
        features = self._features_of(starts, lengths - 1, window.shape[1] - 1)  # (B, T, 5)
        return ids[:, :-1], ids[:, 1:].clone(), features

    def real_token_share(self) -> float:
        """Share of target positions that hold a real token rather than padding."""
        real = padded = 0
        for rows in self.batches:
            lengths = self.lengths[rows] - 1
            real += int(lengths.sum())
            padded += int(lengths.max()) * len(lengths)
        return real / padded if padded else 0.0


class MelodyDataModule(L.LightningDataModule):
    """Batches of (inputs, targets) token windows from a dataset written by `melodyrnn prepare`."""

    def __init__(self, path: str, batch_size: int = 64, seq_len: int = 256, num_workers: int = 0,
                 packing: Packing = "pack", lookback: bool = False) -> None:
        """Read the dataset's tokenizer and manifest; the shards are mapped in `setup`.

        Args:
            path: Dataset directory (manifest.json, tokenizer.json, {split}.tokens/offsets.npy).
            batch_size: Windows (pack) or melodies (pad) per batch, per process.
            seq_len: Input tokens per window; melodies longer than this are cut in pad mode.
            num_workers: DataLoader worker processes (0 = load in the training process).
            packing: "pack" concatenates melodies into full windows; "pad" pads one melody per row.
            lookback: Give each window its lookback features too (linked from --model.lookback).
        """
        super().__init__()
        for name, value, low in (("batch_size", batch_size, 1), ("seq_len", seq_len, 1),
                                 ("num_workers", num_workers, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"data.{name} has to be an integer >= {low}, got {value!r}")
        if packing not in ("pack", "pad"):
            raise ConfigError(f"data.packing '{packing}' is not one of pack, pad")
        if not isinstance(lookback, bool):
            raise ConfigError(f"data.lookback has to be true or false, got {lookback!r}")
        self.save_hyperparameters()
        self.path = Path(path)
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.num_workers = num_workers
        self.packing = packing
        self.lookback = lookback
        self.tokenizer = read_dataset_tokenizer(self.path)
        vocab = self.tokenizer["vocab"]
        self.vocab_size = len(vocab)
        self.pad_id = vocab.index("PAD")
        self.bos_id = vocab.index("BOS")
        self.dataset_info = self._describe()
        self.datasets: dict[str, Dataset] = {}
        self._features: dict[str, np.ndarray] = {}  # split -> lookback features of its stream

    def _describe(self) -> dict[str, Any]:
        """What a checkpoint should remember of this dataset: manifest and split sizes."""
        manifest = {key: value for key, value in read_manifest(self.path).items()
                    if len(json.dumps(value, default=str)) <= _MAX_MANIFEST_VALUE_CHARS}
        splits = {}
        for split in SPLITS:
            if (self.path / f"{split}.offsets.npy").is_file():
                shard = read_split(self.path, split)
                splits[split] = {"sequences": len(shard), "tokens": len(shard.tokens)}
        if "train" not in splits:
            raise CorpusError(f"{self.path}/train.tokens.npy is missing; is {self.path} a "
                              "dataset written by `melodyrnn prepare`?")
        return {"path": str(self.path), "manifest": manifest, "splits": splits}

    def make_dataset(self, split: str, features: bool = True) -> Dataset:
        """The window dataset of one split with this module's settings (lookback features
        included when `lookback` is on, unless `features` is False)."""
        lookback = self.split_features(split) if self.lookback and features else None
        if self.packing == "pack":
            return PackedWindows(self.path, split, self.seq_len, self.pad_id, self.bos_id,
                                 features=lookback)
        return PaddedMelodies(self.path, split, self.seq_len, self.batch_size, self.pad_id,
                              features=lookback)

    def split_features(self, split: str) -> np.ndarray:
        """(n_tokens, 5) lookback features of a split's whole stream, computed once."""
        if split not in self._features:
            tokenizer = load_tokenizer(self.tokenizer)  # ConfigError if it knows no bars
            self._features[split] = stream_features(tokenizer, read_split(self.path,
                                                                          split).tokens)
        return self._features[split]

    def setup(self, stage: str) -> None:
        """Map the splits the stage needs (fit: train and valid; validate; test)."""
        wanted = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",),
                  "predict": ("test",)}[stage]
        for split in wanted:
            if split not in self.datasets:
                self.datasets[split] = self.make_dataset(split)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.datasets[split] if split in self.datasets else self.make_dataset(split)
        batch_size = self.batch_size if self.packing == "pack" else None  # pad: items are batches
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def real_token_share(self, split: str = "train") -> float:
        """Share of target positions that are real tokens (not PAD) with these settings."""
        dataset = self.make_dataset(split, features=False)
        return dataset.real_token_share()  # type: ignore[attr-defined]
