"""The experiments of the lab, in the order of the course, and `run_all` behind `lab all`.

An experiment is a module with NAME, TITLE, SUMMARY, a frozen `Options` dataclass (each field
with a `help` in its metadata; `cli/lab.py` turns the fields into flags) and
`run(data, out, options, say) -> LabResult`. Networks with equal settings are trained once per
process (`lab/train.py: trained`), so `lab all` costs less than its experiments run one by one.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from melodyrnn.errors import ConfigError
from melodyrnn.lab.data import LabData
from melodyrnn.lab.report import write_report
from melodyrnn.lab.results import LabResult

EXPERIMENTS = ("gradients", "clipping", "tbptt", "memory", "inputs")


def experiment(name: str) -> ModuleType:
    """The module of experiment `name`."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"'{name}' is not an experiment of the lab; choose one of "
                          f"{', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"melodyrnn.lab.{name}")


def make_options(module: ModuleType, values: dict[str, Any]) -> Any:
    """The experiment's Options from `values`, leaving out names it does not have; a value
    that no option of it can take is refused with a sentence that names it."""
    fields = {f.name: f for f in dataclasses.fields(module.Options)}
    chosen = {k: v for k, v in values.items() if k in fields and v is not None}
    for name, value in chosen.items():
        default = fields[name].default
        first = default[0] if isinstance(default, tuple) and default else default
        positive = isinstance(first, int | float) and not isinstance(first, bool) and first > 0
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            whole = isinstance(item, int)
            if not (item >= (1 if positive and whole else 0) and math.isfinite(item)):
                least = "at least 1" if positive and whole else "0 or more"
                raise ConfigError(f"--{name.replace('_', '-')} has to be {least}, got {item}")
    return module.Options(**chosen)


def run_all(data: LabData, out: Path, values: dict[str, Any],
            say: Callable[[str], None] = print) -> list[LabResult]:
    """Every experiment in turn, each with the options of `values` it has; the report is
    rewritten after each one, so an interrupted run still leaves one for what finished."""
    results: list[LabResult] = []
    began = time.perf_counter()
    for name in EXPERIMENTS:
        module = experiment(name)
        say(f"== {name}: {module.TITLE}")
        result = module.run(data, out, make_options(module, values), say)
        results.append(result)
        for sentence in result.reading:
            say(f"  {sentence}")
        write_report(out, results, time.perf_counter() - began)
    return results
