"""Experiment `inputs`: one-hot against embedding input, and the character-level model."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.lab import inputs
from melodyrnn.lab.data import LabData, load_lab_data
from melodyrnn.lab.train import BASE
from melodyrnn.prepare.shards import write_split
from melodyrnn.tokenizers import get_tokenizer

C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72)
H, E = 16, 32  # the test's hidden size; BASE's embedding


def _dataset(directory: Path) -> Path:
    """A prepared dataset of 40/8/8 stepwise C-major tunes, note tokens with bar lines."""
    tokenizer = get_tokenizer("note", pitch_range=[55, 79], max_duration_steps=16,
                              bar_tokens=True, meter_token=True)
    rng = random.Random(2)
    counts = {"train": 40, "valid": 8, "test": 8}
    directory.mkdir()
    for split, n in counts.items():
        melodies = []
        for _ in range(n):
            notes, step, index = [], 0, rng.randrange(8)
            while step < 32:
                notes.append(Note(C_MAJOR[index], step, 2 if step % 8 else 4))
                step += notes[-1].duration_steps
                index = (index + rng.choice((1, 1, -1))) % len(C_MAJOR)
            melodies.append(tokenizer.encode(Melody(notes)))
        write_split(directory, split, melodies)
    tokenizer.save(directory / "tokenizer.json")
    manifest = {"corpus": "tiny-steps", "tokenizer": "note", "splits": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> LabData:
    return load_lab_data(_dataset(tmp_path_factory.mktemp("inputs") / "tiny"))


@pytest.fixture(scope="module")
def result(data: LabData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("lab")
    said: list[str] = []
    inputs.run(data, out, inputs.Options(batches=150, hidden_size=H), said.append)
    assert len(said) == 3 and all(line.startswith("inputs: trained ") for line in said)
    written = json.loads((out / "inputs" / "inputs.json").read_text(encoding="utf-8"))
    for plot in written["plots"]:
        assert (out / "inputs" / plot).stat().st_size > 10_000
    assert (out / "inputs" / "valid-tune.abc").read_text(encoding="utf-8").startswith("M:4/4\n")
    return written


def test_json_holds_every_model_and_its_curve(result: dict[str, Any]) -> None:
    numbers = result["numbers"]
    assert set(numbers["models"]) == set(inputs.MODELS)
    assert result["plots"] == ["inputs.png", "inputs-curves.png"]
    assert 3 <= len(result["reading"]) <= 6
    for name, model in numbers["models"].items():
        assert len(model["valid_bpn_curve"]) == math.ceil(model["epochs"] - 1e-9), name
        # the network ends with its best epoch's weights, measured in the same windows
        assert model["valid_bpn"] == pytest.approx(min(model["valid_bpn_curve"]), rel=1e-6)
        assert model["bits_per_symbol"] * model["symbols_per_note"] == \
            pytest.approx(model["valid_bpn"])
        # trained, it does far better than guessing every symbol uniformly
        uniform = math.log2(model["vocab_size"]) * model["symbols_per_note"]
        assert model["valid_bpn"] < 0.7 * uniform, name
    assert numbers["abc_failed"]["valid"] == 0 and numbers["unknown_characters"]["valid"] == 0
    # BASE apart from the options, so that `lab all` shares the network with other experiments
    assert result["settings"]["train_embedding"] == {**BASE.to_dict(), "batches": 150,
                                                     "hidden_size": H}
    assert result["settings"]["train_onehot"]["input"] == "onehot"
    assert result["provenance"]["data"]["corpus"] == "tiny-steps"


def test_parameters_are_those_computed_by_hand(result: dict[str, Any], data: LabData) -> None:
    models, v = result["numbers"]["models"], data.vocab_size
    vc = models["characters"]["vocab_size"]
    decoder = H * v + v
    assert models["embedding"]["parameters"] == v * E + 4 * H * (E + H + 2) + decoder
    assert models["onehot"]["parameters"] == 4 * H * (v + H + 2) + decoder
    assert models["characters"]["parameters"] == vc * E + 4 * H * (E + H + 2) + H * vc + vc
    assert models["embedding"]["input_weights"] == v * E + 4 * H * E
    assert models["onehot"]["input_weights"] == 4 * H * v
    ratio = result["numbers"]["input_weights_ratio"]
    assert ratio == pytest.approx(4 * H * v / (v * E + 4 * H * E))


def test_the_character_model_sees_as_much_music_as_often(result: dict[str, Any],
                                                         data: LabData) -> None:
    models = result["numbers"]["models"]
    chars, notes = models["characters"], models["embedding"]
    char_tokens = sum(result["numbers"]["characters"].values()) + 2 * sum(
        len(data.splits[s]) for s in ("train", "valid", "test"))
    assert char_tokens > sum(len(data.splits[s].tokens) for s in ("train", "valid", "test"))
    assert chars["seq_len"] > notes["seq_len"] == 128
    assert chars["epochs"] == pytest.approx(notes["epochs"], rel=0.15)
    assert chars["symbols_per_note"] > notes["symbols_per_note"]


def _numbers(emb: float, hot: float, chars: float) -> dict[str, Any]:
    """A made-up result with these valid bits per note (for the reading's branches)."""
    model = {"valid_bpn": 0.0, "bits_per_symbol": 2.0, "symbols_per_note": 2.0, "vocab_size": 50,
             "parameters": 1000, "input_weights": 500, "seq_len": 128, "epochs": 10.0,
             "seconds_per_epoch": 1.0, "valid_bpn_curve": [9.0, 5.0], "best_epoch": 2}
    models = {name: {**copy.deepcopy(model), "valid_bpn": bpn}
              for name, bpn in zip(inputs.MODELS, (emb, hot, chars), strict=True)}
    return {"models": models, "onehot_minus_embedding_bpn": hot - emb,
            "characters_minus_notes_bpn": chars - emb, "input_weights_ratio": 6.0,
            "parameters_ratio": 2.0, "epoch_time_ratio": 1.5, "valid_notes": 100,
            "valid_melodies": 5, "abc_failed": {"valid": 0}, "unknown_characters": {"valid": 2},
            "characters": {"train": 1000}, "character_vocab": list("abc"), "note_vocab_size": 50,
            "embedding_dim": 32, "dropout": 0.3}


def test_the_reading_follows_the_numbers() -> None:
    agrees = inputs.reading(_numbers(4.0, 4.5, 5.0))
    assert "One-hot input reaches 4.50 bits per note against 4.00" in agrees[0]
    assert agrees[1].startswith("As the lecture says") and "slower" in agrees[1]
    assert "1.00 bits per note worse" in agrees[2]
    assert "costs 1.00 bits per note against the better note model, embedding" in agrees[4]
    assert "still improving" in agrees[3]
    assert "2 characters of the valid text were unseen" in agrees[5]
    disagrees = inputs.reading(_numbers(4.8, 4.4, 4.0))
    assert disagrees[1].startswith("Here one-hot input is the better")
    assert "the 32-wide code is a bottleneck and has 30% of it dropped" in disagrees[1]
    assert "0.80 bits per note better" in disagrees[2]
    assert "even gains 0.40 bits per note" in disagrees[4]
    level = inputs.reading(_numbers(4.8, 4.4, 4.42))
    assert "costs nothing against the better note model, one-hot" in level[4]
    assert "the 32-wide embedding's loss" in level[4]
