"""`melodyrnn lab clipping`: training at learning rates that blow up, without clipping, with
the gradient clipped by its norm and clipped by value.

The lecture (Pascanu, Mikolov and Bengio 2013): the gradient of a recurrent network can grow
exponentially with the steps it crosses, and one huge gradient throws the weights far out of
the region they were learning in. Clipping the gradient's total norm to c keeps its direction
and bounds each step to lr * c; clipping each component to [-c, c] (by value) bounds it too,
but turns the step away from the gradient's direction. Adam divides each step by a running
gradient size, which hides most of the effect, so this experiment trains with plain SGD, by
default the tanh RNN (the cell whose gradients explode most readily), over a small sweep of
learning rates, each with the three modes. A run is stopped as `fit` stops it
(`lab/train.py`): at a loss that is not finite, or above 2 ln V nats per token for 5 updates.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from melodyrnn.errors import ConfigError
from melodyrnn.lab.data import LabData
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import BASE, TrainLog, TrainSettings, trained
from melodyrnn.models.network import CELLS, Cell

NAME = "clipping"
TITLE = "Exploding gradients and gradient clipping"
SUMMARY = "SGD at learning rates that blow up: no clipping, clipping by norm, by value"

MODES = ("none", "norm", "value")
# the batch the default learning rates were chosen with (SGD's noise grows as it shrinks)
CLIP_BATCH_SIZE = 32
COLORS = {"none": "tab:red", "norm": "tab:blue", "value": "tab:green"}


@dataclass(frozen=True)
class Options:
    """What `melodyrnn lab clipping` trains."""

    seed: int = field(default=0, metadata={"help": "seed of every network and batch order"})
    batches: int = field(default=150, metadata={"help": "training batches per network"})
    hidden_size: int = field(default=128, metadata={"help": "units of each recurrent layer"})
    cell: str = field(default="rnn", metadata={"help": "the cell trained (rnn, gru, lstm)"})
    lr: float = field(default=1.0, metadata={
        "help": "the SGD learning rate whose curves are plotted (added to --lrs)"})
    lrs: tuple[float, ...] = field(default=(0.5, 1.0, 2.0, 4.0), metadata={
        "help": "SGD learning rates of the sweep"})
    clip_norm: float = field(default=1.0, metadata={
        "help": "the largest total gradient norm of the runs clipped by norm"})
    clip_value: float = field(default=0.1, metadata={
        "help": "the largest gradient component of the runs clipped by value"})

    def __post_init__(self) -> None:
        """Refuse values that cannot train, with a sentence naming the value."""
        if self.cell not in CELLS:
            raise ConfigError(f"cell {self.cell!r} is not one of {', '.join(CELLS)}")
        for name in ("batches", "hidden_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} has to be at least 1, got {getattr(self, name)}")
        for name in ("lr", "clip_norm", "clip_value"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} has to be above 0, got {getattr(self, name)}")
        if not self.lrs or not all(lr > 0 for lr in self.lrs):
            raise ConfigError(f"lrs has to be a list of learning rates above 0, got "
                              f"{','.join(map(str, self.lrs)) or 'none'}")

    def sweep(self) -> list[float]:
        """The learning rates trained: --lrs and --lr, in increasing order."""
        return sorted({float(lr) for lr in (*self.lrs, self.lr)})


def settings_for(options: Options, lr: float, mode: str) -> TrainSettings:
    """BASE trained with SGD at `lr`, clipped as `mode` says (none, norm or value)."""
    return dataclasses.replace(
        BASE, cell=cast(Cell, options.cell), hidden_size=options.hidden_size, optimizer="sgd",
        lr=lr, batches=options.batches, batch_size=CLIP_BATCH_SIZE, seed=options.seed,
        clip_norm=options.clip_norm if mode == "norm" else 0.0,
        clip_value=options.clip_value if mode == "value" else 0.0)


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    """Train every learning rate of the sweep in the three modes; writes
    OUT/clipping/clipping.json and its PNGs; returns the result."""
    began = time.perf_counter()
    folder = experiment_folder(out, NAME)
    runs: list[dict[str, Any]] = []
    for lr in options.sweep():
        for mode in MODES:
            _, log = trained(data, settings_for(options, lr, mode))
            runs.append(_record(lr, mode, log, options))
            say(f"{NAME}: trained {options.cell} sgd lr {lr:g} clip {mode} "
                f"({len(log.losses)} batches, {log.seconds:.1f} s, {_outcome(runs[-1])})")
    numbers = _numbers(data, options, runs)
    plots = [save_figure(_curves_figure(numbers), folder / "clipping_curves.png"),
             save_figure(_sweep_figure(numbers), folder / "clipping_sweep.png")]
    # the settings of the main learning rate; the sweep's others differ only in lr
    used = {mode: settings_for(options, options.lr, mode).to_dict() for mode in MODES}
    result = LabResult(NAME, TITLE, numbers, plots, reading(numbers),
                       {"options": dataclasses.asdict(options), "train": used})
    return finish(folder, result, data.describe(), options.seed, began)


def _record(lr: float, mode: str, log: TrainLog, options: Options) -> dict[str, Any]:
    """One run's figures and curves, JSON-able."""
    norms = np.asarray(log.grad_norms, dtype=float)
    finite = norms[np.isfinite(norms)]
    diverged = log.diverged_at is not None
    return {
        "lr": lr, "mode": mode, "diverged_at": log.diverged_at, "updates": len(log.losses),
        "final_loss": log.losses[-1] if log.losses else math.nan,
        "best_loss": min(log.losses, default=math.nan),
        "grad_norm_max": float(finite.max()) if finite.size else math.nan,
        "grad_norm_median": float(np.median(finite)) if finite.size else math.nan,
        "grad_norm_at_stop": log.grad_norms[-1] if diverged else None,
        # the share of updates whose norm the clip cut (only meaningful when clipping by norm)
        "clipped_share": float((norms > options.clip_norm).mean()) if norms.size else 0.0,
        "valid_bpn": None if diverged or not log.valid_bpn else min(log.valid_bpn),
        "best_epoch": log.best_epoch, "epochs": log.epochs, "seconds": log.seconds,
        "losses": log.losses, "grad_norms": log.grad_norms, "valid_bpn_curve": log.valid_bpn,
    }


def _outcome(record: dict[str, Any]) -> str:
    """A few words on how a run ended."""
    if record["diverged_at"] is not None:
        return f"diverged at update {record['diverged_at']}"
    return f"valid {record['valid_bpn']:.2f} bits/note"


def _numbers(data: LabData, options: Options, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of the experiment: the runs, and the sweep per mode aligned with `lrs`."""
    lrs = options.sweep()
    _, targets = data.windows("valid", 512)
    # guessing every token uniformly: the score a network that learnt nothing would beat
    uniform = math.log2(data.vocab_size) * int((targets != data.pad_id).sum()) / data.notes(
        "valid")
    by = {(r["lr"], r["mode"]): r for r in runs}
    sweep = {mode: {key: [by[lr, mode][key] for lr in lrs]
                    for key in ("diverged_at", "valid_bpn", "grad_norm_max", "best_loss")}
             for mode in MODES}
    return {"cell": options.cell, "optimizer": "sgd", "main_lr": float(options.lr), "lrs": lrs,
            "modes": list(MODES), "clip_norm": options.clip_norm,
            "clip_value": options.clip_value, "batches": options.batches,
            "divergence_limit": 2 * math.log(data.vocab_size), "uniform_bpn": uniform,
            "parameters": settings_for(options, options.lr, "none").network(
                data.vocab_size, data.pad_id).parameter_count(),
            "sweep": sweep, "runs": runs}


def _main_runs(numbers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The three runs at the main learning rate, by mode."""
    return {r["mode"]: r for r in numbers["runs"] if r["lr"] == numbers["main_lr"]}


def _label(numbers: dict[str, Any], mode: str) -> str:
    return {"none": "no clipping", "norm": f"clipped by norm {numbers['clip_norm']:g}",
            "value": f"clipped by value {numbers['clip_value']:g}"}[mode]


def _curves_figure(numbers: dict[str, Any]) -> Any:
    """Loss and gradient norm per update of the three modes at the main learning rate."""
    fig = figure(8.0, 6.4)
    loss_ax, norm_ax = fig.subplots(2, 1, sharex=True)
    for mode, record in _main_runs(numbers).items():
        losses = _finite(record["losses"])
        steps = np.arange(1, len(losses) + 1)
        loss_ax.plot(steps, losses, color=COLORS[mode], lw=1.2, label=_label(numbers, mode))
        norm_ax.plot(steps, _finite(record["grad_norms"]), color=COLORS[mode], lw=1.0)
        if record["diverged_at"] is not None:
            for ax, curve in ((loss_ax, losses), (norm_ax, _finite(record["grad_norms"]))):
                seen = np.flatnonzero(np.isfinite(curve))
                if seen.size:  # the stop, at its last finite value
                    ax.plot(steps[seen[-1]], curve[seen[-1]], "X", color=COLORS[mode], ms=10,
                            mec="black")
    loss_ax.axhline(numbers["divergence_limit"], color="gray", ls="--", lw=1,
                    label=f"stop line 2 ln V = {numbers['divergence_limit']:.1f} nats")
    loss_ax.plot([], [], "X", color="gray", mec="black", ms=9, label="diverged (run stopped)")
    loss_ax.set_yscale("log")
    _plain_ticks(loss_ax)
    loss_ax.set_ylabel("training loss (nats per token)")
    loss_ax.set_title(f"{numbers['cell'].upper()} trained with SGD at learning rate "
                      f"{numbers['main_lr']:g}")
    loss_ax.legend(fontsize=8, loc="upper right")
    norm_ax.axhline(numbers["clip_norm"], color=COLORS["norm"], ls=":", lw=1,
                    label=f"clip norm {numbers['clip_norm']:g}")
    norm_ax.set_yscale("log")
    norm_ax.set_xlabel("update")
    norm_ax.set_ylabel("gradient norm before clipping")
    norm_ax.legend(fontsize=8, loc="upper right")
    for ax in (loss_ax, norm_ax):
        ax.grid(True, which="major", alpha=0.3)
    return fig


def _sweep_figure(numbers: dict[str, Any]) -> Any:
    """Where each mode diverged, and its valid bits per note, against the learning rate."""
    fig = figure(9.5, 3.8)
    stop_ax, bpn_ax = fig.subplots(1, 2)
    lrs, batches = np.asarray(numbers["lrs"]), numbers["batches"]
    for i, mode in enumerate(MODES):
        xs = lrs * 1.05 ** (i - 1)  # a small offset so that equal points stay visible
        stops = numbers["sweep"][mode]["diverged_at"]
        y = np.array([batches if s is None else s for s in stops], dtype=float)
        stop_ax.plot(xs, y, "-", color=COLORS[mode], lw=0.8, alpha=0.6)
        for x, value, stop in zip(xs, y, stops, strict=True):
            stop_ax.plot(x, value, "o" if stop is not None else "^", color=COLORS[mode],
                         mfc=COLORS[mode] if stop is not None else "white", ms=7)
        bpn = np.array([math.nan if b is None else b for b in numbers["sweep"][mode]["valid_bpn"]])
        bpn_ax.plot(xs, bpn, "o-", color=COLORS[mode], label=_label(numbers, mode))
    stop_ax.axhline(batches, color="gray", ls=":", lw=1)
    stop_ax.plot([], [], "^", color="gray", mfc="white", label=f"did not diverge ({batches})")
    stop_ax.plot([], [], "o", color="gray", label="diverged at this update")
    stop_ax.set_ylim(0, batches * 1.08)
    stop_ax.set_ylabel("update where the run stopped")
    stop_ax.set_title("Divergence against learning rate")
    stop_ax.legend(fontsize=8, loc="lower left")
    bpn_ax.axhline(numbers["uniform_bpn"], color="gray", ls="--", lw=1,
                   label=f"uniform guess ({numbers['uniform_bpn']:.1f})")
    bpn_ax.set_ylim(bottom=0)
    bpn_ax.set_ylabel("valid bits per note (best epoch)")
    bpn_ax.set_title("Runs that did not diverge")
    bpn_ax.legend(fontsize=8)
    for ax in (stop_ax, bpn_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
        ax.set_xlabel("SGD learning rate")
        ax.grid(True, alpha=0.3)
    return fig


def _plain_ticks(ax: Any) -> None:
    """Log-scale y ticks as plain numbers (2, 3, 5, 10, 20), not as powers of ten."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "235"
                                               else ""))


def _finite(values: list[float | None]) -> np.ndarray:
    """A curve as floats, NaN where it is not finite (a gap in the plot)."""
    array = np.array([math.nan if v is None else v for v in values], dtype=float)
    array[~np.isfinite(array)] = math.nan
    return array


def reading(numbers: dict[str, Any]) -> list[str]:
    """What the runs show, in sentences computed from the numbers."""
    main = _main_runs(numbers)
    return [_read_unclipped(numbers, main["none"]), _read_norm(numbers, main["norm"]),
            _read_value(numbers, main), *_read_sweep(numbers)]


def _quality(numbers: dict[str, Any], bpn: float) -> str:
    """A clause on a score that is worse than a uniform guess (empty otherwise)."""
    if bpn >= numbers["uniform_bpn"]:
        return (f", worse than guessing every token uniformly ({numbers['uniform_bpn']:.2f}): "
                "it survived without learning")
    return ""


def _read_unclipped(numbers: dict[str, Any], record: dict[str, Any]) -> str:
    lr, cell = numbers["main_lr"], numbers["cell"].upper()
    if record["diverged_at"] is not None:
        return (f"With SGD at learning rate {lr:g} the unclipped {cell} diverged at update "
                f"{record['diverged_at']} of {numbers['batches']} (its gradient norm reached "
                f"{record['grad_norm_max']:.3g}, and the loss passed the stop line of "
                f"2 ln V = {numbers['divergence_limit']:.1f} nats): the exploding gradient of "
                "the lecture.")
    return (f"With SGD at learning rate {lr:g} the unclipped {cell} did not diverge in "
            f"{numbers['batches']} updates (largest gradient norm {record['grad_norm_max']:.3g}, "
            f"valid {record['valid_bpn']:.2f} bits per note): at this learning rate the "
            "lecture's exploding gradient did not show; a larger --lr would.")


def _read_norm(numbers: dict[str, Any], record: dict[str, Any]) -> str:
    lr, c = numbers["main_lr"], numbers["clip_norm"]
    if record["diverged_at"] is not None:
        return (f"Clipped by norm {c:g} it diverged too, at update {record['diverged_at']}: "
                f"steps bounded to lr x c = {lr * c:g} did not keep this learning rate stable, "
                "which is less than the lecture promises.")
    return (f"Clipped by norm {c:g} it trained through all {record['updates']} updates to "
            f"{record['valid_bpn']:.2f} bits per note{_quality(numbers, record['valid_bpn'])}; "
            f"the clip cut {record['clipped_share']:.0%} of the updates (norms up to "
            f"{record['grad_norm_max']:.3g}), so every step kept the gradient's direction and "
            f"stayed at most {lr * c:g} long, as the lecture says.")


def _read_value(numbers: dict[str, Any], main: dict[str, dict[str, Any]]) -> str:
    record, cv = main["value"], numbers["clip_value"]
    longest = numbers["main_lr"] * cv * math.sqrt(numbers["parameters"])
    if record["diverged_at"] is not None:
        unclipped = main["none"]["diverged_at"]
        later = _compared_stop(record["diverged_at"], unclipped)
        return (f"Clipped by value {cv:g} it diverged at update {record['diverged_at']}, "
                f"{later}: every component stays within +-{cv:g}, but over "
                f"{numbers['parameters']:,} parameters a step may still be "
                f"lr x c x sqrt(P) = {longest:.3g} long, and it no longer points along "
                "the gradient.")
    sentence = (f"Clipped by value {cv:g} it ran all {record['updates']} updates to "
                f"{record['valid_bpn']:.2f} bits per note{_quality(numbers, record['valid_bpn'])}")
    norm = main["norm"]["valid_bpn"]
    if norm is None:
        return sentence + ", where clipping by norm diverged."
    if record["valid_bpn"] > norm:
        return (sentence + f", worse than clipping by norm ({norm:.2f}): cutting each "
                "component turns the step away from the gradient's direction.")
    return (sentence + f", no worse than clipping by norm ({norm:.2f}): here the change of "
            "direction that clipping by value makes did not cost.")


def _compared_stop(stop: int, unclipped: int | None) -> str:
    """Where a run stopped, against the unclipped run at the same learning rate."""
    if unclipped is None:
        return "where the unclipped run did not"
    if stop == unclipped:
        return "the same update as without clipping"
    return f"{abs(stop - unclipped)} updates {'later' if stop > unclipped else 'earlier'} " \
           "than without clipping"


def _read_sweep(numbers: dict[str, Any]) -> list[str]:
    lrs, sweep = numbers["lrs"], numbers["sweep"]
    stopped = {m: [lr for lr, s in zip(lrs, sweep[m]["diverged_at"], strict=True)
                   if s is not None] for m in MODES}
    listed = ", ".join(f"{lr:g}" for lr in lrs)
    counts = {m: f"{len(stopped[m])} of {len(lrs)}" for m in MODES}
    first = (f"Over the learning rates {listed} the runs diverged at {counts['none']} without "
             f"clipping, at {counts['norm']} clipped by norm and at {counts['value']} clipped "
             "by value.")
    if not stopped["none"]:
        verdict = ("No learning rate of the sweep blew the unclipped network up, so the sweep "
                   "shows nothing of the lecture's effect; try larger --lrs.")
    elif len(stopped["norm"]) < len(stopped["none"]):
        verdict = "Clipping by norm widened the range of learning rates that train, as the " \
                  "lecture says"
        verdict += (f", though not without limit: from lr {min(stopped['norm']):g} it "
                    "diverged as well." if stopped["norm"] else ".")
    else:
        verdict = ("Clipping by norm did not widen the range of learning rates that train "
                   "here, which disagrees with the lecture.")
    scored = [r for r in numbers["runs"] if r["valid_bpn"] is not None]
    if not scored:
        return [first, verdict, "No run of the sweep trained to the end."]
    best = min(scored, key=lambda r: r["valid_bpn"])
    return [first, verdict, f"The best valid score of the sweep was {best['valid_bpn']:.2f} "
            f"bits per note ({_label(numbers, best['mode'])} at lr {best['lr']:g}); guessing "
            f"every token uniformly scores {numbers['uniform_bpn']:.2f}."]
