"""Named corpora and their recipes: which files make a corpus and how melodies are taken out.

A recipe (corpora/NAME.toml, shipped inside the package as melodyrnn/prepare/recipes/) lists
sources (files, folders, globs, or `music21:` paths inside the corpus installed with music21),
which tracks to keep, extraction filters and the split.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import math
import os
import tomllib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodyrnn.errors import CorpusError
from melodyrnn.io import READ_SUFFIXES
from melodyrnn.tokenizers import ENCODINGS

_EXTRACT_KEYS = {"strategy", "min_notes", "min_pitch_classes",
                 "max_bars", "split_gap_bars"}
_RECIPE_KEYS = {"name", "description", "license", "sources", "exclude", "tracks", "extract",
                "split", "tokenizer", "normalize", "steps_per_quarter"}


def _recipe_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    # installed wheel: melodyrnn/prepare/recipes; source checkout or editable install: corpora/
    return [d for d in (here / "recipes", here.parents[1] / "corpora") if d.is_dir()]


def corpus_names() -> list[str]:
    """Names of the built-in corpora, e.g. ['bach-soprano', 'essen', 'essen-kinder', ...]."""
    return sorted({p.stem for d in _recipe_dirs() for p in d.glob("*.toml")})


@dataclass
class Recipe:
    """How to build one corpus: sources, track choice, extraction filters, split fractions."""

    name: str
    sources: list[str]
    exclude: list[str] = field(default_factory=list)
    tracks: list[int] | None = None
    extract: dict[str, Any] = field(default_factory=dict)
    valid: float = 0.1
    test: float = 0.1
    tokenizer: dict[str, Any] = field(default_factory=lambda: {"name": "note"})
    normalize_key: bool = False
    transpose: tuple[int, int] | None = None
    steps_per_quarter: int = 4
    description: str = ""
    license: str = ""
    origin: str = ""  # the recipe file it came from, or what the user passed

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str) -> Recipe:
        """Build and validate a recipe from parsed TOML; errors name the file and key."""
        unknown = set(data) - _RECIPE_KEYS
        if unknown:
            raise CorpusError(f"{origin}: unknown recipe key(s) {', '.join(sorted(unknown))}; "
                              f"valid keys are {', '.join(sorted(_RECIPE_KEYS))}")
        sources = data.get("sources")
        if not sources or not isinstance(sources, list):
            raise CorpusError(f"{origin}: 'sources' must be a non-empty list of paths")
        extract = dict(data.get("extract", {}))
        bad = set(extract) - _EXTRACT_KEYS
        if bad:
            raise CorpusError(f"{origin}: unknown [extract] key(s) {', '.join(sorted(bad))}; "
                              f"valid keys are {', '.join(sorted(_EXTRACT_KEYS))}")
        split = data.get("split", {})
        valid, test = float(split.get("valid", 0.1)), float(split.get("test", 0.1))
        if valid < 0 or test < 0 or valid + test >= 1:
            raise CorpusError(f"{origin}: split fractions valid={valid} test={test} must be "
                              ">= 0 and leave room for training (sum < 1)")
        norm = data.get("normalize", {})
        transpose = norm.get("transpose")
        if transpose is not None:
            if len(transpose) != 2 or transpose[0] > transpose[1]:
                raise CorpusError(f"{origin}: normalize.transpose {transpose} must be "
                                  "[low, high] semitones with low <= high")
            transpose = (int(transpose[0]), int(transpose[1]))
        tokenizer = dict(data.get("tokenizer", {"name": "note"}))
        tokenizer.setdefault("name", "note")
        return cls(name=str(data.get("name", Path(origin).stem)), sources=list(sources),
                   exclude=list(data.get("exclude", [])), tracks=data.get("tracks"),
                   extract=extract, valid=valid, test=test, tokenizer=tokenizer,
                   normalize_key=bool(norm.get("key", False)), transpose=transpose,
                   steps_per_quarter=int(data.get("steps_per_quarter", 4)),
                   description=str(data.get("description", "")),
                   license=str(data.get("license", "")), origin=origin)

    def files(self) -> list[Path]:
        """Every music file the sources name, sorted, with excluded ones removed."""
        return [Path(name) for name in self.source_files()[0]]

    def source_files(self) -> tuple[list[str], array[int]]:
        """Every music file the sources name (as `files`, but as strings: a corpus of 100,000
        files holds 15 MB of names, not the 45 MB of Paths), and the index in `sources` of
        the first entry that names each."""
        excluded = {name for spec in self.exclude
                    for name in expand_source_names(spec, self.origin)}
        if len(self.sources) == 1 and not excluded:  # one list, already without repeats
            names = expand_source_names(self.sources[0], self.origin)
            return names, array("H", bytes(2 * len(names)))
        seen: dict[str, int] = {}
        for index, spec in enumerate(self.sources):
            for name in expand_source_names(spec, self.origin):
                if name not in excluded:
                    seen.setdefault(name, index)
        return list(seen), array("H", seen.values())


def read_recipe(path: str | Path) -> Recipe:
    """Parse a recipe TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read recipe ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc})") from None
    return Recipe.from_dict(data, str(path))


def music21_corpus_dir() -> Path:
    """The corpus folder installed with music21 (holds Essen, O'Neill's, Ryan's, Bach)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("music21 is not installed; `pip install music21` provides its corpus")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def expand_source(spec: str, origin: str = "") -> list[Path]:
    """A source spec (file, folder, glob or music21:PATTERN) -> sorted music files."""
    return [Path(name) for name in expand_source_names(spec, origin)]


def _walk_sorted(folder: str) -> Iterator[str]:
    """Every entry under `folder` in the order of `sorted(Path(folder).rglob("*"))` (part by
    part: a folder's entries come where its name sorts), without rglob's set of every path
    it gave and without one sort of them all; symlinked folders are not entered, as rglob
    does not enter them."""
    try:
        with os.scandir(folder) as entries:
            found = sorted((entry.name, entry.is_dir() and not entry.is_symlink())
                           for entry in entries)
    except OSError:
        return  # an unreadable folder is skipped, as rglob skips it
    for name, is_folder in found:
        path = os.path.join(folder, name)
        yield path
        if is_folder:
            yield from _walk_sorted(path)


def expand_source_names(spec: str, origin: str = "") -> list[str]:
    """`expand_source` as path strings, never holding a Path per file."""
    if spec.startswith("music21:"):
        pattern = str(music21_corpus_dir() / spec.removeprefix("music21:"))
    else:
        pattern = spec
    path = Path(pattern)
    if path.is_dir():
        found = [p for p in _walk_sorted(str(path))
                 if os.path.splitext(p)[1].lower() in READ_SUFFIXES]
    elif path.is_file():
        found = [str(path)]
    else:
        found = [str(Path(p)) for p in sorted(glob.glob(pattern, recursive=True))
                 if os.path.splitext(p)[1].lower() in READ_SUFFIXES]
    if not found:
        where = f"{origin}: " if origin and origin != spec else ""
        raise CorpusError(f"{where}source '{spec}' matches no MIDI, MusicXML or ABC file")
    return found


@functools.lru_cache(maxsize=1)
def _music21_root() -> str | None:
    """The resolved music21 corpus folder (looked up once: it costs an import search), or
    None without music21."""
    try:
        return str(music21_corpus_dir().resolve())
    except CorpusError:
        return None


@functools.lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


def source_id(path: Path | str) -> str:
    """A stable, machine-independent id for a file: music21:REL for corpus files, else as given."""
    name = os.fspath(path)
    root = _music21_root()
    if root is not None:
        # the folder resolved once for all its files; the file itself only if it is a link
        real = (os.path.realpath(name) if os.path.islink(name) else
                os.path.join(_real_folder(os.path.dirname(name) or "."), os.path.basename(name)))
        if real.startswith(root + os.sep):
            return "music21:" + Path(real[len(root) + 1:]).as_posix()
    return name if os.sep == "/" else Path(name).as_posix()


def resolve_recipe(source: str) -> Recipe | None:
    """A Recipe for a corpus name or a .toml path; None when `source` is a plain music path."""
    if source.endswith(".toml"):
        return read_recipe(source)
    for d in _recipe_dirs():
        if (d / f"{source}.toml").is_file():
            return read_recipe(d / f"{source}.toml")
    return None


def recipe_for(sources: Iterable[str], **overrides: Any) -> Recipe:
    """One recipe for what the user named: a corpus name, a recipe file, or files and folders."""
    sources = list(sources)
    if not sources:
        raise CorpusError("name at least one corpus, recipe, file or folder")
    recipes = []
    for s in sources:
        r = resolve_recipe(s)
        if r is None and not Path(s).exists() and not s.startswith("music21:"):
            raise CorpusError(f"'{s}' is neither a file or folder nor a corpus name; "
                              f"corpus names are {', '.join(corpus_names())}")
        recipes.append(r)
    if len(recipes) == 1 and recipes[0] is not None:
        recipe = recipes[0]
    else:  # several names, or plain paths: merge sources, defaults from the first recipe
        base = next((r for r in recipes if r is not None), None)
        merged_sources = []
        for s, r in zip(sources, recipes, strict=True):
            merged_sources.extend(r.sources if r else [s])
        recipe = Recipe(name="+".join(r.name if r else Path(s).stem or s
                                      for s, r in zip(sources, recipes, strict=True)),
                        sources=merged_sources, origin=" ".join(sources),
                        **({k: getattr(base, k) for k in ("exclude", "tracks", "extract", "valid",
                                                          "test", "tokenizer", "steps_per_quarter")}
                           if base else {}))
        grids = [r.steps_per_quarter for r in recipes if r is not None]
        if grids:  # a grid that holds every named corpus's notes, not only the first's
            _move_to_grid(recipe, min(math.lcm(*grids), 96))
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _EXTRACT_KEYS:
            recipe.extract[key] = value
        elif key == "tokenizer":  # another encoding keeps the options it also takes
            taken = ENCODINGS[value].option_names() if value in ENCODINGS else []
            recipe.tokenizer = {"name": value, **{k: v for k, v in recipe.tokenizer.items()
                                                  if k in taken}}
        elif key == "form_tokens":
            recipe.tokenizer = {**recipe.tokenizer, "form_tokens": value}
        elif key == "steps_per_quarter":
            _move_to_grid(recipe, value)
        else:
            setattr(recipe, key, value)
    return recipe


def _move_to_grid(recipe: Recipe, steps_per_quarter: int) -> None:
    """Put `recipe` on another grid: a tokenizer's `max_duration_steps` is counted on the
    recipe's grid, so it keeps its length in quarters (at least one step)."""
    longest = recipe.tokenizer.get("max_duration_steps")
    if isinstance(longest, int) and not isinstance(longest, bool):
        scaled = max(1, longest * steps_per_quarter // recipe.steps_per_quarter)
        recipe.tokenizer = {**recipe.tokenizer, "max_duration_steps": scaled}
    recipe.steps_per_quarter = steps_per_quarter
