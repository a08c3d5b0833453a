"""The character route of `lab inputs`: tunes as ABC text, characters as tokens."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyRNNError
from melodyrnn.lab import chars
from melodyrnn.lab.chars import SPECIALS, UNK_ID, char_corpus, tune_text
from melodyrnn.lab.data import LabData, load_lab_data
from melodyrnn.prepare.shards import write_split
from melodyrnn.tokenizers import get_tokenizer

OPTIONS = {"pitch_range": [55, 79], "max_duration_steps": 16, "meter_token": True,
           "key_token": True}
C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72)


def _melody(rng: random.Random, pitches: tuple[int, ...]) -> Melody:
    """A few bars of quarters and eighths over `pitches`, in 4/4 or 3/4."""
    notes, step = [], 0
    for _ in range(rng.randint(6, 14)):
        duration = rng.choice((2, 4, 4))
        notes.append(Note(rng.choice(pitches), step, duration))
        step += duration
    return Melody(notes, time_signature=rng.choice(((4, 4), (3, 4))), key="C:major")


def _dataset(directory: Path, valid_pitches: tuple[int, ...] = C_MAJOR) -> Path:
    """A prepared dataset of 40/8/8 small C-major tunes (valid over `valid_pitches`)."""
    tokenizer = get_tokenizer("note", **OPTIONS)
    rng = random.Random(1)
    counts = {"train": 40, "valid": 8, "test": 8}
    directory.mkdir()
    for split, n in counts.items():
        pitches = valid_pitches if split == "valid" else C_MAJOR
        write_split(directory, split, [tokenizer.encode(_melody(rng, pitches)) for _ in range(n)])
    tokenizer.save(directory / "tokenizer.json")
    manifest = {"corpus": "tiny-c-major", "tokenizer": "note", "splits": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def _decode(data: LabData, ids: np.ndarray) -> Melody:
    """The melody of a note dataset's token ids."""
    assert data.tokenizer is not None
    return data.tokenizer.decode(ids)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> LabData:
    return load_lab_data(_dataset(tmp_path_factory.mktemp("chars") / "tiny"))


def test_tune_text_keeps_the_musical_header_fields_only() -> None:
    tokenizer = get_tokenizer("note", **OPTIONS)
    melody = Melody([Note(p, 4 * i, 4) for i, p in enumerate((67, 69, 71, 72, 74, 66, 67, 67))],
                    key="G:major", time_signature=(3, 4), source="tunes/some.abc#3")
    text = tune_text(tokenizer.decode(tokenizer.encode(melody)))
    assert text == "M:3/4\nL:1/8\nK:G\nG2 A2 B2 | c2 d2 F2 | G2 G2 |]\n"
    # without meter and key tokens the header says the decoder's 4/4 and K:C, and spells F#
    plain = get_tokenizer("note", pitch_range=[55, 79], max_duration_steps=16)
    text = tune_text(plain.decode(plain.encode(melody)))
    assert text.splitlines()[:3] == ["M:4/4", "L:1/8", "K:C"]
    assert "^F2" in text
    assert not any(line.startswith(("X:", "T:", "Q:", "%")) for line in text.splitlines())


def test_characters_are_the_texts_of_the_melodies(data: LabData) -> None:
    corpus = char_corpus(data)
    vocab = corpus.data.vocab
    assert vocab[:4] == list(SPECIALS) and corpus.data.tokenizer is None
    assert corpus.failed == {"train": 0, "valid": 0, "test": 0}
    for split in ("train", "valid", "test"):
        melodies, texts = data.melodies(split), corpus.data.melodies(split)
        assert len(texts) == len(melodies)
        for ids, text_ids in zip(melodies, texts, strict=True):
            assert text_ids[0] == corpus.data.bos_id and text_ids[-1] == vocab.index("EOS")
            assert (text_ids == corpus.data.bos_id).sum() == 1
            text = "".join(vocab[i] for i in text_ids[1:-1])
            assert text == tune_text(_decode(data, ids))
        tokens = corpus.data.splits[split].tokens
        assert len(tokens) == corpus.characters[split] + 2 * len(melodies)
        assert corpus.data.notes(split) == data.notes(split) > 0
        inputs, targets = corpus.data.windows(split, 50)
        assert inputs.shape == targets.shape and inputs.numel() >= len(tokens) - 1
        assert int((targets != corpus.data.pad_id).sum()) == len(tokens) - len(melodies)
    assert corpus.unknown == {"train": 0, "valid": 0, "test": 0}
    assert corpus.data.describe()["tokenizer"] == "characters"


def test_characters_unseen_in_train_are_counted_as_unk(tmp_path: Path) -> None:
    # valid tunes with F# and B-flat: K:C spells them ^F and _B, which train never writes
    data = load_lab_data(_dataset(tmp_path / "tiny", valid_pitches=(66, 70)))
    corpus = char_corpus(data)
    train_chars = set(corpus.data.vocab[4:])
    assert "^" not in train_chars and "_" not in train_chars
    texts = [tune_text(_decode(data, ids)) for ids in data.melodies("valid")]
    expected = sum(c not in train_chars for text in texts for c in text)
    assert expected >= len(texts)  # every valid tune writes at least one accidental
    assert corpus.unknown["valid"] == expected
    assert int((np.asarray(corpus.data.splits["valid"].tokens) == UNK_ID).sum()) == expected
    assert corpus.unknown["train"] == 0


def test_a_melody_that_cannot_be_written_is_left_out_of_both(
        data: LabData, monkeypatch: pytest.MonkeyPatch) -> None:
    first_valid = _decode(data, data.melodies("valid")[0])
    real = chars.tune_text

    def failing(melody: Melody) -> str:
        if melody.notes == first_valid.notes:
            raise MelodyRNNError("cannot spell this one")
        return real(melody)

    monkeypatch.setattr(chars, "tune_text", failing)
    corpus = char_corpus(data)
    assert corpus.failed["valid"] >= 1
    kept = len(data.splits["valid"]) - corpus.failed["valid"]
    assert len(corpus.notes.splits["valid"]) == len(corpus.data.splits["valid"]) == kept
    left_out = int(data.is_note[np.asarray(data.melodies("valid")[0])].sum())
    assert corpus.notes.notes("valid") == data.notes("valid") - left_out
    assert corpus.data.notes("valid") == corpus.notes.notes("valid")
    assert len(corpus.notes.splits["train"]) == len(data.splits["train"])


def test_data_without_a_tokenizer_is_refused(data: LabData) -> None:
    corpus = char_corpus(data)
    with pytest.raises(MelodyRNNError, match="no tokenizer"):
        char_corpus(corpus.data)
