"""The source files of a recipe: each read and hashed once, its melodies extracted in a worker
process and cached by content, bad files (and files over their time) skipped and counted by
reason.

Workers take files in chunks (`CHUNK_FILES`), largest files first, and only `IN_FLIGHT`
chunks per worker are queued at a time, so the results waiting in the main process never
grow with the corpus. A worker also reads and writes the cache and hashes the note runs of
its chunk's melodies (`melody_runs`, for the split), leaving the main process little to do
per file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
from melodyrnn.prepare.fingerprint import run_hashes, symbols_of_columns
from melodyrnn.prepare.recipes import Recipe, source_id
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.splits import DUPLICATE_RUN
from melodyrnn.prepare.workers import FileTimeout, die_with_parent, time_limit, timed_out_reason

CACHE_VERSION = f"{__version__}-3"  # -3: form, pickup and grid losses; ties join one note


@dataclass
class FileResult:
    """What one source file gave: melodies and every reason something was dropped.

    From a worker, `melodies` comes packed (`blob`, a pickle) with the note runs of each
    melody already hashed (`runs`: hashes, `run_melody`: the melody of each), so that the
    main process of a large build only stores and counts, never rebuilds melodies it holds.
    """

    path: str
    sid: str
    sha1: str
    melodies: list[dict[str, Any]] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    tunes: int = 0
    grid: GridLoss = field(default_factory=GridLoss)  # what quantization changed
    error: str | None = None  # the file as a whole could not be read
    index: int = -1  # the file's place in the recipe's order (not cached)
    cached: bool = False  # whether it came from the cache (not cached)
    blob: bytes = b""  # `melodies`, pickled (not cached)
    runs: Any = None  # uint64 hashes of the melodies' note runs (not cached)
    melody_sources: list[str] = field(default_factory=list)  # of each melody (not cached)
    run_melody: Any = None  # the melody (in `melodies`) of each run (not cached)

    def unpacked(self) -> list[dict[str, Any]]:
        """The melodies, from `blob` when they came packed."""
        return pickle.loads(self.blob) if self.blob else self.melodies


_NOT_CACHED = ("index", "cached", "blob", "runs", "run_melody", "melody_sources")


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
    data = {k: v for k, v in result.__dict__.items() if k not in _NOT_CACHED}
    return {**data, "grid": result.grid.to_dict()}


def _result_from_cache(data: dict[str, Any] | None) -> FileResult | None:
    try:
        return FileResult(**{**data, "drops": Counter(data["drops"]),
                             "grid": GridLoss(**data["grid"])}) if data else None
    except (TypeError, KeyError):
        return None  # written by another version: extract again


@dataclass
class SourceFiles:
    """Every file a recipe names, each read and hashed once, kept compact (a corpus of
    100,000 files is an index of about 20 MB): names in recipe order, the sha1 of each (20
    bytes, or why it cannot be read), its size and the recipe source that names it."""

    names: list[str]
    sids: list[str]  # source_id of each (the very string of its name when they are equal)
    digests: bytearray  # 20 bytes of sha1 per file, zeros for an unreadable one
    sizes: array[int]
    spec_index: array[int]  # the index in recipe.sources of the entry naming each file
    unreadable: dict[str, str]

    @classmethod
    def of(cls, recipe: Recipe) -> SourceFiles:
        names, spec_index = recipe.source_files()
        digests, sizes, unreadable = bytearray(20 * len(names)), array("q"), {}
        for i, name in enumerate(names):
            try:
                with open(name, "rb") as file:
                    data = file.read()
            except OSError as exc:
                unreadable[name] = f"unreadable: {exc.strerror}"
                sizes.append(0)
                continue
            digests[20 * i:20 * i + 20] = hashlib.sha1(data).digest()
            sizes.append(len(data))
        sids = [sid if sid != name else name
                for name, sid in zip(names, map(source_id, names), strict=True)]
        return cls(names, sids, digests, sizes, spec_index, unreadable)

    def __len__(self) -> int:
        return len(self.names)

    def sha1(self, i: int) -> str | None:
        """The hex sha1 of file `i`, or None when it cannot be read."""
        return None if self.names[i] in self.unreadable else self.digests[20 * i:20 * i
                                                                          + 20].hex()


def extract_recipe(recipe: Recipe, jobs: int | None = None, progress: bool = True,
                   use_cache: bool = True, sources: SourceFiles | None = None,
                   file_seconds: float | None = None) -> tuple[list[Melody], PrepareReport]:
    """Melodies of every file a recipe names (cached, in parallel) and a report of drops.

    Each file gets `file_seconds` (default: limit "prepare_file_seconds"); one over it is
    skipped with reason "timed out". Every melody is held in memory: a build of any size
    goes through `extract_stream` instead.
    """
    sources = sources or SourceFiles.of(recipe)
    report = PrepareReport(out=Path(), recipe=recipe, files=len(sources))
    for name, reason in sources.unreadable.items():
        report.skip(name, reason)
    report.grid_by_source = {spec: GridLoss() for spec in recipe.sources}
    results = {}
    for result in extract_stream(recipe, sources, jobs=jobs, progress=progress,
                                 use_cache=use_cache, file_seconds=file_seconds):
        count_result(report, recipe, sources, result)
        results[result.index] = result
    melodies: list[Melody] = []
    for i in sorted(results):  # file order, so the output never depends on timing
        result = results[i]
        if result.error is not None:
            report.skip(result.path, skip_reason(result))
            continue
        melodies.extend(_melody_from_json(d) for d in result.unpacked())
    return melodies, report


def skip_reason(result: FileResult) -> str:
    """Why a file was skipped, without its own name in front."""
    return (result.error or "").removeprefix(f"{result.path}: ")


def count_result(report: PrepareReport, recipe: Recipe, sources: SourceFiles,
                 result: FileResult) -> None:
    """Count a file's tunes, grid changes and drops into `report` (any order of files)."""
    report.cached_files += result.cached
    if result.error is not None:
        return
    report.tunes += result.tunes
    spec = recipe.sources[sources.spec_index[result.index]]
    report.grid_by_source.setdefault(spec, GridLoss()).add(result.grid)
    report.drops.update(result.drops)


def extract_stream(recipe: Recipe, sources: SourceFiles, *, jobs: int | None = None,
                   progress: bool = True, use_cache: bool = True,
                   file_seconds: float | None = None) -> Iterator[FileResult]:
    """The result of every readable file, packed (see `FileResult`), as workers finish them:
    in no particular order, with `index` giving each one's place. Only a few chunks of files
    are in flight at a time, so memory does not grow with the corpus."""
    if file_seconds is None:
        file_seconds = limit("prepare_file_seconds")
    options = _extract_options(recipe)
    sizes = np.frombuffer(sources.sizes, dtype=np.int64) if len(sources) else np.zeros(0)
    todo = np.argsort(-sizes, kind="stable")  # largest first: no worker ends long after
    if sources.unreadable:
        todo = np.array([i for i in todo.tolist()
                         if sources.names[i] not in sources.unreadable], dtype=np.int64)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    per_chunk = max(1, min(CHUNK_FILES, len(todo) // (8 * jobs)))
    chunks = ([(i, sources.names[i], sources.sids[i], sources.sha1(i))
               for i in todo[c:c + per_chunk].tolist()] for c in range(0, len(todo), per_chunk))
    task = functools.partial(_extract_chunk, options=options, seconds=file_seconds,
                             use_cache=use_cache)
    bar = _progress(len(todo), "reading", progress)
    for results in _run_chunks(chunks, task, jobs):
        yield from results
        bar.update(len(results))
    bar.close()


CHUNK_FILES = 32  # files per worker task: fewer round trips, still a fair share each


def _extract_chunk(items: list[tuple[int, str, str, str]], options: dict[str, Any],
                   seconds: float, use_cache: bool) -> list[FileResult]:
    """Extract (or take from the cache) a chunk of files; pack each result and hash the note
    runs of all the chunk's melodies at once."""
    results = []
    for index, path, sid, sha1 in items:
        key = extract_cache.key(sha1, options, CACHE_VERSION)
        result = _result_from_cache(extract_cache.load(key)) if use_cache else None
        if result is not None:
            result = _as_file(result, path, sid)
            result.cached = True
        else:
            result = _extract_file(path, sid, sha1, options, seconds)
            if result.error is None:
                extract_cache.store(key, _result_to_cache(result))
        result.index = index
        results.append(result)
    melodies = [m for r in results for m in r.melodies]
    if melodies:
        runs, owner = melody_runs(melodies)
        first = 0
        for result in results:
            count = len(result.melodies)
            keep = (owner >= first) & (owner < first + count)
            result.runs, result.run_melody = runs[keep], (owner[keep] - first).astype(np.int32)
            first += count
    for result in results:
        result.melody_sources = [m["source"] for m in result.melodies]
        result.blob = pickle.dumps(result.melodies, protocol=pickle.HIGHEST_PROTOCOL)
        result.melodies = []
    return results


def melody_runs(melodies: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(hash, melody index) of every run of `DUPLICATE_RUN` notes of melodies in cache form."""
    lengths = np.array([len(m["notes"]) for m in melodies], dtype=np.int64)
    notes = np.array([n[:3] for m in melodies for n in m["notes"]],
                     dtype=np.int64).reshape(-1, 3)
    spq = np.array([m["spq"] for m in melodies], dtype=np.int64)
    symbols = symbols_of_columns(notes[:, 0], notes[:, 1], notes[:, 2], lengths, spq)
    return run_hashes(symbols, DUPLICATE_RUN)


def _run_chunks(chunks: Iterator[list[Any]], task: Callable[[list[Any]], list[FileResult]],
                jobs: int) -> Iterator[list[FileResult]]:
    """Results of `task` on each chunk: in this process with one job, else across workers
    that die with this process, at most `IN_FLIGHT` chunks a worker queued at a time."""
    if jobs == 1:
        yield from map(task, chunks)
        return
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent,
                               initargs=(os.getpid(),))
    try:
        pending: set[Future] = set()
        for chunk in chunks:
            if len(pending) >= IN_FLIGHT * jobs:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from map(_result_of, done)
            pending.add(pool.submit(task, chunk))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from map(_result_of, done)
    finally:  # on an error or Ctrl-C, files not started are not started
        pool.shutdown(wait=True, cancel_futures=True)


IN_FLIGHT = 4  # chunks queued per worker: enough that none waits, few enough to stay small


def _result_of(future: Future) -> list[FileResult]:
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
