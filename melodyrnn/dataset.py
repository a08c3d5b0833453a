"""Dataset building (`melodyrnn prepare`): music files -> melodies -> token shards.

Each source file is read and its melodies extracted in a worker process; the result is cached
by the file's content hash and the extraction options, so a re-run on unchanged inputs reads
no music at all. Bad files are skipped and counted by reason. The dataset is written to a
temporary folder and renamed into place, so a killed run never leaves a half-written dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodyrnn import __version__, extract_cache
from melodyrnn.corpora import Recipe, recipe_for, source_id, split_of, tune_group
from melodyrnn.errors import CorpusError, MelodyRNNError
from melodyrnn.music import Key, Melody, Note

FORMAT_VERSION = 1
_CACHE_VERSION = f"{__version__}-1"


@dataclass
class FileResult:
    """What one source file gave: melodies and every reason something was dropped."""

    path: str
    sid: str
    sha1: str
    melodies: list[dict[str, Any]] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    tunes: int = 0
    moved_onsets: int = 0
    total_onsets: int = 0
    error: str | None = None  # the file as a whole could not be read


@dataclass
class PrepareReport:
    """The outcome of `prepare`: counts per split, drop reasons and skipped files."""

    out: Path
    recipe: Recipe
    files: int = 0
    tunes: int = 0
    melodies: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    drops: Counter = field(default_factory=Counter)
    skipped_files: dict[str, str] = field(default_factory=dict)
    moved_onsets: int = 0
    total_onsets: int = 0
    vocab_size: int = 0
    seconds: float = 0.0
    cached_files: int = 0
    up_to_date: bool = False

    def summary(self) -> str:
        """A one-screen, human summary."""
        total = sum(self.melodies.values())
        lines = [f"prepared {self.recipe.name} -> {self.out}"
                 + (" (up to date)" if self.up_to_date else f" in {self.seconds:.1f} s"),
                 f"  files {self.files} read, {len(self.skipped_files)} skipped"
                 f" | tunes {self.tunes:,} | melodies {total:,} ("
                 + " / ".join(f"{k} {v:,}" for k, v in self.melodies.items()) + ")",
                 f"  notes {sum(self.notes.values()):,} | tokens {sum(self.tokens.values()):,}"
                 f" | vocabulary {self.vocab_size} ({self.recipe.tokenizer.get('name', 'note')})"]
        if self.total_onsets:
            lines.append(f"  quantization moved {self.moved_onsets:,} of {self.total_onsets:,} "
                         f"onsets to the {self.recipe.steps_per_quarter}-per-quarter grid")
        if self.drops:
            lines.append("  dropped: " + ", ".join(f"{r} {n:,}" for r, n in
                                                   self.drops.most_common()))
        if self.skipped_files:
            by_reason = Counter(r.split(":", 1)[0] for r in self.skipped_files.values())
            lines.append("  skipped files: " + ", ".join(f"{r} {n}" for r, n in
                                                         by_reason.most_common()))
            for path, reason in list(self.skipped_files.items())[:5]:
                lines.append(f"    {path}: {reason}")
            if len(self.skipped_files) > 5:
                lines.append(f"    ... {len(self.skipped_files) - 5} more in manifest.json")
        return "\n".join(lines)


# --- extraction of one file (runs in worker processes) -----------------------------------------

def _melody_to_json(m: Melody) -> dict[str, Any]:
    return {"source": m.source, "spq": m.steps_per_quarter, "qpm": m.qpm,
            "ts": list(m.time_signature), "key": str(m.key) if m.key else None,
            "end": m.end_step,
            "notes": [[n.pitch, n.start_step, n.duration_steps, n.velocity] for n in m.notes]}


def _melody_from_json(d: dict[str, Any]) -> Melody:
    return Melody([Note(*n) for n in d["notes"]], steps_per_quarter=d["spq"], qpm=d["qpm"],
                  time_signature=tuple(d["ts"]), key=Key.parse(d["key"]) if d["key"] else None,
                  source=d["source"], end_step=d["end"])


def _extract_options(recipe: Recipe) -> dict[str, Any]:
    return {"extract": recipe.extract, "tracks": recipe.tracks,
            "steps_per_quarter": recipe.steps_per_quarter}


def _extract_kwargs(extract: dict[str, Any], score: Any) -> dict[str, Any]:
    """Recipe [extract] settings -> extract_melodies arguments (bars become steps)."""
    kwargs = dict(extract)
    if kwargs.get("split_gap_bars") == 0:
        kwargs["split_gap_bars"] = None  # 0 in a recipe means: never split
    max_bars = kwargs.pop("max_bars", None)
    if max_bars:
        num, den = score.time_signature
        kwargs["max_steps"] = int(max_bars * num * 4 * score.steps_per_quarter // den)
    return kwargs


def _extract_file(path: str, sid: str, sha1: str, options: dict[str, Any]) -> FileResult:
    """Read one file and extract its melodies; never raises for a bad file."""
    from melodyrnn.preprocess import extract_melodies, read_scores
    result = FileResult(path=path, sid=sid, sha1=sha1)
    try:
        scores = read_scores(path, steps_per_quarter=options["steps_per_quarter"],
                             drops=result.drops)
    except MelodyRNNError as exc:
        result.error = str(exc)
        return result
    tracks = options["tracks"]
    for score in scores:
        result.tunes += 1
        result.moved_onsets += score.moved_onsets
        result.total_onsets += score.total_onsets
        if score.source.startswith(path):
            score.source = sid + score.source[len(path):]
        if tracks is not None:
            score.tracks = [t for i, t in enumerate(score.tracks) if i in tracks]
        try:
            melodies = extract_melodies(score, drops=result.drops,
                                        **_extract_kwargs(options["extract"], score))
        except MelodyRNNError as exc:
            result.drops[f"unusable tune ({type(exc).__name__})"] += 1
            continue
        result.melodies.extend(_melody_to_json(m) for m in melodies)
    return result


def _result_from_cache(data: dict[str, Any] | None) -> FileResult | None:
    try:
        return FileResult(**{**data, "drops": Counter(data["drops"])}) if data else None
    except (TypeError, KeyError):
        return None  # written by another version: extract again


@dataclass
class SourceFiles:
    """Every file a recipe names, each read and hashed once: sha1 by path, or why unreadable."""

    paths: list[Path]
    sha1: dict[Path, str]
    unreadable: dict[str, str]

    @classmethod
    def of(cls, recipe: Recipe) -> SourceFiles:
        paths, sha1, unreadable = recipe.files(), {}, {}
        for path in paths:
            try:
                sha1[path] = hashlib.sha1(path.read_bytes()).hexdigest()
            except OSError as exc:
                unreadable[str(path)] = f"unreadable: {exc.strerror}"
        return cls(paths, sha1, unreadable)


def extract_recipe(recipe: Recipe, jobs: int | None = None, progress: bool = True,
                   use_cache: bool = True, sources: SourceFiles | None = None,
                   ) -> tuple[list[Melody], PrepareReport]:
    """Melodies of every file a recipe names (cached, in parallel) and a report of drops."""
    sources = sources or SourceFiles.of(recipe)
    files = sources.paths
    options = _extract_options(recipe)
    report = PrepareReport(out=Path(), recipe=recipe, files=len(files))
    report.skipped_files.update(sources.unreadable)
    results: dict[str, FileResult] = {}
    todo = []
    for path in files:
        sha1 = sources.sha1.get(path)
        if sha1 is None:
            continue
        key = extract_cache.key(sha1, options, _CACHE_VERSION)
        cached = _result_from_cache(extract_cache.load(key)) if use_cache else None
        if cached is not None:
            cached.path, cached.sid = str(path), source_id(path)
            results[str(path)] = cached
            report.cached_files += 1
        else:
            todo.append((str(path), source_id(path), sha1, key))
    for result, key in _run_extraction(todo, options, jobs, progress):
        results[result.path] = result
        if result.error is None:
            extract_cache.store(key, result.__dict__)
    melodies = []
    for path in map(str, files):  # file order, so the output never depends on timing
        result = results.get(path)
        if result is None:
            continue
        if result.error is not None:
            report.skipped_files[path] = result.error.removeprefix(f"{path}: ")
            continue
        report.tunes += result.tunes
        report.moved_onsets += result.moved_onsets
        report.total_onsets += result.total_onsets
        report.drops.update(result.drops)
        melodies.extend(_melody_from_json(d) for d in result.melodies)
    return melodies, report


def _run_extraction(todo: list[tuple[str, str, str, str]], options: dict[str, Any],
                    jobs: int | None, progress: bool):
    """Yield (FileResult, cache key) for each file, largest files first across workers."""
    if not todo:
        return
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    todo = sorted(todo, key=lambda t: -os.path.getsize(t[0]))
    bar = _progress(len(todo), "reading", progress)
    if jobs == 1:
        for path, sid, sha1, key in todo:
            yield _extract_file(path, sid, sha1, options), key
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_extract_file, p, s, h, options): k for p, s, h, k in todo}
            for future in as_completed(futures):
                yield future.result(), futures[future]
                bar.update(1)
    bar.close()


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="file", disable=not enabled or total < 2,
                file=sys.stderr, leave=False)


# --- the whole dataset ---------------------------------------------------------------------------

def _inputs_hash(recipe: Recipe, sources: SourceFiles) -> str:
    """Hash of everything the dataset depends on: each file's content, recipe and version."""
    h = hashlib.sha1()
    for path in sources.paths:
        h.update(str(source_id(path)).encode())
        h.update(sources.sha1.get(path, "unreadable").encode())
    settings = {k: v for k, v in recipe.__dict__.items() if k not in ("origin", "description")}
    h.update(json.dumps([settings, FORMAT_VERSION, _CACHE_VERSION], sort_keys=True,
                        default=str).encode())
    return h.hexdigest()


def prepare(sources: list[str] | str, out: str | Path, *, jobs: int | None = None,
            progress: bool = True, use_cache: bool = True, force: bool = False,
            **overrides: Any) -> PrepareReport:
    """Build a token dataset in `out` from corpus names, recipe files, files or folders.

    `overrides` replace recipe settings: extraction filters (strategy, min_notes, ...),
    `tokenizer` (a name), `valid`/`test` fractions, `normalize_key`, `transpose`.
    """
    start = time.perf_counter()
    recipe = recipe_for([sources] if isinstance(sources, str) else sources, **overrides)
    out = Path(out)
    sources_found = SourceFiles.of(recipe)
    inputs_hash = _inputs_hash(recipe, sources_found)
    previous = _read_manifest(out)
    if previous and previous.get("inputs_hash") == inputs_hash and not force:
        return _report_from_manifest(out, recipe, previous)

    from melodyrnn.tokenizer import get_tokenizer
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
    from melodyrnn.preprocess import augment_transpositions, normalize_key
    splits: dict[str, list[list[int]]] = {"train": [], "valid": [], "test": []}
    notes = Counter()
    for melody in melodies:
        split = split_of(tune_group(melody.source), recipe.valid, recipe.test)
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
        "split_method": "sha1 of each tune's source id (stable: adding files never reshuffles)",
        "drop_reasons": dict(report.drops.most_common()),
        "skipped_files": report.skipped_files,
        "quantization": {"moved_onsets": report.moved_onsets,
                         "total_onsets": report.total_onsets},
        "source_hashes": {source_id(p): h for p, h in sources.sha1.items()},
        "inputs_hash": inputs_hash,
        "seconds": round(report.seconds, 2),
    }


def _write_dataset(out: Path, splits: dict[str, list[list[int]]], tokenizer: Any,
                   manifest: dict[str, Any]) -> None:
    """Write into a temporary sibling folder, then swap it into place."""
    from melodyrnn.shards import write_split
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
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _report_from_manifest(out: Path, recipe: Recipe, manifest: dict[str, Any]) -> PrepareReport:
    counts = manifest.get("counts", {})
    return PrepareReport(
        out=out, recipe=recipe, files=counts.get("files", 0), tunes=counts.get("tunes", 0),
        melodies=counts.get("melodies", {}), notes=counts.get("notes", {}),
        tokens=counts.get("tokens", {}), drops=Counter(manifest.get("drop_reasons", {})),
        skipped_files=manifest.get("skipped_files", {}),
        moved_onsets=manifest.get("quantization", {}).get("moved_onsets", 0),
        total_onsets=manifest.get("quantization", {}).get("total_onsets", 0),
        vocab_size=manifest.get("tokenizer", {}).get("vocab_size", 0), up_to_date=True)
