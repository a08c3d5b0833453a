"""Shared fixtures: tiny melodies, MIDI files and datasets built in code, and where data lives.

Everything a test reads is made in code or shipped in tests/data/, so the suite runs the same
on a fresh clone as here. Test modules do not import each other (pytest runs with
--import-mode=importlib): what several of them need is a fixture here. A fixture that returns
a function (`write_tune`, `make_tune_folder`, ...) is a small factory for files.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from melodyrnn.core.melody import Melody, Note

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "tests" / "data"
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
def session_melody_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Extracted melodies are cached in a temporary folder, never in ~/.cache/melodyrnn."""
    folder = tmp_path_factory.mktemp("melody-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MELODYRNN_CACHE", str(folder))
        yield folder


@pytest.fixture
def fresh_melody_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty melody cache for this test alone (for tests that count cache hits)."""
    monkeypatch.setenv("MELODYRNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def benchmark_module() -> Callable[[str], ModuleType]:
    """benchmarks/NAME.py imported from its file (benchmarks/ is not a package), once a session."""
    loaded: dict[str, ModuleType] = {}

    def load(name: str) -> ModuleType:
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f"benchmark_{name}",
                                                          ROOT / "benchmarks" / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            # a script may import its sibling scripts, as it does when run from benchmarks/
            sys.path.insert(0, str(ROOT / "benchmarks"))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(ROOT / "benchmarks"))
            loaded[name] = module
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def configs_dir() -> Path:
    """configs/: the LightningCLI YAML files (tiny.yaml for tests)."""
    return ROOT / "configs"


@pytest.fixture
def data_dir() -> Path:
    """tests/data: small files shipped with the tests."""
    return DATA_DIR


@pytest.fixture
def music21_corpus_file() -> Callable[[str], Path]:
    """A file of the corpus that ships inside the music21 package, by its relative path."""
    def find(relative: str) -> Path:
        import music21

        path = Path(music21.__file__).parent / "corpus" / relative
        if not path.exists():  # a music21 installed without its corpus
            pytest.skip(f"music21 corpus file {relative} is not installed")
        return path
    return find


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


# --- MIDI files written with pretty_midi directly (for prepare and the CLI) ----------------

def _write_tune(path: Path, pitches: list[int], quarter_seconds: float = 0.5) -> None:
    """A one-track MIDI file of quarter notes, written with pretty_midi directly."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=60 / quarter_seconds)
    inst = pretty_midi.Instrument(program=0)
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=i * quarter_seconds,
                                           end=(i + 1) * quarter_seconds))
    pm.instruments.append(inst)
    pm.write(str(path))


@pytest.fixture(scope="session")
def write_tune() -> Callable[..., None]:
    """write_tune(path, pitches, quarter_seconds=0.5): a MIDI file of quarter notes."""
    return _write_tune


@pytest.fixture(scope="session")
def make_tune_folder() -> Callable[..., Path]:
    """make_tune_folder(root, n=12) -> root/tunes: n MIDI files of 16 C-major quarter notes."""
    def make(root: Path, n: int = 12) -> Path:
        import numpy as np

        folder = root / "tunes"
        folder.mkdir()
        rng = np.random.default_rng(0)
        scale = [60, 62, 64, 65, 67, 69, 71, 72]
        for i in range(n):
            _write_tune(folder / f"tune{i:02d}.mid", [int(p) for p in rng.choice(scale, size=16)])
        return folder
    return make


# --- a tiny prepared dataset built in code (for training, model and bundle tests) -------------

# Each melody is BOS, then notes climbing a 12-tone scale one step at a time from a random
# start (Pitch_p Duration_d pairs, durations cycling 1 2 1 4), then EOS: next tokens are almost
# always predictable, so loss must fall.
SCALES_VOCAB = ("PAD", "BOS", "EOS", *(f"Pitch_{p}" for p in range(60, 72)),
                *(f"Duration_{d}" for d in (1, 2, 4)))
SCALES_DURATIONS = (1, 2, 1, 4)


def _scale_melody(rng: random.Random) -> list[int]:
    """Token ids of one melody: BOS, a rising scale run of 4-20 notes, EOS."""
    vocab = list(SCALES_VOCAB)
    start, n_notes = rng.randrange(12), rng.randint(4, 20)
    ids = [vocab.index("BOS")]
    for i in range(n_notes):
        ids.append(vocab.index(f"Pitch_{60 + (start + i) % 12}"))
        ids.append(vocab.index(f"Duration_{SCALES_DURATIONS[i % len(SCALES_DURATIONS)]}"))
    ids.append(vocab.index("EOS"))
    return ids


@pytest.fixture
def scales_vocab() -> list[str]:
    """The vocabulary of `scales_dataset`: PAD BOS EOS, Pitch_60-71, Duration_1/2/4."""
    return list(SCALES_VOCAB)


@pytest.fixture
def scales_tokenizer(scales_vocab: list[str]) -> dict:
    """The tokenizer of `scales_dataset`, as stored in checkpoints and bundles."""
    return {"name": "note", "options": {}, "vocab": scales_vocab}


@pytest.fixture(scope="session")
def scales_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared dataset of scale runs: 200 train, 30 valid and 30 test melodies (read-only)."""
    from melodyrnn.prepare.shards import write_split

    directory = tmp_path_factory.mktemp("data") / "scales"
    directory.mkdir()
    rng = random.Random(0)
    counts = {"train": 200, "valid": 30, "test": 30}
    for split, n in counts.items():
        write_split(directory, split, [_scale_melody(rng) for _ in range(n)])
    tokenizer = {"name": "note", "options": {}, "vocab": list(SCALES_VOCAB)}
    (directory / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    manifest = {"corpus": "synthetic-scales", "sources": ["tests/conftest.py"],
                "tokenizer": "note", "splits": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def write_checkpoint() -> Callable[..., Path]:
    """write_checkpoint(path, **hparams): a checkpoint shaped like Lightning's, untrained."""
    def write(path: Path, **options: object) -> Path:
        import torch

        from melodyrnn.fit.module import MelodyLightningModule

        tokenizer = {"name": "note", "options": {}, "vocab": list(SCALES_VOCAB)}
        hparams = {"vocab_size": len(SCALES_VOCAB), "embedding_dim": 8, "hidden_size": 8,
                   "num_layers": 1, "tokenizer": tokenizer, **options}
        module = MelodyLightningModule(**hparams)
        torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                    "epoch": 0, "global_step": 0}, path)
        return path
    return write


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


def _write_tiny_corpus(folder: Path, n: int = 40) -> Path:
    """MIDI files of stepwise C-major tunes in 4/4 (eighths and quarters) in folder/tunes, and
    folder/tiny.toml, the recipe that reads them; returns the recipe."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76]
    rng = random.Random(7)
    tunes = folder / "tunes"
    tunes.mkdir(parents=True)
    for t in range(n):
        index, notes, step = rng.randrange(3, 7), [], 0
        while step < 64:  # four bars
            duration = rng.choice((2, 2, 4))
            notes.append(Note(scale[index], step, duration))
            index = min(len(scale) - 1, max(0, index + rng.choice((-1, 1, 1, -2, 2))))
            step += duration
        Melody(notes, key="C:major", source=f"tune{t}").write(tunes / f"tune{t:02d}.mid")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(folder=tunes.as_posix()))
    return recipe


@pytest.fixture(scope="session")
def write_tiny_corpus() -> Callable[..., Path]:
    """write_tiny_corpus(folder, n=40) -> recipe: n generated tunes and the recipe 'tiny-tunes'."""
    return _write_tiny_corpus


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, configs_dir: Path) -> Path:
    """A bundle of a tiny LSTM trained for a few seconds on 40 generated tunes.

    Training takes several seconds, so the tests that use it are marked slow."""
    from melodyrnn.fit.cli import make_cli
    from melodyrnn.models.bundle import export_bundle
    from melodyrnn.prepare.build import prepare

    base = tmp_path_factory.mktemp("tiny-model")
    recipe = _write_tiny_corpus(base)
    prepare([str(recipe)], base / "data", progress=False)
    make_cli(["fit", "--config", str(configs_dir / "tiny.yaml"),
              "--data.path", str(base / "data"), "--trainer.default_root_dir", str(base / "runs"),
              "--trainer.max_epochs", "4", "--trainer.enable_progress_bar", "false"])
    return export_bundle(base / "runs" / "tiny" / "version_0", base / "bundle")


@pytest.fixture(scope="session")
def clean_decode() -> Callable[..., int]:
    """clean_decode(model, melody): grammar errors when the melody's tokens are decoded again
    (0 = the model wrote a valid sequence)."""
    def errors(model, melody: Melody) -> int:
        return model.tokenizer.decode(model.tokenizer.encode(melody), return_errors=True)[1]
    return errors


@pytest.fixture(scope="session")
def tiny_data(tiny_model: Path) -> Path:
    """The dataset the tiny model was trained on."""
    return tiny_model.parent / "data"


# --- a tiny dataset with bar lines (for lookback: the note tokenizer with meter tokens) -------

BARS_TOKENIZER = {"name": "note", "options": {"pitch_range": [48, 84], "bar_tokens": True,
                                              "meter_token": True}}


def _bars_melody(rng: random.Random) -> Melody:
    """A 2-bar figure of eighths and quarters in 4/4 or 6/8, played twice, then a last bar."""
    meter = rng.choice(((4, 4), (6, 8)))
    bar = 16 if meter == (4, 4) else 12
    figure, step, pitch = [], 0, rng.randrange(60, 72)
    while step < 2 * bar:
        duration = min(rng.choice((2, 2, 4)), 2 * bar - step)
        figure.append(Note(pitch, step, duration))
        pitch = min(80, max(52, pitch + rng.choice((-2, -1, 1, 2))))
        step += duration
    notes = figure + [Note(n.pitch, n.start_step + 2 * bar, n.duration_steps) for n in figure]
    notes.append(Note(figure[0].pitch, 4 * bar, bar))
    return Melody(notes, time_signature=meter, source="bars")


@pytest.fixture(scope="session")
def bars_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared dataset of 2-bar figures played twice (the note tokenizer with Bar and
    TimeSig tokens): 48 train, 8 valid and 8 test melodies (read-only)."""
    from melodyrnn.prepare.shards import write_split
    from melodyrnn.tokenizers import get_tokenizer

    directory = tmp_path_factory.mktemp("data") / "bars"
    directory.mkdir()
    tokenizer = get_tokenizer(BARS_TOKENIZER["name"], **BARS_TOKENIZER["options"])
    rng = random.Random(3)
    counts = {"train": 48, "valid": 8, "test": 8}
    for split, n in counts.items():
        write_split(directory, split, [tokenizer.encode(_bars_melody(rng)) for _ in range(n)])
    tokenizer.save(directory / "tokenizer.json")
    manifest = {"corpus": "synthetic-bars", "tokenizer": "note", "splits": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def lookback_model(tmp_path_factory: pytest.TempPathFactory, bars_dataset: Path,
                   configs_dir: Path) -> Path:
    """A bundle of a tiny LSTM with lookback inputs and a 6-token attention window, trained
    for 4 steps on `bars_dataset` (its run directory is bundle/../runs/tiny/version_0)."""
    from melodyrnn.fit.cli import make_cli
    from melodyrnn.models.bundle import export_bundle

    base = tmp_path_factory.mktemp("lookback-model")
    make_cli(["fit", "--config", str(configs_dir / "tiny.yaml"), "--data.path", str(bars_dataset),
              "--trainer.default_root_dir", str(base / "runs"), "--trainer.max_epochs", "1",
              "--trainer.limit_train_batches", "4", "--trainer.enable_progress_bar", "false",
              "--model.lookback", "true", "--model.attention", "6"])
    return export_bundle(base / "runs" / "tiny" / "version_0", base / "bundle")
