"""Dataset building (`melodyrnn prepare`): music files -> melodies -> token shards.

Melodies come from `sources.py` (read in worker processes, cached by content); here they are
split, transposed if asked, tokenized and written. The dataset is written to a temporary folder
and renamed into place, so a killed run never leaves a half-written dataset; a re-run on
unchanged inputs returns at once. A run holds a lock on its `--out` (`folder_lock`), so a second
run into the same folder refuses instead of racing it; temporary folders are cleaned up only
when the run that made them is gone.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from melodyrnn._files import (
    atomic_write_text,
    folder_lock,
    os_cause,
    os_reason,
    pid_alive,
    read_json,
    remove_quietly,
    write_fix,
)
from melodyrnn._version import __version__
from melodyrnn.core.limits import limit
from melodyrnn.core.melody import Melody
from melodyrnn.errors import CorpusError, MelodyRNNError, WriteError
from melodyrnn.prepare.recipes import Recipe, recipe_for, source_id
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.shards import write_split
from melodyrnn.prepare.sources import CACHE_VERSION, SourceFiles, extract_recipe
from melodyrnn.prepare.splits import DUPLICATE_RUN, assign_splits
from melodyrnn.prepare.transpose import augment_transpositions, normalize_key
from melodyrnn.prepare.workers import TIMED_OUT
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
            file_seconds: float | None = None, **overrides: Any) -> PrepareReport:
    """Build a token dataset in `out` from corpus names, recipe files, files or folders.

    `overrides` replace recipe settings: extraction filters (strategy, min_notes, ...),
    `tokenizer` (a name), `form_tokens` (bool), `valid`/`test` fractions, `normalize_key`,
    `transpose`. Each file gets at most `file_seconds` (default: limit
    "prepare_file_seconds"); a slower one is skipped as "timed out".
    """
    start = time.perf_counter()
    recipe = recipe_for([sources] if isinstance(sources, str) else sources, **overrides)
    out = Path(out)
    if file_seconds is None:
        file_seconds = limit("prepare_file_seconds")
    _check_out(out)
    sources_found = SourceFiles.of(recipe)
    inputs_hash = _inputs_hash(recipe, sources_found)
    previous = _read_manifest(out)
    if previous and _up_to_date(previous, inputs_hash, file_seconds) and not force:
        return _report_from_manifest(out, recipe, previous)
    with folder_lock(out, CorpusError):
        _check_out(out)  # another run may have written there before we held the lock
        return _build(out, recipe, sources_found, inputs_hash, start,
                      jobs=jobs, progress=progress, use_cache=use_cache,
                      file_seconds=file_seconds)


def _check_out(out: Path) -> None:
    """Refuse an `--out` that can never hold a dataset, before any work is done."""
    if out.exists() and not out.is_dir():
        raise CorpusError(f"--out {out} is a file, not a folder; choose another --out")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise CorpusError(f"--out {out} cannot be created: {blocker} is a file, not a folder; "
                          "choose another --out")
    with contextlib.suppress(OSError):
        if (out.is_dir() and not (out / "manifest.json").is_file()
                and next(out.iterdir(), None) is not None):
            raise CorpusError(f"{out} exists and is not a melodyrnn dataset; choose another "
                              "--out")


def _up_to_date(previous: dict[str, Any], inputs_hash: str, file_seconds: float) -> bool:
    """Whether an earlier build stands: same inputs, and no file that timed out there
    would get more time now."""
    if previous.get("inputs_hash") != inputs_hash:
        return False
    timed_out = any(str(r).startswith(TIMED_OUT)
                    for r in previous.get("skipped_files", {}).values())
    return not (timed_out and file_seconds > previous.get("file_seconds", 0))


def _skipped_summary(skipped: dict[str, str]) -> str:
    """The skipped files for the one sentence of a failed build: the first one with its reason
    (often the whole story: a single file over a limit), and how many more there were."""
    if not skipped:
        return ""
    path, reason = next(iter(skipped.items()))
    more = f"; and {len(skipped) - 1} other(s)" if len(skipped) > 1 else ""
    return f"; {len(skipped)} file(s) skipped ({path}: {reason}{more})"


def _build(out: Path, recipe: Recipe, sources_found: SourceFiles, inputs_hash: str,
           start: float, *, jobs: int | None, progress: bool, use_cache: bool,
           file_seconds: float) -> PrepareReport:
    """Extract, split, encode and write the dataset (the lock on `out` held)."""
    tok_options = {k: v for k, v in recipe.tokenizer.items() if k != "name"}
    tok_options.setdefault("steps_per_quarter", recipe.steps_per_quarter)
    tokenizer = get_tokenizer(recipe.tokenizer["name"], **tok_options)

    melodies, report = extract_recipe(recipe, jobs=jobs, progress=progress, use_cache=use_cache,
                                      sources=sources_found, file_seconds=file_seconds)
    report.out = out
    splits = _split_and_encode(melodies, recipe, tokenizer, report)
    if not any(splits.values()):
        raise CorpusError(f"no usable melody in {recipe.origin or recipe.name}: "
                          + (", ".join(f"{r} {n}" for r, n in report.drops.most_common(4))
                             or "no music files read")
                          + _skipped_summary(report.skipped_files))
    report.vocab_size = tokenizer.vocab_size
    report.seconds = time.perf_counter() - start
    manifest = _manifest(report, inputs_hash, tokenizer, sources_found)
    manifest["file_seconds"] = file_seconds
    _write_dataset(out, splits, tokenizer, manifest)
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
    """Write into a temporary sibling folder, then swap it into place; any failure removes
    the temporary folder, keeps the earlier dataset and ends in one CorpusError sentence."""
    _clean_up_after_dead_runs(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    remove_quietly(tmp)  # a pid reused from a dead run
    try:
        tmp.mkdir()
        for split, sequences in splits.items():
            write_split(tmp, split, sequences)
        tokenizer.save(tmp / "tokenizer.json")
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except (OSError, WriteError) as exc:
        _undo(tmp, old, out)
        raise _write_error(out, exc) from None
    except BaseException:  # a bad token, Ctrl-C: nothing half-written stays
        _undo(tmp, old, out)
        raise
    remove_quietly(old)


def _write_error(out: Path, exc: OSError | WriteError) -> CorpusError:
    """One sentence for a failed dataset write, naming `out` rather than the temporary file."""
    cause = os_cause(exc)
    if cause is None:
        return CorpusError(f"{out}: cannot write the dataset ({exc}); choose another --out")
    return CorpusError(f"{out}: cannot write the dataset ({os_reason(cause)}); "
                       f"{write_fix(cause, 'choose another --out')}")


def _undo(tmp: Path, old: Path, out: Path) -> None:
    """Remove what a failed write made and put the earlier dataset back; never raises."""
    remove_quietly(tmp)
    if old.exists() and not out.exists():
        with contextlib.suppress(OSError):
            os.replace(old, out)


def _clean_up_after_dead_runs(out: Path) -> None:
    """Remove the temporary folders of runs that are gone (killed mid-write); a dataset such
    a run had moved aside and not yet replaced is put back."""
    prefix = f".{out.name}."
    for stale in out.parent.glob(glob.escape(prefix) + "*-*"):
        kind, _, pid = stale.name[len(prefix):].partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or pid_alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            with contextlib.suppress(OSError):
                os.replace(stale, out)
            continue
        remove_quietly(stale)


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
