"""Generated samples beside a dataset's split, read the one way every comparison reads them:
both as played (repeats unfolded), the samples on the dataset's grid, so durations in steps
compare."""

from __future__ import annotations

from pathlib import Path

from melodyrnn.core.melody import Melody
from melodyrnn.errors import CorpusError, ReadError
from melodyrnn.prepare.corpus import load_corpus
from melodyrnn.prepare.extract import read_melodies
from melodyrnn.prepare.recipes import expand_source


def read_split_played(data: str | Path, split: str) -> list[Melody]:
    """The melodies of a dataset's split as played; a folder that is no dataset, or an empty
    split, raises a CorpusError naming it."""
    if not (Path(data) / "manifest.json").is_file():
        raise CorpusError(f"{data}: not a dataset folder (no manifest.json); give --data a "
                          "folder written by `melodyrnn prepare`")
    melodies = [m.unfold() for m in load_corpus(data, split=split)]
    if not melodies:
        raise CorpusError(f"{data}: the {split} split holds no melodies; choose another --split")
    return melodies


def read_samples_played(samples: str | Path, steps_per_quarter: int) -> list[Melody]:
    """Every melody of the files under `samples` as played, on a grid of `steps_per_quarter`;
    files that hold no melody with notes raise a ReadError naming the folder."""
    melodies = [m.unfold() for path in expand_source(str(samples))
                for m in read_melodies(path, steps_per_quarter=steps_per_quarter)]
    if not any(m.notes for m in melodies):
        raise ReadError(f"{samples}: its files hold no melody with notes")
    return melodies
