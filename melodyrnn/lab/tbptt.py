"""`melodyrnn lab tbptt`: truncated backpropagation through time, TBPTT(k1, k2), against full
backpropagation through the window.

TBPTT(k1, k2) (Williams and Peng 1990; `fit/tbptt.py`) makes one update every k1 steps of a
window, each backpropagating its k1 targets' loss k2 steps back (k2 >= k1): the gradient sees
no dependency longer than k2 steps, while the forward state still carries everything before.
The experiment fixes k1 and trains k2 over a list (each update then costs about k2 / k1 times
the forward and backward work of its chunk), beside the tied series k1 = k2 for the same
values (plain chunked training: T / k1 updates per window, each as long as it backpropagates)
and full BPTT over the whole window (one update per window) as the reference. Every run trains
the same number of batches, so the same number of epochs: what a user compares in seconds per
epoch. A run with small k1 makes T / k1 times as many updates in those epochs, which helps on
its own; the tied series shows how much of a difference that is, apart from k2.
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
from melodyrnn.fit.tbptt import spans
from melodyrnn.lab.data import LabData
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import BASE, TrainLog, TrainSettings, trained
from melodyrnn.models.network import CELLS, Cell

NAME = "tbptt"
TITLE = "Truncated backpropagation through time"
SUMMARY = "TBPTT(k1, k2) against full BPTT: bits per note and seconds per epoch over k2"

SERIES = ("fixed", "tied")  # k1 fixed with k2 over the list; k1 = k2
# the batch and Adam rate the default epochs were chosen with
TBPTT_BATCH_SIZE, TBPTT_LR = 32, 3e-3


@dataclass(frozen=True)
class Options:
    """What `melodyrnn lab tbptt` trains."""

    seed: int = field(default=0, metadata={"help": "seed of every network and batch order"})
    batches: int = field(default=200, metadata={
        "help": "training batches per network (the same epochs for every run)"})
    hidden_size: int = field(default=128, metadata={"help": "units of each recurrent layer"})
    cell: str = field(default="lstm", metadata={"help": "the cell trained (rnn, gru, lstm)"})
    seq_len: int = field(default=128, metadata={
        "help": "window length in tokens: full BPTT backpropagates through all of it"})
    k1: int = field(default=16, metadata={"help": "steps forward between two updates"})
    k2s: tuple[int, ...] = field(default=(16, 32, 64), metadata={
        "help": "steps each update backpropagates, k1 <= k2 <= seq_len"})
    tied: bool = field(default=True, metadata={
        "help": "also train k1 = k2 for each k2 (chunks as long as they backpropagate)"})
    noise: float = field(default=0.1, metadata={
        "help": "differences in bits per note below this are read as noise (one seed)"})

    def __post_init__(self) -> None:
        """Refuse values TBPTT cannot train, with a sentence naming the value."""
        if self.cell not in CELLS:
            raise ConfigError(f"cell {self.cell!r} is not one of {', '.join(CELLS)}")
        for name in ("batches", "hidden_size", "seq_len", "k1"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} has to be at least 1, got {getattr(self, name)}")
        if self.k1 > self.seq_len:
            raise ConfigError(f"k1 {self.k1} is longer than the window (seq_len "
                              f"{self.seq_len}); it has to fit in it")
        if not self.noise >= 0:
            raise ConfigError(f"noise has to be 0 or more, got {self.noise}")
        if not self.k2s:
            raise ConfigError("k2s has to name at least one k2")
        for k2 in self.k2s:
            if not self.k1 <= k2 <= self.seq_len:
                raise ConfigError(f"k2 {k2} is not between k1 {self.k1} and seq_len "
                                  f"{self.seq_len}: TBPTT(k1, k2) needs k1 <= k2 <= seq_len")

    def k2_values(self) -> list[int]:
        """The k2s, each once, in increasing order."""
        return sorted(set(self.k2s))


def settings_for(options: Options, k1: int, k2: int) -> TrainSettings:
    """BASE with TBPTT(k1, k2) over windows of `seq_len`; k1 = 0 is full BPTT."""
    return dataclasses.replace(
        BASE, cell=cast(Cell, options.cell), hidden_size=options.hidden_size,
        batches=options.batches, batch_size=TBPTT_BATCH_SIZE, lr=TBPTT_LR,
        seq_len=options.seq_len, seed=options.seed, k1=k1, k2=k2)


def planned(options: Options) -> dict[str, list[tuple[int, int]]]:
    """(k1, k2) of every run by series; "full" is (0, 0)."""
    plan = {"full": [(0, 0)], "fixed": [(options.k1, k2) for k2 in options.k2_values()]}
    plan["tied"] = [(k2, k2) for k2 in options.k2_values()] if options.tied else []
    return plan


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    """Train full BPTT and TBPTT(k1, k2) over the k2s; writes OUT/tbptt/tbptt.json and its
    PNGs; returns the result."""
    began = time.perf_counter()
    folder = experiment_folder(out, NAME)
    series: dict[str, list[dict[str, Any]]] = {}
    used: dict[str, Any] = {}
    done: dict[tuple[int, int], dict[str, Any]] = {}
    for name, pairs in planned(options).items():
        series[name] = []
        for k1, k2 in pairs:
            settings = settings_for(options, k1, k2)
            _, log = trained(data, settings)
            if (k1, k2) not in done:
                done[k1, k2] = _record(k1, k2, log, options.seq_len)
                say(f"{NAME}: trained {options.cell} {_name(k1, k2)} ({len(log.losses)} "
                    f"updates, {log.seconds:.1f} s, valid {done[k1, k2]['valid_bpn']:.2f} "
                    "bits/note)")
            series[name].append(done[k1, k2])
            used[_name(k1, k2)] = settings.to_dict()
    numbers = {"cell": options.cell, "seq_len": options.seq_len, "k1": options.k1,
               "k2s": options.k2_values(), "batches": options.batches, "noise": options.noise,
               "tokens_per_note": len(data.splits["train"].tokens) / max(1, data.notes("train")),
               "epochs": series["full"][0]["epochs"], "seeds": [options.seed],
               "full": series["full"][0], "fixed": series["fixed"], "tied": series["tied"]}
    plots = [save_figure(_figure(numbers), folder / "tbptt.png")]
    result = LabResult(NAME, TITLE, numbers, plots, reading(numbers),
                       {"options": dataclasses.asdict(options), "train": used})
    return finish(folder, result, data.describe(), options.seed, began)


def _name(k1: int, k2: int) -> str:
    return "full BPTT" if k1 == 0 else f"TBPTT({k1}, {k2})"


def _record(k1: int, k2: int, log: TrainLog, seq_len: int) -> dict[str, Any]:
    """One run's figures and curves, JSON-able."""
    per_batch = len(spans(seq_len, k1, k2)) if k1 else 1
    return {
        "k1": k1, "k2": k2, "updates": len(log.losses), "updates_per_batch": per_batch,
        "epochs": log.epochs, "seconds": log.seconds,
        "seconds_per_epoch": log.seconds / log.epochs if log.epochs else math.nan,
        "diverged_at": log.diverged_at,
        "valid_bpn": min(log.valid_bpn) if log.valid_bpn else math.nan,
        "best_epoch": log.best_epoch, "final_loss": log.losses[-1] if log.losses else math.nan,
        "valid_bpn_curve": log.valid_bpn, "losses": log.losses, "grad_norms": log.grad_norms,
    }


COLORS = {"fixed": "tab:blue", "tied": "tab:orange", "full": "black"}


def _series_label(numbers: dict[str, Any], name: str) -> str:
    return {"fixed": f"TBPTT(k1 = {numbers['k1']}, k2)", "tied": "k1 = k2 (chunks)",
            "full": f"full BPTT ({numbers['seq_len']} steps)"}[name]


def _figure(numbers: dict[str, Any]) -> Any:
    """Valid bits per note and seconds per epoch against k2, with full BPTT's lines; and the
    valid curves per epoch of every run."""
    fig = figure(12.0, 4.0)
    bpn_ax, time_ax, curve_ax = fig.subplots(1, 3)
    full = numbers["full"]
    for name in SERIES:
        runs = numbers[name]
        if not runs:
            continue
        k2 = [r["k2"] for r in runs]
        bpn_ax.plot(k2, [r["valid_bpn"] for r in runs], "o-", color=COLORS[name],
                    label=_series_label(numbers, name))
        time_ax.plot(k2, [r["seconds_per_epoch"] for r in runs], "o-", color=COLORS[name],
                     label=_series_label(numbers, name))
    for ax, key in ((bpn_ax, "valid_bpn"), (time_ax, "seconds_per_epoch")):
        ax.axhline(full[key], color=COLORS["full"], ls="--", lw=1,
                   label=_series_label(numbers, "full"))
        ax.set_xscale("log", base=2)
        ticks = sorted({*numbers["k2s"], numbers["k1"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("k2: steps each update backpropagates")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    bpn_ax.set_ylabel("valid bits per note (best epoch)")
    bpn_ax.set_title(f"{numbers['cell'].upper()}, {numbers['epochs']:.0f} epochs each")
    time_ax.set_ylabel("training seconds per epoch")
    time_ax.set_ylim(bottom=0)
    time_ax.set_title("Cost")
    _draw_curves(curve_ax, numbers)
    curve_ax.set_xlabel("epoch")
    curve_ax.set_ylabel("valid bits per note")
    curve_ax.set_title("Learning curves")
    curve_ax.set_ylim(top=min(max(r["valid_bpn"] for r in _runs(numbers)) + 2,
                             max(max(r["valid_bpn_curve"], default=0) for r in _runs(numbers))))
    curve_ax.grid(True, alpha=0.3)
    curve_ax.legend(fontsize=7)
    return fig


def _draw_curves(ax: Any, numbers: dict[str, Any]) -> None:
    """Valid bits per note after each epoch, full BPTT in black, each series in its shades."""
    from matplotlib import colormaps

    ax.plot(np.arange(1, len(numbers["full"]["valid_bpn_curve"]) + 1),
            numbers["full"]["valid_bpn_curve"], color="black", lw=1.6, label="full BPTT")
    seen = {(0, 0)}
    for name, shades in (("fixed", "Blues"), ("tied", "Oranges")):
        runs = [r for r in numbers[name] if (r["k1"], r["k2"]) not in seen]
        for i, r in enumerate(runs):
            seen.add((r["k1"], r["k2"]))
            shade = colormaps[shades](0.45 + 0.5 * i / max(1, len(runs) - 1))
            ax.plot(np.arange(1, len(r["valid_bpn_curve"]) + 1), r["valid_bpn_curve"],
                    color=shade, lw=1.1, label=_name(r["k1"], r["k2"]))


def _runs(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run once: full BPTT, then each series (TBPTT(k1, k1) may be in both)."""
    out, seen = [], set()
    for r in [numbers["full"], *numbers["fixed"], *numbers["tied"]]:
        if (r["k1"], r["k2"]) not in seen:
            seen.add((r["k1"], r["k2"]))
            out.append(r)
    return out


def reading(numbers: dict[str, Any]) -> list[str]:
    """What the runs show, in sentences computed from the numbers."""
    full, fixed, noise = numbers["full"], numbers["fixed"], numbers["noise"]
    sentences = [
        f"Full BPTT over windows of {numbers['seq_len']} tokens scored {full['valid_bpn']:.2f} "
        f"bits per note after {numbers['epochs']:.0f} epoch{'s' * (round(numbers['epochs']) != 1)} "
        f"({full['updates']} updates, "
        f"{full['seconds_per_epoch']:.2f} s per epoch); one seed is shown, and differences "
        f"under {noise:g} bits per note are read as noise.",
        _read_k2(numbers), _read_cost(numbers)]
    if numbers["tied"]:
        sentences.append(_read_tied(numbers))
    best = min(fixed, key=lambda r: r["valid_bpn"])
    gap = best["valid_bpn"] - full["valid_bpn"]
    if abs(gap) < noise:
        sentences.append(
            f"The best truncation, {_name(best['k1'], best['k2'])}, came within noise of full "
            f"BPTT ({gap:+.2f} bits per note): on these tunes the gradient needs to reach no "
            f"further than {best['k2']} steps (about {best['k2'] / numbers['tokens_per_note']:.0f}"
            " notes), as the lecture's case for truncation assumes.")
    elif gap > 0:
        sentences.append(
            f"Full BPTT beat the best truncation, {_name(best['k1'], best['k2'])}, by {gap:.2f} "
            "bits per note: the tunes hold dependencies longer than the truncation lets the "
            "gradient see, the price of truncation the lecture warns of.")
    else:
        sentences.append(
            f"The best truncation, {_name(best['k1'], best['k2'])}, beat full BPTT by "
            f"{-gap:.2f} bits per note: at equal epochs its {best['updates_per_batch']} updates "
            "per window outweigh a shorter gradient, an effect of the update count, not of k2.")
    return sentences


def _read_k2(numbers: dict[str, Any]) -> str:
    """How the score moves with k2 at fixed k1."""
    fixed, noise, k1 = numbers["fixed"], numbers["noise"], numbers["k1"]
    scores = ", ".join(f"{r['valid_bpn']:.2f}" for r in fixed)
    head = (f"With k1 = {k1}, backpropagating k2 = {', '.join(str(r['k2']) for r in fixed)} "
            f"steps scored {scores} bits per note")
    if len(fixed) < 2:
        return head + "."
    best = min(fixed, key=lambda r: r["valid_bpn"])
    gain = fixed[0]["valid_bpn"] - best["valid_bpn"]
    # the shortest k2 whose score is within noise of the best: where longer stops helping
    enough = next(r for r in fixed if r["valid_bpn"] - best["valid_bpn"] < noise)
    if gain < noise:
        return (head + f": within noise of each other, so backpropagating further than "
                f"{fixed[0]['k2']} steps (about {fixed[0]['k2'] / numbers['tokens_per_note']:.0f} "
                "notes) did not help here.")
    return (head + f": longer backpropagation helped ({gain:.2f} bits per note from k2 = "
            f"{fixed[0]['k2']} to the best, k2 = {best['k2']}), and stopped helping beyond "
            f"k2 = {enough['k2']} (about {enough['k2'] / numbers['tokens_per_note']:.0f} notes).")


def _read_cost(numbers: dict[str, Any]) -> str:
    """What longer backpropagation costs in seconds per epoch."""
    fixed, full = numbers["fixed"], numbers["full"]
    first, last = fixed[0], fixed[-1]
    ratio = last["seconds_per_epoch"] / first["seconds_per_epoch"]
    return (f"It costs time: an epoch took {first['seconds_per_epoch']:.2f} s at k2 = "
            f"{first['k2']} and {last['seconds_per_epoch']:.2f} s at k2 = {last['k2']} "
            f"({ratio:.1f} times, against {last['k2'] / first['k2']:g} times the backpropagated "
            f"steps), and {full['seconds_per_epoch']:.2f} s with full BPTT, which backpropagates "
            f"all {numbers['seq_len']} steps in one update per window.")


def _read_tied(numbers: dict[str, Any]) -> str:
    """What the number of updates does on its own: chunked training, k1 = k2."""
    tied, full, noise = numbers["tied"], numbers["full"], numbers["noise"]
    short = tied[0]
    gap = short["valid_bpn"] - full["valid_bpn"]
    scores = ", ".join(f"{r['valid_bpn']:.2f}" for r in tied)
    head = (f"Chunked training (k1 = k2 = {', '.join(str(r['k2']) for r in tied)}) scored "
            f"{scores}; at k = {short['k2']} it makes {short['updates_per_batch']} updates per "
            "window where full BPTT makes one")
    if gap < -noise:
        return head + (f", and scored {-gap:.2f} bits per note better in the same epochs: the "
                       "extra updates help more than the longer gradient.")
    if gap > noise:
        return head + (f", yet scored {gap:.2f} bits per note worse: the extra updates did "
                       "not make up for the gradient cut at every chunk.")
    return head + ", and scored within noise of it: the extra updates and the shorter " \
                  "gradient about cancel."
