"""What an experiment hands back (`LabResult`), its JSON, and how it saves its plots (drawn on
`evaluate/plots.py`'s `figure`, re-exported here).

Every experiment writes into its own folder `OUT/NAME/`: `NAME.json` (every number, the
settings, the versions of everything that computed them, the data's fingerprint) and its PNG
plots. `lab/report.py` reads those JSON files back to write the HTML report, so a report can
be rebuilt from a folder without training again.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn._files import atomic_write_text, make_folder
from melodyrnn._version import __version__
from melodyrnn.errors import MelodyRNNError
from melodyrnn.evaluate.plots import figure as figure  # the experiments draw on it
from melodyrnn.evaluate.plots import save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMAT_VERSION = 1


@dataclass
class LabResult:
    """One experiment's outcome: its numbers, plots and a reading of them in plain words."""

    name: str  # the subcommand: gradients, clipping, tbptt, memory, inputs
    title: str  # a heading for the report
    numbers: dict[str, Any]  # every figure, JSON-able (lists of floats for curves)
    plots: list[str]  # PNG file names in the experiment's folder, main plot first
    reading: list[str]  # sentences that say what the numbers show (printed and reported)
    settings: dict[str, Any] = field(default_factory=dict)  # every option that made them
    seconds: float = 0.0  # wall time of the experiment
    provenance: dict[str, Any] = field(default_factory=dict)  # filled in by write_result

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **dataclasses.asdict(self)}


def provenance(data_description: dict[str, Any], seed: int) -> dict[str, Any]:
    """Versions, machine and data behind a result, so a reader can run it again."""
    import numpy
    import torch

    return {"melodyrnn": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(), "seed": seed,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": " ".join(["melodyrnn", *sys.argv[1:]]) if sys.argv else "",
            "data": data_description}


def write_result(folder: Path, result: LabResult) -> Path:
    """Write `folder/NAME.json` (atomically; NaN and infinities as null); its path."""
    path = folder / f"{result.name}.json"
    return atomic_write_text(path, json.dumps(_plain(result.to_dict()), indent=1) + "\n")


def finish(folder: Path, result: LabResult, data_description: dict[str, Any], seed: int,
           began: float) -> LabResult:
    """Stamp the result with its time (since `began`, a perf_counter) and provenance, and
    write its JSON into `folder`."""
    result.seconds = round(time.perf_counter() - began, 2)
    result.provenance = provenance(data_description, seed)
    write_result(folder, result)
    return result


def _plain(value: Any) -> Any:
    """`value` with every float that JSON cannot hold (NaN, infinities) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def read_result(path: Path) -> LabResult:
    """A result written by `write_result`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("format_version", None)
        return LabResult(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise MelodyRNNError(f"{path} is not a result written by `melodyrnn lab` ({exc}); run "
                             "the experiment again") from exc


def experiment_folder(out: Path, name: str) -> Path:
    """OUT/NAME, made if missing."""
    folder = out / name
    return make_folder(folder, fix="choose another --out")


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> str:
    """Write the figure as a PNG (atomically); its file name."""
    return save_png(fig, path, dpi=dpi).name
