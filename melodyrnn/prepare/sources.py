"""The source files of a recipe: each read and hashed once, its melodies extracted in a worker
process and cached by content, bad files (and files over their time) skipped and counted by
reason.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodyrnn._version import __version__
from melodyrnn.core.form import Mark
from melodyrnn.core.key import Key
from melodyrnn.core.limits import limit
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.errors import CorpusError, MelodyRNNError
from melodyrnn.io import read_scores
from melodyrnn.prepare import cache as extract_cache
from melodyrnn.prepare.extract import extract_melodies
from melodyrnn.prepare.recipes import Recipe, source_id
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.workers import FileTimeout, die_with_parent, time_limit, timed_out_reason

CACHE_VERSION = f"{__version__}-3"  # -3: form, pickup and grid losses; ties join one note


@dataclass
class FileResult:
    """What one source file gave: melodies and every reason something was dropped."""

    path: str
    sid: str
    sha1: str
    melodies: list[dict[str, Any]] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    tunes: int = 0
    grid: GridLoss = field(default_factory=GridLoss)  # what quantization changed
    error: str | None = None  # the file as a whole could not be read


def _melody_to_json(m: Melody) -> dict[str, Any]:
    return {"source": m.source, "spq": m.steps_per_quarter, "qpm": m.qpm,
            "ts": list(m.time_signature), "key": str(m.key) if m.key else None,
            "end": m.end_step,
            "notes": [[n.pitch, n.start_step, n.duration_steps, n.velocity] for n in m.notes],
            "form": [[k.step, k.kind, k.number] for k in m.form], "pickup": m.pickup_steps}


def _melody_from_json(d: dict[str, Any]) -> Melody:
    return Melody([Note(*n) for n in d["notes"]], steps_per_quarter=d["spq"], qpm=d["qpm"],
                  time_signature=tuple(d["ts"]), key=Key.parse(d["key"]) if d["key"] else None,
                  source=d["source"], end_step=d["end"],
                  form=[Mark(*k) for k in d["form"]], pickup_steps=d["pickup"])


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
        kwargs["max_steps"] = int(max_bars * steps_per_bar(score.time_signature,
                                                          score.steps_per_quarter))
    return kwargs


def _extract_file(path: str, sid: str, sha1: str, options: dict[str, Any],
                  seconds: float | None = None) -> FileResult:
    """Read one file and extract its melodies in at most `seconds`; never raises for a bad
    or slow file."""
    try:
        with time_limit(seconds):
            return _extract_file_untimed(path, sid, sha1, options)
    except FileTimeout:
        assert seconds is not None
        return FileResult(path=path, sid=sid, sha1=sha1, error=timed_out_reason(seconds))


def _extract_file_untimed(path: str, sid: str, sha1: str, options: dict[str, Any]) -> FileResult:
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
        result.grid.add(GridLoss.of_score(score))
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


def _as_file(result: FileResult, path: str, sid: str) -> FileResult:
    """A cached result as the result of `path`: the cache is keyed by content, so it may have
    been extracted from another file with the same bytes, whose id its melodies carry."""
    for melody in result.melodies:
        if melody["source"].startswith(result.sid):
            melody["source"] = sid + melody["source"][len(result.sid):]
    result.path, result.sid = path, sid
    return result


def _result_to_cache(result: FileResult) -> dict[str, Any]:
    return {**result.__dict__, "grid": result.grid.to_dict()}


def _result_from_cache(data: dict[str, Any] | None) -> FileResult | None:
    try:
        return FileResult(**{**data, "drops": Counter(data["drops"]),
                             "grid": GridLoss(**data["grid"])}) if data else None
    except (TypeError, KeyError):
        return None  # written by another version: extract again


@dataclass
class SourceFiles:
    """Every file a recipe names, each read and hashed once: sha1 by path, or why unreadable."""

    paths: list[Path]
    sha1: dict[Path, str]
    unreadable: dict[str, str]
    source_of: dict[Path, str] = field(default_factory=dict)  # the recipe source naming it

    @classmethod
    def of(cls, recipe: Recipe) -> SourceFiles:
        source_of = recipe.files_by_source()
        paths, sha1, unreadable = list(source_of), {}, {}
        for path in paths:
            try:
                sha1[path] = hashlib.sha1(path.read_bytes()).hexdigest()
            except OSError as exc:
                unreadable[str(path)] = f"unreadable: {exc.strerror}"
        return cls(paths, sha1, unreadable, source_of)


def extract_recipe(recipe: Recipe, jobs: int | None = None, progress: bool = True,
                   use_cache: bool = True, sources: SourceFiles | None = None,
                   file_seconds: float | None = None) -> tuple[list[Melody], PrepareReport]:
    """Melodies of every file a recipe names (cached, in parallel) and a report of drops.

    Each file gets `file_seconds` (default: limit "prepare_file_seconds"); one over it is
    skipped with reason "timed out".
    """
    if file_seconds is None:
        file_seconds = limit("prepare_file_seconds")
    sources = sources or SourceFiles.of(recipe)
    files = sources.paths
    options = _extract_options(recipe)
    report = PrepareReport(out=Path(), recipe=recipe, files=len(files))
    report.skipped_files.update(sources.unreadable)
    report.grid_by_source = {spec: GridLoss() for spec in recipe.sources}
    results: dict[str, FileResult] = {}
    todo = []
    for path in files:
        sha1 = sources.sha1.get(path)
        if sha1 is None:
            continue
        key = extract_cache.key(sha1, options, CACHE_VERSION)
        cached = _result_from_cache(extract_cache.load(key)) if use_cache else None
        if cached is not None:
            results[str(path)] = _as_file(cached, str(path), source_id(path))
            report.cached_files += 1
        else:
            todo.append((str(path), source_id(path), sha1, key))
    for result, key in _run_extraction(todo, options, jobs, progress, file_seconds):
        results[result.path] = result
        if result.error is None:
            extract_cache.store(key, _result_to_cache(result))
    melodies: list[Melody] = []
    for path in files:  # file order, so the output never depends on timing
        name = str(path)
        result = results.get(name)
        if result is None:
            continue
        if result.error is not None:
            report.skipped_files[name] = result.error.removeprefix(f"{name}: ")
            continue
        report.tunes += result.tunes
        report.grid_by_source.setdefault(sources.source_of.get(path, name),
                                         GridLoss()).add(result.grid)
        report.drops.update(result.drops)
        melodies.extend(_melody_from_json(d) for d in result.melodies)
    return melodies, report


def _run_extraction(todo: list[tuple[str, str, str, str]], options: dict[str, Any],
                    jobs: int | None, progress: bool, seconds: float):
    """Yield (FileResult, cache key) for each file, largest files first across workers that
    die with this process."""
    if not todo:
        return
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    todo = sorted(todo, key=lambda t: -os.path.getsize(t[0]))
    bar = _progress(len(todo), "reading", progress)
    if jobs == 1:
        for path, sid, sha1, key in todo:
            yield _extract_file(path, sid, sha1, options, seconds), key
            bar.update(1)
    else:
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent,
                                   initargs=(os.getpid(),))
        try:
            futures = {pool.submit(_extract_file, p, s, h, options, seconds): k
                       for p, s, h, k in todo}
            for future in as_completed(futures):
                yield _result_of(future), futures[future]
                bar.update(1)
        finally:  # on an error or Ctrl-C, files not started are not started
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()


def _result_of(future: Future) -> FileResult:
    try:
        return future.result()
    except BrokenProcessPool:
        raise CorpusError("a worker process reading the files died (killed from outside, or "
                          "for want of memory); run again, with --jobs 1 to read one file at "
                          "a time") from None


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="file", disable=not enabled or total < 2,
                file=sys.stderr, leave=False)
