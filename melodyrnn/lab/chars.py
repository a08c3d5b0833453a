"""The character-level route: the same tunes written as ABC text, one token per character.

folk-rnn and the lecture's char-rnn read music as text. Here every melody of a prepared
dataset is decoded from its note tokens (`tokenizer.decode`), written as ABC by the package's
writer (`io/outputs/abc.py`), and its characters become the tokens of a `LabData` that the
lab's training loop takes like any other. Its `note_counts` are the notes of the note data,
so `bits_per_note` of a character model is on the note-event model's scale.

The text holds the information of the tokens, no more: the writer's `%abc-2.1`, `X:` and `T:`
lines are dropped (a file header, a number and a made-up title), and so is `Q:`, since no
tokenizer of the package encodes tempo (every decoded melody is 120 qpm). `M:`, `L:` and `K:`
stay: ABC needs them to be read, and they carry the meter and key where the tokens hold them.
What remains different is spelling, not information: where the tokens hold no meter or key
(essen-kinder's), `M:4/4` and `K:C` are the same in every tune and the bar lines are those of
4/4, computed from the durations; pitches are spelled (`^F` or `_G`) and grouped by beat as the
writer does, a function of the notes. The character model has to predict all of that too,
which is part of what the comparison measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melodyrnn.core.melody import Melody
from melodyrnn.errors import CorpusError, MelodyRNNError
from melodyrnn.io.outputs.abc import to_abc
from melodyrnn.lab.data import LabData
from melodyrnn.prepare.shards import SPLITS, TokenSplit
from melodyrnn.tokenizers import Tokenizer

HEADER_FIELDS = ("M:", "L:", "K:")  # the header lines kept; the body follows K:
SPECIALS = ("PAD", "BOS", "EOS", "UNK")  # ids 0-3; UNK stands for a character unseen in train
UNK_ID = SPECIALS.index("UNK")


@dataclass
class CharCorpus:
    """A dataset's tunes as ABC characters, and what it cost to write them."""

    data: LabData  # characters as tokens; note_counts from `notes`
    notes: LabData  # the note data, less any melody that could not be written as ABC
    failed: dict[str, int]  # melodies of each split that could not be written (left out)
    unknown: dict[str, int]  # characters of each split unseen in train (read as UNK)
    characters: dict[str, int]  # characters of each split's texts (BOS and EOS not counted)
    example: str  # the text of the first valid tune, to show what the model reads


def tune_text(melody: Melody) -> str:
    """The melody as ABC: the header lines M:, L:, K: and the body (no %abc, X:, T:, Q:)."""
    lines = to_abc(melody).splitlines()
    body = next(i for i, line in enumerate(lines) if line.startswith("K:")) + 1
    kept = [line for line in lines[:body] if line.startswith(HEADER_FIELDS)]
    return "\n".join(kept + lines[body:]) + "\n"


def split_texts(tokenizer: Tokenizer, melodies: Sequence[np.ndarray]) -> tuple[list[str],
                                                                               list[int]]:
    """The ABC text of each melody that writes, and the indices of those that do."""
    texts, kept = [], []
    for i, ids in enumerate(melodies):
        try:
            text = tune_text(tokenizer.decode(ids))
        except (MelodyRNNError, ValueError, KeyError, IndexError, StopIteration):
            continue  # one melody the writer cannot spell costs only itself; counted by the caller
        texts.append(text)
        kept.append(i)
    return texts, kept


def char_corpus(data: LabData) -> CharCorpus:
    """The tunes of `data` (note tokens) as a dataset of their ABC text's characters."""
    if data.tokenizer is None:
        raise MelodyRNNError(f"{data.path}: the character route needs a dataset of note "
                             "tokens to write as ABC, and this one has no tokenizer")
    texts: dict[str, list[str]] = {}
    kept: dict[str, list[int]] = {}
    for split in SPLITS:
        texts[split], kept[split] = split_texts(data.tokenizer, data.melodies(split))
    if not texts["train"] or not texts["valid"]:
        raise CorpusError(f"{data.path}: no melody of the train or valid split could be written "
                          "as ABC, so there is no text to learn from")
    vocab = [*SPECIALS, *sorted(set("".join(texts["train"])))]
    if len(vocab) > np.iinfo(np.uint16).max:
        raise CorpusError(f"{data.path}: the ABC texts use {len(vocab):,} characters, more "
                          "than token ids of 16 bits can hold")
    ids = {c: i for i, c in enumerate(vocab) if i >= len(SPECIALS)}
    splits, unknown = {}, {}
    for split in SPLITS:
        splits[split], unknown[split] = encode_texts(texts[split], ids)
    notes = subset(data, kept)
    manifest = {"corpus": f"{data.describe()['corpus']} as ABC characters",
                "encoding": "ABC text, one token per character", "header_fields":
                list(HEADER_FIELDS), "source_vocab_size": data.vocab_size}
    chars = LabData(data.path, None, vocab, splits, manifest,
                    note_counts={split: notes.notes(split) for split in SPLITS})
    return CharCorpus(chars, notes,
                      failed={s: len(data.splits[s]) - len(kept[s]) for s in SPLITS},
                      unknown=unknown, characters={s: sum(map(len, texts[s])) for s in SPLITS},
                      example=texts["valid"][0])


def encode_texts(texts: Sequence[str], ids: dict[str, int]) -> tuple[TokenSplit, int]:
    """Texts as BOS chars EOS sequences (a TokenSplit), and how many characters were UNK."""
    bos, eos = SPECIALS.index("BOS"), SPECIALS.index("EOS")
    sequences = [[bos, *(ids.get(c, UNK_ID) for c in text), eos] for text in texts]
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.array([t for s in sequences for t in s], dtype=np.uint16)
    return TokenSplit(tokens, offsets), int((tokens == UNK_ID).sum())


def subset(data: LabData, kept: dict[str, list[int]]) -> LabData:
    """`data` with only the melodies of `kept` in each split (itself when nothing is left out)."""
    if all(len(kept[s]) == len(data.splits[s]) for s in SPLITS):
        return data
    splits = {}
    for split in SPLITS:
        melodies = [np.asarray(data.splits[split][i]) for i in kept[split]]
        offsets = np.zeros(len(melodies) + 1, dtype=np.int64)
        np.cumsum([len(m) for m in melodies], out=offsets[1:])
        tokens = np.concatenate(melodies).astype(np.uint16) if melodies \
            else np.zeros(0, dtype=np.uint16)
        splits[split] = TokenSplit(tokens, offsets)
    return LabData(data.path, data.tokenizer, data.vocab, splits, data.manifest)
