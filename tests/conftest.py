"""Small shared fixtures: tiny melodies built in code, and where the test data lives.

Everything a test reads is made in code or shipped in tests/data/, so the suite runs the same
on a fresh clone as here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from melodyrnn.core.melody import Melody, Note

DATA_DIR = Path(__file__).resolve().parent / "data"
# public edge-case MIDI files (jazz-soft/test-midi-files and nfroidure/midifile, both MIT)
EDGE_MIDI_DIR = DATA_DIR / "edge-midi"
C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def edge_midi_files() -> list[Path]:
    """Every .mid file under tests/data/edge-midi, in a stable order."""
    return sorted(EDGE_MIDI_DIR.glob("**/*.mid"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test that asks for `edge_midi_file` once per edge-case file, named after it."""
    if "edge_midi_file" not in metafunc.fixturenames:
        return
    files = edge_midi_files()
    if not files:  # an empty parametrization would skip; a missing folder must fail
        pytest.fail(f"no .mid files in {EDGE_MIDI_DIR}", pytrace=False)
    metafunc.parametrize("edge_midi_file", files,
                         ids=[p.relative_to(EDGE_MIDI_DIR).as_posix() for p in files])


@pytest.fixture(scope="session", autouse=True)
def private_melody_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Extracted melodies are cached in a temporary folder, never in ~/.cache/melodyrnn."""
    folder = tmp_path_factory.mktemp("melody-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MELODYRNN_CACHE", str(folder))
        yield folder


@pytest.fixture
def data_dir() -> Path:
    """tests/data: small files shipped with the tests."""
    return DATA_DIR


@pytest.fixture
def edge_midi() -> Callable[[str], Path]:
    """The edge-case file of this name (from any source folder); fails if it is missing."""
    def find(name: str) -> Path:
        matches = sorted(EDGE_MIDI_DIR.glob(f"*/{name}"))
        assert len(matches) == 1, f"expected one {name} in {EDGE_MIDI_DIR}, found {len(matches)}"
        return matches[0]
    return find


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
    from melodyrnn.fit.cli import make_cli
    from melodyrnn.models.bundle import export_bundle
    from melodyrnn.prepare.build import prepare

    base = tmp_path_factory.mktemp("tiny-model")
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
