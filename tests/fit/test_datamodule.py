"""The data module: packed windows, padded melody batches, the vocabulary it exposes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from melodyrnn.errors import CorpusError, MelodyRNNError
from melodyrnn.fit.datamodule import MelodyDataModule, PackedWindows, PaddedMelodies
from melodyrnn.prepare.shards import read_split


@pytest.fixture
def dataset(scales_dataset: Path) -> Path:
    """The scale runs of conftest.py; their vocabulary is `scales_vocab`."""
    return scales_dataset


def test_packed_windows_cover_every_token_once(dataset: Path, scales_vocab: list[str]) -> None:
    split = read_split(dataset, "train")
    bos, pad = scales_vocab.index("BOS"), scales_vocab.index("PAD")
    windows = PackedWindows(dataset, "train", seq_len=32, pad_id=pad, bos_id=bos)
    inputs = torch.cat([windows[i][0] for i in range(len(windows))]).numpy()
    targets = torch.cat([windows[i][1] for i in range(len(windows))]).numpy()
    n = len(split.tokens)
    assert np.array_equal(inputs[:n - 1], split.tokens[:-1])
    expected = split.tokens[1:].astype(np.int64)
    expected[expected == bos] = pad  # the BOS after an EOS is not a prediction target
    assert np.array_equal(targets[:n - 1], expected)
    assert np.all(targets[n - 1:] == pad)
    assert windows.real_token_share() > 0.99


def test_padded_melodies_are_bucketed_and_padded(dataset: Path, scales_vocab: list[str]) -> None:
    split = read_split(dataset, "train")
    pad, bos = scales_vocab.index("PAD"), scales_vocab.index("BOS")
    assert (split.lengths - 1 > 32).any()  # some melodies are longer than a row: they are cut
    batches = PaddedMelodies(dataset, "train", seq_len=32, batch_size=16, pad_id=pad)
    real_targets, rows_from_bos, rows, longest_before = 0, 0, 0, 0
    for b in range(len(batches)):
        inputs, targets = batches[b]
        assert inputs.shape == targets.shape and inputs.shape[0] <= 16
        assert inputs.shape[1] <= 32  # no row is longer than seq_len
        real = targets != pad
        lengths = real.sum(dim=1)
        # padding only after a row's tokens, and only up to the batch's own longest row
        assert torch.equal(real, torch.arange(inputs.shape[1]) < lengths[:, None])
        assert int(lengths.max()) == inputs.shape[1]
        # bucketed: rows are sorted by length, so batches do not overlap in length
        assert int(lengths.min()) >= longest_before
        longest_before = int(lengths.max())
        rows_from_bos += int((inputs[:, 0] == bos).sum())
        rows += inputs.shape[0]
        real_targets += int(real.sum())
    # every melody gives one row that starts at its BOS; the pieces cut from it do not
    assert rows_from_bos == len(split) < rows
    # every melody of L tokens gives L - 1 targets, cut pieces overlapping by one token
    assert real_targets == int((split.lengths - 1).sum())
    assert 0.9 < batches.real_token_share() <= 1.0


def test_datamodule_exposes_vocabulary_and_refuses_missing_dataset(
        dataset: Path, tmp_path: Path, scales_vocab: list[str]) -> None:
    data = MelodyDataModule(str(dataset), batch_size=4, seq_len=8)
    assert (data.vocab_size, data.pad_id) == (len(scales_vocab), scales_vocab.index("PAD"))
    assert data.tokenizer["name"] == "note"
    assert data.dataset_info["manifest"]["corpus"] == "synthetic-scales"
    with pytest.raises(CorpusError, match="does not exist"):
        MelodyDataModule(str(tmp_path / "nowhere"))
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        MelodyDataModule(str(tmp_path))


@pytest.mark.parametrize("packing", ["pack", "pad"])
def test_lookback_features_are_sliced_as_the_tokens_are(bars_dataset: Path,
                                                        packing: str) -> None:
    from melodyrnn.models.lookback import NO_POSITION, stream_features
    from melodyrnn.tokenizers import load_tokenizer

    data = MelodyDataModule(str(bars_dataset), batch_size=4, seq_len=24, packing=packing,
                            lookback=True)
    data.setup("fit")
    split = read_split(bars_dataset, "train")
    expected = stream_features(load_tokenizer(bars_dataset / "tokenizer.json"), split.tokens)
    assert np.array_equal(data.split_features("train"), expected)
    none = torch.tensor([NO_POSITION, data.pad_id, data.pad_id, 0, 0])
    dataset = data.datasets["train"]
    # (item, row, first token, real inputs) of every row checked
    if packing == "pack":
        last = len(dataset) - 1  # the padded end of the stream
        rows = [(i, None, i * 24, min(24, len(split.tokens) - i * 24)) for i in (0, 1, last)]
    else:
        rows = [(b, r, int(start), int(length) - 1) for b in range(len(dataset))
                for r, (start, length) in enumerate(zip(dataset.starts[dataset.batches[b]],
                                                        dataset.lengths[dataset.batches[b]],
                                                        strict=True))]
    for item, row, start, n in rows:
        inputs, _targets, features = dataset[item]
        if row is not None:
            inputs, features = inputs[row], features[row]
        assert features.shape == (*inputs.shape, 5) and features.dtype == torch.int64
        assert features[:n].tolist() == expected[start:start + n].tolist()
        assert (features[n:] == none).all()
    inputs, _targets, features = next(iter(data.train_dataloader()))
    assert features.shape == (*inputs.shape, 5) and inputs.shape[0] == 4


def test_lookback_batches_need_a_tokenizer_with_bar_lines(dataset: Path) -> None:
    data = MelodyDataModule(str(dataset), batch_size=4, seq_len=8, lookback=True)
    with pytest.raises(MelodyRNNError):  # the scale runs' vocabulary is no real tokenizer's
        data.setup("fit")
    assert len(MelodyDataModule(str(dataset), batch_size=4, seq_len=8).make_dataset(
        "train")[0]) == 2  # without lookback an item is (inputs, targets), as before
