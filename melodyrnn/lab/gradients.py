"""`melodyrnn lab gradients`: how far back the gradient of a loss reaches through the states.

For each cell (tanh RNN, GRU, LSTM), at initialisation and after training, the loss at the last
step n of real valid windows is backpropagated once, and the norm of its gradient with respect
to the state at step n - k is read for k = 0..K. The lecture: in the linear case
h(t) = W h(t-1) the gradient k steps back is (W^T)^k times the one at n, so it shrinks like
sigma_max(W)^k when the largest singular value is below 1 and may grow above it; the gates of
an LSTM (and a GRU) keep a path along which it need not vanish. Beside the curves: the largest
singular value of each recurrent matrix (and of each gate's block), the RNN's spectral radius,
and the trained RNN with its W_hh rescaled to spectral radii 0.9, 1.0 and 1.1, with and without
tanh (the linear line is the lecture's (W^T)^k alone, so the gap is what saturation adds).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from melodyrnn.errors import ConfigError
from melodyrnn.lab.data import LabData
from melodyrnn.lab.results import LabResult, experiment_folder, figure, finish, save_figure
from melodyrnn.lab.train import BASE, TrainSettings, build_network, trained
from melodyrnn.models.network import CELLS, MelodyLSTM

NAME = "gradients"
TITLE = "Vanishing and exploding gradients"
SUMMARY = "how the gradient of a loss reaches back through RNN, GRU and LSTM states"

# torch's row blocks of weight_hh, in order (nn.LSTM: i, f, g, o; nn.GRU: r, z, n)
GATES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new"),
         "rnn": ()}
WARMUP = 27  # steps before n - K that set the state to a real one (a window of 128 for K=100)


@dataclass(frozen=True)
class CellOptions:
    """The networks compared: the cells, trained as BASE (`lab memory` probes the same ones)."""

    seed: int = field(default=0, metadata={"help": "seed of every network and batch order"})
    batches: int = field(default=BASE.batches, metadata={"help": "training batches per network"})
    hidden_size: int = field(default=128, metadata={"help": "units of each recurrent layer"})
    cells: tuple[str, ...] = field(default=("rnn", "gru", "lstm"),
                                   metadata={"help": "the cells compared (rnn, gru, lstm)"})


@dataclass(frozen=True)
class Options(CellOptions):
    """What `melodyrnn lab gradients` measures."""

    max_distance: int = field(default=100, metadata={
        "help": "K: the gradient is read at the states 0..K tokens before the loss"})
    distance: int = field(default=50, metadata={
        "help": "the distance in tokens at which the reading compares the cells"})
    windows: int = field(default=32, metadata={
        "help": "valid windows the gradient norms are averaged over"})
    radii: tuple[float, ...] = field(default=(0.9, 1.0, 1.1), metadata={
        "help": "spectral radii the trained RNN's W_hh is rescaled to"})


def run(data: LabData, out: Path, options: Options,
        say: Callable[[str], None] = print) -> LabResult:
    """Measure the gradient curves and spectra; writes OUT/gradients/gradients.json and its
    PNGs; returns the result."""
    began = time.perf_counter()
    _check(options)
    folder = experiment_folder(out, NAME)
    ids, targets = valid_windows(data, options.max_distance + 1 + WARMUP, options.windows)
    cells: dict[str, Any] = {}
    used: dict[str, Any] = {}
    rnn_net: MelodyLSTM | None = None
    for cell in options.cells:
        settings = cell_settings(options, cell)
        net, log = trained(data, settings)
        say(f"{NAME}: trained {cell} ({len(log.losses)} batches, {log.seconds:.1f} s, valid "
            f"{min(log.valid_bpn, default=math.nan):.2f} bits/note)")
        fresh = build_network(data, settings).eval()
        cells[cell] = {
            "init": curve(fresh, ids, targets, options.max_distance),
            "trained": curve(net, ids, targets, options.max_distance),
            "spectrum": {"init": spectrum(fresh), "trained": spectrum(net)},
            "training": {"batches": len(log.losses), "seconds": round(log.seconds, 2),
                         "valid_bpn": log.valid_bpn, "best_epoch": log.best_epoch,
                         "diverged_at": log.diverged_at}}
        used[cell] = settings.to_dict()
        if cell == "rnn":
            rnn_net = net
    rescaled = {} if rnn_net is None else {
        f"{rho:g}": rescaled_curves(rnn_net, ids, targets, options.max_distance, rho)
        for rho in options.radii}
    d = options.distance
    numbers: dict[str, Any] = {
        "distances": list(range(options.max_distance + 1)), "distance": d,
        "windows": int(ids.size(0)), "window_length": int(ids.size(1)),
        "ratio_at_distance": {c: {p: cells[c][p]["relative"][d] for p in ("init", "trained")}
                              for c in cells},
        "cells": cells, "rescaled_rnn": rescaled}
    plots = [save_figure(draw(numbers), folder / "gradients.png")]
    result = LabResult(NAME, TITLE, numbers, plots, reading(numbers),
                       {"options": dataclasses.asdict(options), "train": used})
    return finish(folder, result, data.describe(), options.seed, began)


def check_cells(cells: tuple[str, ...]) -> None:
    """ConfigError unless --cells names one or more known cells."""
    if not cells:
        raise ConfigError("--cells names no cell; give one or more of rnn, gru, lstm")
    for cell in cells:
        if cell not in CELLS:
            raise ConfigError(f"cell '{cell}' is not one of {', '.join(CELLS)}")


def _check(options: Options) -> None:
    """ConfigError for options that cannot be measured."""
    check_cells(options.cells)
    if options.max_distance < 1:
        raise ConfigError(f"--max-distance has to be at least 1, got {options.max_distance}")
    if not 0 <= options.distance <= options.max_distance:
        raise ConfigError(f"--distance {options.distance} has to lie in 0..--max-distance "
                          f"({options.max_distance})")
    if any(not rho > 0 for rho in options.radii):
        raise ConfigError(f"--radii has to hold positive spectral radii, got {options.radii}")


def cell_settings(options: CellOptions, cell: str) -> TrainSettings:
    """BASE with this experiment's cell, size, length and seed (shared with `memory`)."""
    return dataclasses.replace(BASE, cell=cell, batches=options.batches,  # type: ignore[arg-type]
                               hidden_size=options.hidden_size, seed=options.seed)


def valid_windows(data: LabData, length: int, count: int) -> tuple[Tensor, Tensor]:
    """Up to `count` windows (B, length) of the valid stream, evenly spread, and the (B,)
    target after each (never a BOS: the first token of a melody is not predicted)."""
    stream = np.asarray(data.splits["valid"].tokens, dtype=np.int64)
    if len(stream) < length + 1:
        raise ConfigError(f"the valid split has {len(stream)} tokens, too few for a window of "
                          f"{length}; lower --max-distance")
    spread = np.unique(np.linspace(0, len(stream) - length - 1, count).round().astype(int))
    starts = [s for s in spread if stream[s + length] not in (data.bos_id, data.pad_id)]
    if not starts:
        raise ConfigError(f"no window of {length} valid tokens ends before a token to predict; "
                          "give more --windows")
    ids = torch.from_numpy(np.stack([stream[s:s + length] for s in starts]))
    return ids, torch.from_numpy(stream[[s + length for s in starts]])


def state_gradients(net: MelodyLSTM, ids: Tensor, targets: Tensor, max_distance: int
                    ) -> tuple[Tensor, Tensor]:
    """Norms (K+1, B) of d(loss at the last step)/d(state k steps earlier), k = 0..K, and the
    gradient (B, H) at the top layer's h of the last step.

    The state is what a step hands to the next: h for the RNN and GRU, (h, c) for the LSTM,
    whose norm is that of h and c together (c at k = 0 gets none: the loss reads h alone).
    """
    # in float64: a float32 tanh rounds to exactly 1 and its slope to 0 on saturated units,
    # and 50 steps back the gradient can lie below the smallest float32
    net = copy.deepcopy(net).double().eval()
    x = net.encoder(ids) if net.encoder is not None \
        else F.one_hot(ids, net.config.vocab_size).double()  # (B, T, E)
    first = ids.size(1) - 1 - max_distance
    with torch.no_grad():
        _, state = net.rnn(x[:, :first + 1])
    parts = list(state) if isinstance(state, tuple) else [state]  # each (L, B, H)
    parts = [p.detach().requires_grad_() for p in parts]
    held = [parts]
    for t in range(first + 1, ids.size(1)):
        _, state = net.rnn(x[:, t:t + 1], tuple(parts) if len(parts) == 2 else parts[0])
        parts = list(state) if isinstance(state, tuple) else [state]
        held.append(parts)
    loss = F.cross_entropy(net.decoder(parts[0][-1]), targets, reduction="sum")  # (B, V) logits
    leaves = [p for step in held for p in step]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    none = torch.zeros(ids.size(0), dtype=torch.float64)
    squares = [none if g is None else g.pow(2).sum(dim=(0, 2)) for g in grads]  # each (B,)
    per_step = torch.stack(squares).view(len(held), len(parts), -1).sum(1).sqrt()  # (K+1, B)
    top = grads[-len(parts)]
    assert top is not None
    return per_step.flip(0).detach(), top[-1].detach()


def summarise(norms: Tensor) -> dict[str, list[float]]:
    """Mean, median and geometric mean over windows of (K+1, B) norms, and the mean relative to
    k = 0 (`relative`) and the geometric mean of each window's ratio (`relative_geomean`)."""
    logs = norms.clamp_min(1e-300).log()
    mean = norms.mean(1)
    return {"mean": mean.tolist(), "median": norms.median(1).values.tolist(),
            "geomean": logs.mean(1).exp().tolist(),
            "relative": (mean / mean[0].clamp_min(1e-300)).tolist(),
            "relative_geomean": (logs - logs[0]).mean(1).exp().tolist()}


def curve(net: MelodyLSTM, ids: Tensor, targets: Tensor, max_distance: int
          ) -> dict[str, Any]:
    """The gradient norms of `state_gradients`, summarised over windows (for the RNN with
    its mean tanh slope)."""
    out: dict[str, Any] = summarise(state_gradients(net, ids, targets, max_distance)[0])
    if net.config.cell == "rnn":
        out["tanh_slope"] = tanh_slope(net, ids, max_distance)
    return out


@torch.no_grad()
def tanh_slope(net: MelodyLSTM, ids: Tensor, max_distance: int) -> float:
    """Mean of tanh' = 1 - h^2 over the RNN's units and the last K+1 steps of the windows:
    the factor by which saturation shrinks each step's gradient beyond W_hh's own."""
    x = net.encoder(ids) if net.encoder is not None \
        else F.one_hot(ids, net.config.vocab_size).float()  # (B, T, E)
    output, _ = net.eval().rnn(x)  # (B, T, H)
    return float((1 - output[:, -1 - max_distance:].pow(2)).mean())


def spectral_radius(matrix: Tensor) -> float:
    """Largest |eigenvalue| of a square matrix."""
    return float(torch.linalg.eigvals(matrix.double()).abs().max())


@torch.no_grad()
def spectrum(net: MelodyLSTM) -> dict[str, Any]:
    """Largest singular value of weight_hh (first layer), of each gate's block, and for the
    RNN the spectral radius."""
    weight = net.rnn.weight_hh_l0.detach().double()  # (G H, H)
    blocks = weight.chunk(max(1, len(GATES[net.config.cell])), dim=0)
    out: dict[str, Any] = {
        "sigma_max": float(torch.linalg.svdvals(weight)[0]),
        "gates": {g: float(torch.linalg.svdvals(b)[0])
                  for g, b in zip(GATES[net.config.cell], blocks, strict=False)}}
    if net.config.cell == "rnn":
        out["spectral_radius"] = spectral_radius(weight)
    return out


def rescaled_curves(net: MelodyLSTM, ids: Tensor, targets: Tensor, max_distance: int,
                    radius: float) -> dict[str, list[float] | float]:
    """The RNN with each W_hh scaled to spectral radius `radius` (a copy): its gradient curve
    with tanh, and the linear case ||(W^T)^k g|| from the same gradient g at k = 0."""
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        for layer in range(scaled.config.num_layers):
            weight = getattr(scaled.rnn, f"weight_hh_l{layer}")
            weight.mul_(radius / spectral_radius(weight))
    norms, top = state_gradients(scaled, ids, targets, max_distance)
    weight = scaled.rnn.weight_hh_l0.detach().double()  # (H, H)
    linear, g = [], top  # (B, H): the row form of W^T g is g W
    for _ in range(max_distance + 1):
        linear.append(g.norm(dim=1))
        g = g @ weight
    lin = torch.stack(linear).mean(1)
    return {**summarise(norms), "linear": (lin / lin[0].clamp_min(1e-300)).tolist(),
            "tanh_slope": tanh_slope(scaled, ids, max_distance),
            "sigma_max": float(torch.linalg.svdvals(weight.double())[0])}


def draw(numbers: dict[str, Any]) -> Any:
    """Curves per cell, the rescaled RNN, and the singular values, side by side."""
    fig = figure(16, 4.8)
    left, middle, right = fig.subplots(1, 3, width_ratios=(1.1, 1.1, 1))
    k, d = numbers["distances"], numbers["distance"]
    for i, (cell, values) in enumerate(numbers["cells"].items()):
        left.plot(k, values["trained"]["relative"], color=f"C{i}", label=f"{cell}, trained")
        left.plot(k, values["init"]["relative"], color=f"C{i}", ls="--", label=f"{cell}, init")
    rescaled = numbers["rescaled_rnn"]
    if "rnn" in numbers["cells"]:
        middle.plot(k, numbers["cells"]["rnn"]["trained"]["relative"], color="0.5", lw=2.5,
                    alpha=0.5, label="rnn as trained")
    for i, (rho, values) in enumerate(rescaled.items()):
        middle.plot(k, values["relative"], color=f"C{i + 3}", label=f"radius {rho}, tanh")
        middle.plot(k, values["linear"], color=f"C{i + 3}", ls=":",
                    label=f"radius {rho}, linear (W^T)^k")
    for ax, title in ((left, "Gradient reaching back, per cell"),
                      (middle, "Tanh RNN, W_hh rescaled")):
        ax.set_yscale("log")
        ax.axvline(d, color="0.7", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("k: tokens between the state and the loss")
        ax.set_ylabel("gradient norm at n-k / at n (mean over windows)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7.5, ncol=1 if ax is left else 2)
    if not rescaled:
        middle.text(0.5, 0.5, "no rnn among --cells", ha="center", transform=middle.transAxes)
    _draw_spectra(right, numbers["cells"])
    return fig


def _draw_spectra(ax: Any, cells: dict[str, Any]) -> None:
    """Bars of the largest singular value of W_hh and of its gate blocks, init and trained."""
    labels, init, final = [], [], []
    for cell, values in cells.items():
        spectra = values["spectrum"]
        labels.append(f"{cell} W_hh")
        init.append(spectra["init"]["sigma_max"])
        final.append(spectra["trained"]["sigma_max"])
        for gate in spectra["init"]["gates"]:
            labels.append(f"{cell} {gate}")
            init.append(spectra["init"]["gates"][gate])
            final.append(spectra["trained"]["gates"][gate])
    y = np.arange(len(labels))
    ax.barh(y - 0.2, init, height=0.4, color="0.7", label="init")
    ax.barh(y + 0.2, final, height=0.4, color="C0", label="trained")
    ax.axvline(1.0, color="C3", lw=0.8, ls="--", label="1: the lecture's threshold")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("largest singular value of the recurrent weights")
    ax.set_title("sigma_max of W_hh and its gate blocks")
    ax.set_xlim(0, 1.45 * max(init + final + [1.0]))  # room for the legend beside the bars
    ax.legend(fontsize=7.5, loc="best")


def reading(numbers: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers: RNN against the gated cells, training, rescaling."""
    d, ratios, cells = numbers["distance"], numbers["ratio_at_distance"], numbers["cells"]
    out = []
    for gated in ("lstm", "gru"):
        if "rnn" in ratios and gated in ratios:
            out.append(_compare(d, ratios["rnn"]["trained"], gated, ratios[gated]["trained"]))
    if "rnn" in cells:
        out.append(_training(d, cells["rnn"], ratios["rnn"]))
        out.extend(_rescaled(d, numbers["rescaled_rnn"]))
    if not out:
        out = [f"After training, the gradient {d} tokens back is {ratios[c]['trained']:.1e} of "
               f"its value at the step itself for the {c}." for c in ratios]
    return out


def _compare(d: int, rnn: float, gated: str, other: float) -> str:
    """RNN against one gated cell at distance d, after training."""
    orders = math.log10(max(other, 1e-300) / max(rnn, 1e-300))
    text = (f"After training, the RNN's gradient {d} tokens back is {rnn:.1e} of its value at "
            f"the step itself, the {gated.upper()}'s {other:.1e}: ")
    if orders >= 1:
        return text + f"{orders:.1f} orders of magnitude more signal reaches back through the " \
                      f"{gated.upper()}, as the lecture says."
    if orders > -1:
        return text + f"within one order of magnitude ({orders:+.1f}), so on these melodies " \
                      f"the {gated.upper()}'s gates keep no better path than the RNN, which the " \
                      "lecture would not predict."
    return text + f"the RNN keeps {-orders:.1f} orders of magnitude more, the opposite of " \
                  "what the lecture predicts for gated cells."


def _training(d: int, rnn: dict[str, Any], ratio: dict[str, float]) -> str:
    """How training moved the RNN's spectrum and its gradient, against the sigma < 1 bound."""
    before, after = rnn["spectrum"]["init"], rnn["spectrum"]["trained"]
    text = (f"Training moved the RNN's largest singular value of W_hh from "
            f"{before['sigma_max']:.2f} to {after['sigma_max']:.2f} (spectral radius "
            f"{before['spectral_radius']:.2f} to {after['spectral_radius']:.2f}) and its "
            f"gradient {d} back from {ratio['init']:.1e} to {ratio['trained']:.1e}; ")
    if after["sigma_max"] < 1:
        return text + f"with sigma_max below 1 the lecture bounds it by " \
                      f"{after['sigma_max']:.2f}^{d} = {after['sigma_max'] ** d:.1e}, and it " \
                      "vanishes as the bound says."
    return text + "with sigma_max above 1 the lecture's bound no longer forces it to vanish, " \
                  + ("yet it still shrinks: the slope of tanh, below 1 wherever a unit is " \
                     "driven, does the shrinking." if ratio["trained"] < 1 else
                     "and it does not.")


def _rescaled(d: int, rescaled: dict[str, Any]) -> list[str]:
    """What rescaling W_hh to each spectral radius does, with tanh and in the linear case."""
    if not rescaled:
        return []
    parts = [f"radius {rho}: {v['relative'][d]:.1e} with tanh (mean slope 1-h^2 "
             f"{v['tanh_slope']:.2f}), {v['linear'][d]:.1e} linear"
             for rho, v in rescaled.items()]
    out = [f"With the trained W_hh rescaled, the gradient {d} tokens back is " +
           "; ".join(parts) + "."]
    low, high = min(rescaled, key=float), max(rescaled, key=float)
    lo, hi = rescaled[low]["relative"][d], rescaled[high]["relative"][d]
    if float(high) > 1 and hi > 1:
        out.append(f"Above radius 1 ({high}) the tanh RNN's gradient grows with distance, it "
                   "explodes as the lecture warns.")
    elif float(high) > 1:
        out.append(f"At radius {high} the linear case grows ({rescaled[high]['linear'][d]:.1e}) "
                   f"but the tanh RNN's gradient still shrinks ({hi:.1e}): saturated units "
                   "(tanh' < 1) damp what the linear lecture case would let explode.")
    if hi > lo:
        out.append(f"A larger radius keeps more gradient ({hi / max(lo, 1e-300):.1e} times "
                   f"more at {high} than at {low}), the lecture's rule.")
    else:
        out.append(f"A larger radius does not keep more gradient here ({hi:.1e} at {high} "
                   f"against {lo:.1e} at {low}), against the lecture's rule: the trained input "
                   f"weights already drive the units into saturation, and a larger W_hh "
                   f"saturates them further (mean slope {rescaled[low]['tanh_slope']:.2f} to "
                   f"{rescaled[high]['tanh_slope']:.2f}).")
    return out
