"""Dataset building (`melodyrnn prepare`): music files -> melodies -> token shards.

Melodies come from `sources.py` (read in worker processes, cached by content); here they are
split, transposed if asked, tokenized and written. The dataset is written to a temporary folder
and renamed into place, so a killed run never leaves a half-written dataset; a re-run on
unchanged inputs returns at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from melodyrnn._files import atomic_write_text, read_json
from melodyrnn._version import __version__
from melodyrnn.core.melody import Melody
from melodyrnn.errors import CorpusError, MelodyRNNError
from melodyrnn.prepare.recipes import Recipe, recipe_for, source_id
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.shards import write_split
from melodyrnn.prepare.sources import CACHE_VERSION, SourceFiles, extract_recipe
from melodyrnn.prepare.splits import DUPLICATE_RUN, assign_splits
from melodyrnn.prepare.transpose import augment_transpositions, normalize_key
from melodyrnn.tokenizers import get_tokenizer

FORMAT_VERSION = 1


def _inputs_hash(recipe: Recipe, sources: SourceFiles) -> str:
    """Hash of everything the dataset depends on: each file's content, recipe and version."""
    h = hashlib.sha1()
    for path in sources.paths:
        h.update(str(source_id(path)).encode())
        h.update(sources.sha1.get(path, "unreadable").encode())
    settings = {k: v for k, v in recipe.__dict__.items() if k not in ("origin", "description")}
    method = f"groups:{DUPLICATE_RUN}"  # how the split is made
    h.update(json.dumps([settings, FORMAT_VERSION, CACHE_VERSION, method], sort_keys=True,
                        default=str).encode())
    return h.hexdigest()


def prepare(sources: list[str] | str, out: str | Path, *, jobs: int | None = None,
            progress: bool = True, use_cache: bool = True, force: bool = False,
            **overrides: Any) -> PrepareReport:
    """Build a token dataset in `out` from corpus names, recipe files, files or folders.

    `overrides` replace recipe settings: extraction filters (strategy, min_notes, ...),
    `tokenizer` (a name), `form_tokens` (bool), `valid`/`test` fractions, `normalize_key`,
    `transpose`.
    """
    start = time.perf_counter()
    recipe = recipe_for([sources] if isinstance(sources, str) else sources, **overrides)
    out = Path(out)
    sources_found = SourceFiles.of(recipe)
    inputs_hash = _inputs_hash(recipe, sources_found)
    previous = _read_manifest(out)
    if previous and previous.get("inputs_hash") == inputs_hash and not force:
        return _report_from_manifest(out, recipe, previous)
    tok_options = {k: v for k, v in recipe.tokenizer.items() if k != "name"}
    tok_options.setdefault("steps_per_quarter", recipe.steps_per_quarter)
    tokenizer = get_tokenizer(recipe.tokenizer["name"], **tok_options)

    melodies, report = extract_recipe(recipe, jobs=jobs, progress=progress, use_cache=use_cache,
                                      sources=sources_found)
    report.out = out
    splits = _split_and_encode(melodies, recipe, tokenizer, report)
    if not any(splits.values()):
        raise CorpusError(f"no usable melody in {recipe.origin or recipe.name}: "
                          + (", ".join(f"{r} {n}" for r, n in report.drops.most_common(4))
                             or "no music files read")
                          + (f"; {len(report.skipped_files)} file(s) skipped"
                             if report.skipped_files else ""))
    report.vocab_size = tokenizer.vocab_size
    report.seconds = time.perf_counter() - start
    _write_dataset(out, splits, tokenizer,
                   _manifest(report, inputs_hash, tokenizer, sources_found))
    return report


def _split_and_encode(melodies: list[Melody], recipe: Recipe, tokenizer: Any,
                      report: PrepareReport) -> dict[str, list[list[int]]]:
    splits: dict[str, list[list[int]]] = {"train": [], "valid": [], "test": []}
    notes: Counter[str] = Counter()
    assigned = assign_splits(melodies, recipe.valid, recipe.test)
    report.duplicate_groups = assigned.duplicate_groups()
    for melody, split in zip(melodies, assigned.of_melody, strict=True):
        if recipe.normalize_key:
            melody = normalize_key(melody)
        versions = [melody]
        if recipe.transpose and split == "train":
            low, high = recipe.transpose
            versions = augment_transpositions(melody, semitones=range(low, high + 1))
        for version in versions:
            try:
                ids = tokenizer.encode(version)
            except MelodyRNNError:
                report.drops["outside the tokenizer's range"] += 1
                continue
            splits[split].append(ids)
            notes[split] += len(version)
    report.melodies = {k: len(v) for k, v in splits.items()}
    report.notes = dict(notes)
    report.tokens = {k: sum(map(len, v)) for k, v in splits.items()}
    return splits


def _manifest(report: PrepareReport, inputs_hash: str, tokenizer: Any,
              sources: SourceFiles) -> dict[str, Any]:
    recipe = report.recipe
    return {
        "format_version": FORMAT_VERSION,
        "package": "melodyrnn", "package_version": __version__,
        "corpus": recipe.name, "sources": recipe.sources, "exclude": recipe.exclude,
        "recipe": {"origin": recipe.origin, "tracks": recipe.tracks, "extract": recipe.extract,
                   "split": {"valid": recipe.valid, "test": recipe.test},
                   "normalize_key": recipe.normalize_key, "transpose": recipe.transpose,
                   "steps_per_quarter": recipe.steps_per_quarter},
        "license": recipe.license,
        "tokenizer": {"name": tokenizer.name, "vocab_size": tokenizer.vocab_size},
        "counts": {"files": report.files, "tunes": report.tunes, "melodies": report.melodies,
                   "notes": report.notes, "tokens": report.tokens},
        "split_method": (f"tunes sharing a run of {DUPLICATE_RUN} notes (intervals, rests, "
                         "durations) form a group; the sha1 of the group's smallest tune id "
                         "picks its split"),
        "duplicate_groups": _duplicates_entry(report.duplicate_groups),
        "drop_reasons": dict(report.drops.most_common()),
        "skipped_files": report.skipped_files,
        "quantization": _quantization_entry(report),
        "source_hashes": {source_id(p): h for p, h in sources.sha1.items()},
        "inputs_hash": inputs_hash,
        "seconds": round(report.seconds, 2),
    }


def _quantization_entry(report: PrepareReport) -> dict[str, Any]:
    """The manifest's account of what the step grid changed: totals, then by recipe source."""
    return {"steps_per_quarter": report.recipe.steps_per_quarter, **report.grid.to_dict(),
            "by_source": {spec: loss.to_dict() for spec, loss in report.grid_by_source.items()}}


def _duplicates_entry(groups: list[list[str]]) -> dict[str, Any]:
    """The manifest's account of the tunes kept together because they share a long run."""
    sizes = Counter(len(g) for g in groups)
    return {"run_notes": DUPLICATE_RUN, "groups": len(groups),
            "tunes": sum(len(g) for g in groups),
            "sizes": {str(size): sizes[size] for size in sorted(sizes)}, "members": groups}


def _write_dataset(out: Path, splits: dict[str, list[list[int]]], tokenizer: Any,
                   manifest: dict[str, Any]) -> None:
    """Write into a temporary sibling folder, then swap it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    if out.exists() and not (out / "manifest.json").is_file() and any(out.iterdir()):
        raise CorpusError(f"{out} exists and is not a melodyrnn dataset; choose another --out")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    for split, sequences in splits.items():
        write_split(tmp, split, sequences)
    tokenizer.save(tmp / "tokenizer.json")
    atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of an earlier build in `out`, or None (none there, or damaged)."""
    try:
        manifest = read_json(out / "manifest.json", CorpusError, "the manifest")
    except CorpusError:
        return None
    return manifest if isinstance(manifest, dict) else None


def _report_from_manifest(out: Path, recipe: Recipe, manifest: dict[str, Any]) -> PrepareReport:
    counts = manifest.get("counts", {})
    by_source = manifest.get("quantization", {}).get("by_source", {})
    return PrepareReport(
        out=out, recipe=recipe, files=counts.get("files", 0), tunes=counts.get("tunes", 0),
        melodies=counts.get("melodies", {}), notes=counts.get("notes", {}),
        tokens=counts.get("tokens", {}), drops=Counter(manifest.get("drop_reasons", {})),
        skipped_files=manifest.get("skipped_files", {}),
        grid_by_source={spec: GridLoss.from_dict(d) for spec, d in by_source.items()},
        vocab_size=manifest.get("tokenizer", {}).get("vocab_size", 0), up_to_date=True,
        duplicate_groups=manifest.get("duplicate_groups", {}).get("members", []))
