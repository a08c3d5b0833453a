"""Small shared fixtures: tiny melodies built in code, and where the test data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodyrnn.music import Melody, Note

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
