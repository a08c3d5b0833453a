"""`melodyrnn lab memory`: how far back each cell's state still holds the notes of a melody.

The trained language models of `gradients` (the same settings, so `lab all` trains them once)
are run over every train and valid melody from its BOS. At each note, a linear read-out
(multinomial logistic regression, full-batch L-BFGS) is fitted on the train melodies' states to
name the pitch of the note d notes earlier, and scored on the valid melodies. The state is what
a step hands to the next: h for the RNN and GRU, h and c together for the LSTM. Three baselines:
the most frequent pitch at that distance; the pitch most often found d notes before the current
pitch (what a model without memory could know, since tunes keep to a key); and the same probe
on the untrained network's states (a random recurrent network holds some memory too: the echo
state). Where the vocabulary has TimeSig_ or Key_ tokens after BOS, the probe also recalls them
from the state t tokens later (prefix recall); essen-kinder's has none, which the numbers say.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodyrnn.errors import ConfigError
from melodyrnn.lab.data import LabData
from melodyrnn.lab.gradients import CellOptions, cell_settings, check_cells
from melodyrnn.lab.probes import prefix_recall, probe_accuracy, states
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import build_network, trained
from melodyrnn.models.network import MelodyLSTM

NAME = "memory"
TITLE = "Long-term memory of RNN, GRU and LSTM"
SUMMARY = "how many notes back a linear probe still reads the pitch from each cell's state"

MARGIN = 0.02  # accuracy points between two probes that count as a difference


@dataclass(frozen=True)
class Options(CellOptions):
    """What `melodyrnn lab memory` probes."""

    distances: tuple[int, ...] = field(default=(1, 2, 4, 8, 16, 32), metadata={
        "help": "notes back whose pitch the probe names from the state"})
    min_positions: int = field(default=50, metadata={
        "help": "valid notes a distance needs to be scored (longer ones are left out)"})
    probe_steps: int = field(default=100, metadata={
        "help": "L-BFGS iterations of each linear probe"})
    l2: float = field(default=1e-4, metadata={"help": "weight decay of the probe"})


@dataclass
class Positions:
    """Note positions of a split's melodies: which melody, where, and the pitch d notes back."""

    melody: Tensor  # (P,) melody index of each probed note
    step: Tensor  # (P,) token position of the note in its melody
    targets: dict[int, Tensor]  # distance -> (P,) pitch token d notes back (-1: none)
    tokens_back: dict[int, list[int]]  # distance -> tokens between the two notes


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    """Probe each cell's state for past pitches; writes OUT/memory/memory.json and its PNG;
    returns the result."""
    began = time.perf_counter()
    _check(options)
    folder = experiment_folder(out, NAME)
    melodies = {s: data.melodies(s) for s in ("train", "valid")}
    # distance 0 is the current note itself: the memoryless baseline guesses from it
    positions = {s: note_positions(data, melodies[s], (0, *options.distances))
                 for s in melodies}
    distances = [d for d in options.distances
                 if int((positions["valid"].targets[d] >= 0).sum()) >= options.min_positions
                 and int((positions["train"].targets[d] >= 0).sum()) > 0]
    if not distances:
        raise ConfigError(f"no distance of --distances {options.distances} has "
                          f"{options.min_positions} valid notes that far into a melody; give "
                          "shorter distances or lower --min-positions")
    cells, used, nets = {}, {}, {}
    for cell in options.cells:
        settings = cell_settings(options, cell)
        net, log = trained(data, settings)
        say(f"{NAME}: trained {cell} ({len(log.losses)} batches, {log.seconds:.1f} s, valid "
            f"{min(log.valid_bpn, default=math.nan):.2f} bits/note)")
        cells[cell] = probe_cell(data, net, build_network(data, settings), melodies, positions,
                                 distances, options)
        used[cell], nets[cell] = settings.to_dict(), net
    numbers: dict[str, Any] = {
        "distances": distances, "unit": "notes",
        "left_out": [d for d in options.distances if d not in distances],
        "positions": {s: {f"{d}": int((positions[s].targets[d] >= 0).sum()) for d in distances}
                      for s in positions},
        "tokens_back": {f"{d}": float(np.mean(positions["valid"].tokens_back[d]))
                        for d in distances},
        "baselines": baselines(positions, distances), "cells": cells}
    numbers["memoryless_baseline"] = memoryless(numbers)
    numbers["margin"] = margins(numbers)
    numbers["reach"] = {c: {v: reach(numbers, cells[c][v]) for v in cells[c]} for c in cells}
    numbers["prefix"] = prefix_recall(data, nets, melodies, options.probe_steps, options.l2)
    plots = [save_figure(draw(numbers), folder / "memory.png")]
    result = LabResult(NAME, TITLE, numbers, plots, reading(numbers),
                       {"options": dataclasses.asdict(options), "train": used})
    return finish(folder, result, data.describe(), options.seed, began)


def _check(options: Options) -> None:
    """ConfigError for options that cannot be probed."""
    check_cells(options.cells)
    if not options.distances or min(options.distances) < 1:
        raise ConfigError(f"--distances has to hold distances of 1 note or more, got "
                          f"{options.distances}")


def note_positions(data: LabData, melodies: list[np.ndarray], distances: tuple[int, ...]
                   ) -> Positions:
    """Every note of the melodies (the token that starts it), with the pitch d notes back."""
    is_note = data.is_note.numpy()
    melody: list[int] = []
    step: list[int] = []
    targets: dict[int, list[int]] = {d: [] for d in distances}
    back: dict[int, list[int]] = {d: [] for d in distances}
    for m, ids in enumerate(melodies):
        where = np.flatnonzero(is_note[ids])
        for j, position in enumerate(where):
            melody.append(m)
            step.append(int(position))
            for d in distances:
                targets[d].append(int(ids[where[j - d]]) if j >= d else -1)
                if j >= d:
                    back[d].append(int(position - where[j - d]))
    return Positions(torch.tensor(melody, dtype=torch.long), torch.tensor(step, dtype=torch.long),
                     {d: torch.tensor(t, dtype=torch.long) for d, t in targets.items()}, back)


def probe_cell(data: LabData, net: MelodyLSTM, fresh: MelodyLSTM,
               melodies: dict[str, list[np.ndarray]], positions: dict[str, Positions],
               distances: list[int], options: Options) -> dict[str, Any]:
    """Probe accuracy at each distance for the trained and the untrained network (and, for an
    LSTM, the trained h alone)."""
    variants = {"trained": (net, False), "untrained": (fresh, False)}
    if net.config.cell == "lstm":
        variants["trained_h_only"] = (net, True)
    targets = {s: torch.stack([positions[s].targets[d] for d in distances], dim=1)
               for s in positions}  # (P, D)
    out: dict[str, Any] = {}
    for name, (model, h_only) in variants.items():
        feats = {s: states(model, melodies[s], data.pad_id, h_only) for s in melodies}
        at = {s: feats[s][positions[s].melody, positions[s].step] for s in feats}  # (P, S)
        out[name] = probe_accuracy(at["train"], targets["train"], at["valid"],
                                   targets["valid"], options.probe_steps, options.l2)
    return out


def baselines(positions: dict[str, Positions], distances: list[int]) -> dict[str, list[float]]:
    """Valid accuracy of the most frequent train pitch at each distance, and of the pitch most
    often found d notes before the current note's pitch (no memory: the key alone)."""
    train, valid = positions["train"], positions["valid"]
    majority, current = [], []
    for d in distances:
        keep_t, keep_v = train.targets[d] >= 0, valid.targets[d] >= 0
        back_t, back_v = train.targets[d][keep_t].tolist(), valid.targets[d][keep_v].tolist()
        now_t, now_v = train.targets[0][keep_t].tolist(), valid.targets[0][keep_v].tolist()
        top = Counter(back_t).most_common(1)[0][0]
        majority.append(float(np.mean([y == top for y in back_v])))
        given: dict[int, Counter[int]] = {}
        for now, past in zip(now_t, back_t, strict=True):
            given.setdefault(now, Counter())[past] += 1
        guess = [given[now].most_common(1)[0][0] if now in given else top for now in now_v]
        current.append(float(np.mean([g == y for g, y in zip(guess, back_v, strict=True)])))
    return {"majority": majority, "current_pitch": current}


def memoryless(numbers: dict[str, Any]) -> list[float]:
    """The better of the two baselines without memory at each distance."""
    base = numbers["baselines"]
    return [max(a, b) for a, b in zip(base["majority"], base["current_pitch"], strict=True)]


def margins(numbers: dict[str, Any]) -> list[float]:
    """Two standard errors of the better memoryless baseline's valid accuracy, per distance:
    what a probe has to beat it by to count as memory."""
    counts = [numbers["positions"]["valid"][f"{d}"] for d in numbers["distances"]]
    return [2 * math.sqrt(max(b * (1 - b), 1e-4) / n)
            for b, n in zip(memoryless(numbers), counts, strict=True)]


def above(numbers: dict[str, Any], accuracies: list[float]) -> list[bool]:
    """At each distance, whether a probe beats both memoryless baselines by the margin."""
    return [acc > base + margin for acc, base, margin in
            zip(accuracies, numbers["memoryless_baseline"], numbers["margin"], strict=True)]


def reach(numbers: dict[str, Any], accuracies: list[float]) -> int | None:
    """The longest distance of the grid up to which a probe beats both baselines without
    memory by two standard errors (None: not even at the first)."""
    last = None
    for d, ok in zip(numbers["distances"], above(numbers, accuracies), strict=True):
        if not ok:
            break
        last = d
    return last


def draw(numbers: dict[str, Any]) -> Any:
    """Probe accuracy against distance per cell, with the baselines (and the prefix recall)."""
    prefix = numbers["prefix"]
    fig = figure(12 if "skipped" not in prefix else 8, 4.8)
    axes = fig.subplots(1, 1 if "skipped" in prefix else 2, squeeze=False)[0]
    ax, d = axes[0], numbers["distances"]
    for i, (cell, values) in enumerate(numbers["cells"].items()):
        ax.plot(d, _pct(values["trained"]), "o-", color=f"C{i}", label=f"{cell}, trained")
        ax.plot(d, _pct(values["untrained"]), "s--", color=f"C{i}", ms=4, alpha=0.7,
                label=f"{cell}, untrained (echo state)")
        if "trained_h_only" in values:
            ax.plot(d, _pct(values["trained_h_only"]), "^:", color=f"C{i}", ms=4,
                    label=f"{cell}, trained, h alone")
    base = numbers["baselines"]
    ax.plot(d, _pct(base["current_pitch"]), "-.", color="0.3", label="guess from current pitch")
    ax.plot(d, _pct(base["majority"]), ":", color="k", label="most frequent pitch")
    ax.set_xscale("log", base=2)
    ax.set_xticks(d, [f"{x}\n~{numbers['tokens_back'][f'{x}']:.0f} tok" for x in d])
    ax.set_xlabel("d: notes back (and mean tokens back)")
    ax.set_ylabel("valid accuracy naming the pitch d notes back (%)")
    ax.set_title("What the state still holds of past pitches")
    ax.set_ylim(0, 102)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7.5, ncol=2, loc="best")
    if "skipped" not in prefix:
        _draw_prefix(axes[1], prefix, list(numbers["cells"]))
    return fig


def _draw_prefix(ax: Any, prefix: dict[str, Any], cells: list[str]) -> None:
    """Prefix recall: accuracy naming the meter or key token t tokens after it."""
    steps = prefix["steps"]
    for j, kind in enumerate(k for k in prefix if k != "steps"):
        style = "-" if j == 0 else "--"
        for i, cell in enumerate(cells):
            ax.plot(steps, _pct(prefix[kind][cell]), style, marker="o", color=f"C{i}",
                    label=f"{kind}, {cell}")
        ax.plot(steps, _pct(prefix[kind]["majority"]), style, color="k", lw=0.8,
                label=f"{kind}, most frequent")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("t: tokens after the prefix token")
    ax.set_ylabel("valid accuracy (%)")
    ax.set_title("Recalling the meter / key token")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7.5)


def _notes(n: int) -> str:
    """'1 note', '4 notes'."""
    return f"{n} note" if n == 1 else f"{n} notes"


def _pct(values: list[float | None]) -> list[float]:
    """Fractions as percentages, None as NaN (a gap in the line)."""
    return [math.nan if v is None else 100 * v for v in values]


def reading(numbers: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers: each cell's reach, the cells compared, the echo
    state, the LSTM's c, and the prefix recall."""
    out = [_cell_sentence(numbers, cell) for cell in numbers["cells"]]
    reaches = {c: numbers["reach"][c]["trained"] or 0 for c in numbers["cells"]}
    if "rnn" in reaches and len(reaches) > 1:
        out.append(_compare(reaches))
    out.append(_echo(numbers))
    lstm = numbers["cells"].get("lstm")
    if lstm is not None and len(numbers["distances"]) > 1:
        i = len(numbers["distances"]) // 2
        d, both, h = numbers["distances"][i], lstm["trained"][i], lstm["trained_h_only"][i]
        out.append(f"At {d} notes back the LSTM's h alone names the pitch at {100 * h:.0f}%, "
                   f"h and c together at {100 * both:.0f}%: " +
                   ("the cell state c holds memory that h does not show."
                    if both > h + MARGIN else "c adds little that h does not already show."))
    prefix = numbers["prefix"]
    if "skipped" in prefix:
        out.append(f"Prefix recall (meter or key token) was not measured: {prefix['skipped']}.")
    return out


def _cell_sentence(numbers: dict[str, Any], cell: str) -> str:
    """Where one cell's trained probe falls to the baselines without memory."""
    acc, base = numbers["cells"][cell]["trained"], numbers["baselines"]
    dist, best = numbers["distances"], numbers["memoryless_baseline"]
    text = (f"The {cell.upper()}'s state names the pitch {_notes(dist[0])} back at "
            f"{100 * acc[0]:.0f}% of valid notes (most frequent pitch "
            f"{100 * base['majority'][0]:.0f}%, guess from the current pitch "
            f"{100 * base['current_pitch'][0]:.0f}%)")
    last, ok = numbers["reach"][cell]["trained"], above(numbers, acc)
    if last is None:
        return text + "; not even there does it beat both by two standard errors."
    i = dist.index(last)
    if i == len(dist) - 1:
        return text + f"; it beats both out to {last} notes, the longest measured " \
                      f"({100 * acc[i]:.0f}% against {100 * best[i]:.0f}%)."
    text += f"; it beats both by two standard errors up to {last} notes (about " \
            f"{numbers['tokens_back'][f'{last}']:.0f} tokens); at {dist[i + 1]} it is at " \
            f"{100 * acc[i + 1]:.0f}% against {100 * best[i + 1]:.0f}%, within the noise"
    again = [j for j in range(i + 1, len(dist)) if ok[j]]
    if again:
        j = again[-1]
        return text + f", though at {dist[j]} notes it is above again ({100 * acc[j]:.0f}% " \
                      f"against {100 * best[j]:.0f}%)."
    return text + "."


def _compare(reaches: dict[str, int]) -> str:
    """The gated cells' reach against the RNN's, and whether that is the lecture's claim."""
    listed = ", ".join(f"{c.upper()} {n}" for c, n in reaches.items())
    gated = max(n for c, n in reaches.items() if c != "rnn")
    if gated > reaches["rnn"]:
        return f"Notes back each trained cell still holds the pitch: {listed}; the gated " \
               "cells keep it longer than the RNN, as the lecture says."
    if gated == reaches["rnn"]:
        return f"Notes back each trained cell still holds the pitch: {listed}; on these " \
               "melodies no gated cell keeps it longer than the RNN, which the lecture would " \
               "not predict."
    return f"Notes back each trained cell still holds the pitch: {listed}; the RNN keeps it " \
           "longer than the gated cells, the opposite of the lecture's claim."


def _echo(numbers: dict[str, Any]) -> str:
    """The untrained networks (echo states) against the trained ones."""
    cells, d0 = numbers["cells"], numbers["distances"][0]
    pairs = ", ".join(f"{c.upper()} {100 * v['untrained'][0]:.0f}% untrained against "
                      f"{100 * v['trained'][0]:.0f}% trained" for c, v in cells.items())
    reach_of = ", ".join(f"{c.upper()} {numbers['reach'][c]['untrained'] or 0}"
                         for c in cells)
    text = f"{_notes(d0).capitalize()} back: {pairs}; untrained, the states hold the pitch " \
           f"to {reach_of} notes. "
    if sum(v["untrained"][0] > v["trained"][0] + MARGIN for v in cells.values()) * 2 > len(cells):
        return text + "A random network with small weights is nearly linear and keeps a " \
                      "readable echo of its last inputs; training a language model reshapes " \
                      "the state to predict the next token, not to record the past, so the " \
                      "trained states hold less of it in a linearly readable form."
    if sum(v["trained"][0] > v["untrained"][0] + MARGIN for v in cells.values()) * 2 > len(cells):
        return text + "Training adds memory beyond the echo state that a random recurrent " \
                      "network already holds."
    return text + "Trained and untrained states hold about as much of the last pitch: what " \
                  "the probe reads there is the echo of the input, not something learnt."
