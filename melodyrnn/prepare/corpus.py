"""`load_corpus`: melodies from a named corpus, a recipe, music files or a prepared dataset."""

from __future__ import annotations

from pathlib import Path

from melodyrnn.core.melody import Melody
from melodyrnn.errors import CorpusError
from melodyrnn.prepare.recipes import recipe_for
from melodyrnn.prepare.shards import SPLITS, read_split
from melodyrnn.prepare.sources import extract_recipe
from melodyrnn.prepare.splits import assign_splits
from melodyrnn.tokenizers import load_tokenizer


def load_corpus(name_or_dataset_dir: str | Path, split: str | None = None) -> list[Melody]:
    """Melodies of a named corpus, a recipe, a music file or folder, or a prepared dataset.

    With `split` ('train', 'valid' or 'test') only the melodies of that split are returned; the
    split of a corpus name is the one `prepare` would give.
    """
    source = str(name_or_dataset_dir)
    if split is not None and split not in ("train", "valid", "test"):
        raise CorpusError(f"split '{split}' is not one of train, valid, test")
    directory = Path(source)
    if (directory / "manifest.json").is_file():
        return _load_dataset(directory, split)
    recipe = recipe_for([source])
    melodies, _report = extract_recipe(recipe, progress=False)
    if split is None:
        return melodies
    assigned = assign_splits(melodies, recipe.valid, recipe.test)
    return [m for m, s in zip(melodies, assigned.of_melody, strict=True) if s == split]


def _load_dataset(directory: Path, split: str | None) -> list[Melody]:
    tokenizer = load_tokenizer(directory / "tokenizer.json")
    melodies: list[Melody] = []
    for name in [split] if split else SPLITS:
        data = read_split(directory, name)
        melodies.extend(tokenizer.decode([int(t) for t in data[i]]) for i in range(len(data)))
    return melodies
