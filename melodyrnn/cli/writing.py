"""Writing a command's melodies: every melody in every format, as the melodies come.

Before anything is sampled or written, the output folder is made and tried, and the command is
refused if any file it would write exists (so nothing is half-written). Melodies then arrive in
batches and each batch is written and dropped, so a run of any length holds one batch; a run
interrupted (Ctrl-C) keeps the tunes already written and says how many. A short run prints one
line per file, a long one a progress bar and a summary line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn._files import make_folder
from melodyrnn.errors import WriteError
from melodyrnn.io import write_melody

LIST_UP_TO = 20  # runs of up to this many tunes print a line per file written


def tune_name(stem: str, index: int, num: int) -> str:
    """The file stem of tune `index` (from 0) of `num`: `stem` alone, or `stem-01`, numbered
    with as many digits as `num` needs (at least two), so the names sort in order."""
    if num == 1:
        return stem
    return f"{stem}-{index + 1:0{max(2, len(str(num)))}d}"


def prepare_out(out: Path, stem: str, num: int, suffixes: Iterable[str], force: bool) -> None:
    """Make the folder `out` and try writing in it; refuse if a file of the run exists."""
    suffixes = list(suffixes)
    make_folder(out, fix="choose another --out")
    try:  # a read-only or full folder is found now, not after the sampling
        handle, probe = tempfile.mkstemp(dir=out, prefix=".melodyrnn-", suffix=".probe")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise WriteError(f"{out}: cannot write into this folder ({exc.strerror or exc}); "
                         "choose another --out") from None
    if force:
        return
    existing = sorted(_existing(out, stem, num, suffixes))
    if existing:
        name = existing[0][2]  # the first tune's file, in the order of --formats
        raise WriteError(f"{out / name} already exists"
                         + (f" (and {len(existing) - 1:,} more)" if len(existing) > 1 else "")
                         + "; use --force to overwrite")


def _existing(out: Path, stem: str, num: int, suffixes: list[str]
              ) -> Iterator[tuple[int, int, str]]:
    """(tune index, suffix position, name) of each file in `out` that the run would write.

    One pass over the folder, whatever `num` is: a name is the run's when its suffix is asked
    for and its stem is `tune_name(stem, i, num)` for an i below `num`.
    """
    width = max(2, len(str(num)))
    try:
        entries = list(os.scandir(out))
    except OSError as exc:
        raise WriteError(f"{out}: cannot list this folder ({exc.strerror or exc}); "
                         "choose another --out") from None
    for entry in entries:
        base, suffix = os.path.splitext(entry.name)
        if suffix not in suffixes:
            continue
        if num == 1:
            if base == stem:
                yield 0, suffixes.index(suffix), entry.name
            continue
        number = base[len(stem) + 1:]
        if (base.startswith(f"{stem}-") and len(number) == width and number.isdigit()
                and 1 <= int(number) <= num):
            yield int(number) - 1, suffixes.index(suffix), entry.name


@dataclass
class _Run:
    """Where a run writes, and how many of its tunes are written so far."""

    out: Path
    stem: str
    num: int
    suffixes: list[str]
    listing: bool  # a line per file (short runs) rather than a progress bar
    done: int = 0

    def written(self) -> str:
        """'57 of 300 tunes to out (melody-001 to melody-057, as .mid .wav)'."""
        if not self.done:
            return f"0 of {self.num:,} tunes to {self.out}"
        names = tune_name(self.stem, 0, self.num) + (
            f" to {tune_name(self.stem, self.done - 1, self.num)}" if self.done > 1 else "")
        count = f"{self.done:,} of {self.num:,}" if self.done < self.num else f"{self.num:,}"
        return f"{count} tunes to {self.out} ({names}, as {' '.join(self.suffixes)})"


def write_stream(batches: Iterable[list[Any]], args: argparse.Namespace, stem: str,
                 num: int) -> int:
    """Write `num` melodies arriving in batches, every one in every format; the tunes written.

    The folder must have been checked (`prepare_out`). A Ctrl-C ends the run with a
    KeyboardInterrupt that says what was written; the tune being written is finished first.
    """
    run = _Run(Path(args.out), stem, num, list(args.formats), listing=num <= LIST_UP_TO)
    bar = _progress(num, quiet=getattr(args, "quiet", False) or run.listing)
    try:
        for batch in batches:
            _write_batch(batch, run, bar)
            del batch  # the batch's melodies go before the next batch is sampled
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"wrote {run.written()}; every file there is whole") from None
    except WriteError as exc:
        if not run.done:
            raise
        raise WriteError(f"{exc} (after {run.written()})") from None
    finally:
        bar.close()
    if not run.listing:
        print(f"wrote {run.written()}")
    return run.done


def _write_batch(batch: list[Any], run: _Run, bar: Any) -> None:
    """Write the tunes of one batch in every format, numbered on from those written."""
    for melody in batch:
        name = tune_name(run.stem, run.done, run.num)
        with _finish_tune_first():
            for suffix in run.suffixes:
                path = run.out / f"{name}{suffix}"
                write_melody(melody, path, force=True)
                if run.listing:  # (then there is no bar to keep clear of)
                    print(f"wrote {path}  ({len(melody)} notes, "
                          f"{melody.end_step / melody.steps_per_bar:.0f} bars, "
                          f"{melody.seconds:.1f} s)")
            run.done += 1
        bar.update(1)


def write_all(melodies: list, args: argparse.Namespace, stem: str) -> None:
    """Write every melody in every format; refuse up front if any file exists."""
    prepare_out(Path(args.out), stem, len(melodies), args.formats, args.force)
    write_stream([melodies], args, stem, len(melodies))


@contextmanager
def _finish_tune_first() -> Iterator[None]:
    """Hold a Ctrl-C until the tune in hand is written in every format; a second Ctrl-C
    stops at once."""
    pressed: list[bool] = []

    def hold(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except ValueError:  # not the main thread: signals go elsewhere, nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _progress(total: int, quiet: bool) -> Any:
    """A progress bar of tunes on stderr; silent when quiet, when stderr is not a terminal,
    or for a single tune."""
    from tqdm import tqdm
    return tqdm(total=total, desc="generate", unit="tune", file=sys.stderr, leave=False,
                disable=quiet or total < 2 or not sys.stderr.isatty())

