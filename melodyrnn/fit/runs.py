"""Run folders: `{default_root_dir}/{run_name}/version_N/`, which one `--ckpt_path last` resumes,
and the CSV logger that appends to a resumed run's metrics.csv instead of deleting it.

`--ckpt_path last` resumes the newest version folder of the run name that holds
checkpoints/last.ckpt, and logs into that same folder (metrics appended, same TensorBoard
folder); with no last.ckpt under any version it is refused. A checkpoint given by path starts a
new version folder, so the run it came from keeps its last.ckpt.
"""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from melodyrnn.errors import ConfigError
from melodyrnn.fit.checkpoints import LAST, remove_stale_temporaries


def versions(run_dir: Path) -> list[int]:
    """The version numbers under a run directory, in increasing order."""
    return sorted(int(m.group(1)) for p in run_dir.glob("version_*")
                  if (m := re.fullmatch(r"version_(\d+)", p.name)))


def next_version(run_dir: Path) -> int:
    """The first unused version number under a run directory."""
    numbers = versions(run_dir)
    return numbers[-1] + 1 if numbers else 0


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest version's checkpoints/last.ckpt under a run directory, if any."""
    for version in reversed(versions(run_dir)):
        last = run_dir / f"version_{version}" / "checkpoints" / LAST
        if last.is_file():
            return last
    return None


def resolve_last(run_dir: Path) -> tuple[Path, int]:
    """`--ckpt_path last`: the newest last.ckpt and its version number, or a ConfigError."""
    last = latest_checkpoint(run_dir)
    if last is None:
        raise ConfigError(f"--ckpt_path last: there is no {run_dir}/version_*/checkpoints/{LAST} "
                          "to resume (check --trainer.default_root_dir and --run_name), so leave "
                          "out --ckpt_path to start a new run")
    return last, int(last.parent.parent.name.removeprefix("version_"))


def clean_run_dir(run_dir: Path) -> None:
    """Remove what killed checkpoint writes left in any version of the run."""
    for version in versions(run_dir):
        remove_stale_temporaries(run_dir / f"version_{version}" / "checkpoints")


def resume_command(args: list[str]) -> str:
    """The command line that resumes the run `args` started: `--ckpt_path last` in place."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path="):
            kept.append(arg)
    return "melodyrnn " + shlex.join([*kept, "--ckpt_path", "last"])


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer that keeps the metrics.csv it finds and appends to it."""

    def _check_log_dir_exists(self) -> None:
        """Unlike Lightning's, deletes nothing; learns the existing columns instead."""
        path = Path(self.metrics_file_path)
        if path.is_file():
            with open(path, newline="") as fh:
                self.metrics_keys = list(next(csv.reader(fh), []))


class AppendingCSVLogger(CSVLogger):
    """CSVLogger into an existing version folder, appending to its metrics.csv."""

    @property
    def experiment(self) -> Any:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
