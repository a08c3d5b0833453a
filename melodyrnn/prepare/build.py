"""Dataset building (`melodyrnn prepare`): music files -> melodies -> token shards.

Melodies come from `sources.py` (read in worker processes, cached by content) and go through
the two passes of `passes.py` (extracted to a spool and a tune index, then split, transposed
if asked, tokenized and written), so memory stays flat whatever the corpus size. The dataset
is written to a temporary folder and renamed into place, so a killed run never leaves a
half-written dataset; a re-run on unchanged inputs returns at once. A run holds a lock on its
`--out` (`folder_lock`), so a second run into the same folder refuses instead of racing it;
temporary folders are cleaned up only when the run that made them is gone.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from melodyrnn._files import (
    atomic_write_text,
    folder_lock,
    os_cause,
    os_reason,
    pid_alive,
    remove_quietly,
    write_fix,
)
from melodyrnn.core.limits import limit
from melodyrnn.errors import CorpusError, WriteError
from melodyrnn.prepare.manifest import (
    FORMAT_VERSION,
    manifest_of,
    read_manifest,
    report_from_manifest,
    skipped_reasons,
)
from melodyrnn.prepare.passes import read_pass, write_pass
from melodyrnn.prepare.recipes import Recipe, recipe_for
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.sources import CACHE_VERSION, SourceFiles
from melodyrnn.prepare.splits import DUPLICATE_RUN
from melodyrnn.prepare.workers import TIMED_OUT
from melodyrnn.tokenizers import get_tokenizer

__all__ = ["FORMAT_VERSION", "prepare"]


def _inputs_hash(recipe: Recipe, sources: SourceFiles) -> str:
    """Hash of everything the dataset depends on: each file's content, recipe and version."""
    h = hashlib.sha1()
    for i, sid in enumerate(sources.sids):
        h.update(sid.encode())
        h.update((sources.sha1(i) or "unreadable").encode())
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
    previous = read_manifest(out)
    if previous and _up_to_date(previous, inputs_hash, file_seconds) and not force:
        return report_from_manifest(out, recipe, previous)
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
    timed_out = skipped_reasons(previous)[TIMED_OUT] > 0
    return not (timed_out and file_seconds > previous.get("file_seconds", 0))


def _skipped_summary(report: PrepareReport) -> str:
    """The skipped files for the one sentence of a failed build: the first one with its reason
    (often the whole story: a single file over a limit), and how many more there were."""
    if not report.skipped_files:
        return ""
    count = report.skipped_count
    path, reason = next(iter(report.skipped_files.items()))
    more = f"; and {count - 1} other(s)" if count > 1 else ""
    return f"; {count} file(s) skipped ({path}: {reason}{more})"


def _build(out: Path, recipe: Recipe, sources: SourceFiles, inputs_hash: str,
           start: float, *, jobs: int | None, progress: bool, use_cache: bool,
           file_seconds: float) -> PrepareReport:
    """Extract, split, encode and write the dataset (the lock on `out` held), in a temporary
    sibling folder swapped into place at the end; any failure removes that folder, keeps the
    earlier dataset and ends in one CorpusError sentence."""
    _clean_up_after_dead_runs(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    remove_quietly(tmp)  # a pid reused from a dead run
    try:
        tmp.mkdir()
        report = _fill(tmp, recipe, sources, inputs_hash, start, jobs=jobs, progress=progress,
                       use_cache=use_cache, file_seconds=file_seconds)
        report.out = out
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
    return report


def _fill(folder: Path, recipe: Recipe, sources: SourceFiles, inputs_hash: str, start: float,
          **extract: Any) -> PrepareReport:
    """Write the whole dataset into `folder` (see `passes`)."""
    tok_options = {k: v for k, v in recipe.tokenizer.items() if k != "name"}
    tok_options.setdefault("steps_per_quarter", recipe.steps_per_quarter)
    tokenizer = get_tokenizer(recipe.tokenizer["name"], **tok_options)
    report = PrepareReport(out=folder, recipe=recipe, files=len(sources))
    report.grid_by_source = {spec: GridLoss() for spec in recipe.sources}
    spool, index = read_pass(recipe, sources, folder, report, **extract)
    write_pass(recipe, sources, spool, index, tokenizer, folder, report)
    if not any(report.melodies.values()):
        raise CorpusError(f"no usable melody in {recipe.origin or recipe.name}: "
                          + (", ".join(f"{r} {n}" for r, n in report.drops.most_common(4))
                             or "no music files read")
                          + _skipped_summary(report))
    report.vocab_size = tokenizer.vocab_size
    report.seconds = time.perf_counter() - start
    tokenizer.save(folder / "tokenizer.json")
    manifest = manifest_of(report, inputs_hash, tokenizer, len(sources), extract["file_seconds"])
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return report


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
