"""Small shared fixtures: tiny melodies built in code, and where the test data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodyrnn.core.melody import Melody, Note

DATA_DIR = Path(__file__).resolve().parent / "data"
C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


@pytest.fixture
def data_dir() -> Path:
    """tests/data: small files shipped with the tests."""
    return DATA_DIR


@pytest.fixture
def c_major_scale() -> Melody:
    """C4 to C5 in quarter notes (4 steps each), 4/4, 120 qpm, C major."""
    notes = [Note(p, 4 * i, 4) for i, p in enumerate(C_MAJOR_SCALE)]
    return Melody(notes, key="C:major", source="c-major-scale")


@pytest.fixture
def folk_tune() -> Melody:
    """Eight bars of a D dorian tune in 6/8 with an eighth-note upbeat and varied velocity."""
    pitches = [57, 62, 64, 65, 64, 62, 60, 57, 60, 62, 64, 62, 69, 67, 65, 64, 62, 62]
    durations = [2, 4, 2, 4, 2, 6, 4, 2, 6, 4, 2, 6, 4, 2, 4, 2, 6, 6]
    notes, step = [], 10  # upbeat: the last eighth of a 12-step bar
    for i, (pitch, duration) in enumerate(zip(pitches, durations, strict=True)):
        notes.append(Note(pitch, step, duration, velocity=70 + 3 * (i % 5)))
        step += duration
    return Melody(notes, steps_per_quarter=4, qpm=96.0, time_signature=(6, 8), key="D:dorian",
                  source="folk-tune")


# --- a tiny trained model with a real tokenizer (for sampling, API, CLI and evaluation) -------

TINY_RECIPE = """
name = "tiny-tunes"
sources = ["{folder}"]
[extract]
strategy = "skyline"
min_notes = 4
min_pitch_classes = 2
split_gap_bars = 0
[split]
valid = 0.2
test = 0.2
[tokenizer]
name = "note"
pitch_range = [48, 84]
meter_token = true
key_token = true
bar_tokens = true
"""


def _write_tunes(folder: Path, n: int = 40) -> None:
    """MIDI files of stepwise C-major tunes in 4/4 (eighths and quarters), built in code."""
    import random

    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76]
    rng = random.Random(7)
    folder.mkdir(parents=True)
    for t in range(n):
        index, notes, step = rng.randrange(3, 7), [], 0
        while step < 64:  # four bars
            duration = rng.choice((2, 2, 4))
            notes.append(Note(scale[index], step, duration))
            index = min(len(scale) - 1, max(0, index + rng.choice((-1, 1, 1, -2, 2))))
            step += duration
        Melody(notes, key="C:major", source=f"tune{t}").write(folder / f"tune{t:02d}.mid")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of a tiny LSTM trained for a few seconds on 40 generated tunes."""
    import os

    from melodyrnn.fit.cli import make_cli
    from melodyrnn.models.bundle import export_bundle
    from melodyrnn.prepare.build import prepare

    base = tmp_path_factory.mktemp("tiny-model")
    os.environ.setdefault("MELODYRNN_CACHE", str(base / "cache"))
    _write_tunes(base / "tunes")
    recipe = base / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(folder=(base / "tunes").as_posix()))
    prepare([str(recipe)], base / "data", progress=False)
    root = Path(__file__).resolve().parents[1]
    make_cli(["fit", "--config", str(root / "configs" / "tiny.yaml"),
              "--data.path", str(base / "data"), "--trainer.default_root_dir", str(base / "runs"),
              "--trainer.max_epochs", "4", "--trainer.enable_progress_bar", "false"])
    return export_bundle(base / "runs" / "tiny" / "version_0", base / "bundle")


@pytest.fixture(scope="session")
def tiny_data(tiny_model: Path) -> Path:
    """The dataset the tiny model was trained on."""
    return tiny_model.parent / "data"
