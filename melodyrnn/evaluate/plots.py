"""Pictures for people: training curves, a piano roll, and metric histograms of two sets.

matplotlib (the `plots` extra) is imported inside each function and drawn with
its Agg canvas on a `Figure` of our own, never through pyplot, so nothing opens a window or
changes the global backend. Every PNG is written atomically (a temporary file in the same
folder, then a rename).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melodyrnn._files import atomic_write
from melodyrnn.core.melody import Melody
from melodyrnn.core.pitch import pitch_to_name
from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.evaluate.metrics import melody_features

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

GENERATED_COLOR, REFERENCE_COLOR = "tab:orange", "tab:blue"


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MelodyRNNError(f"plots need matplotlib, which cannot be imported ({exc}); "
                             "install it with `pip install matplotlib` (the `plots` extra of "
                             "melodyrnn)") from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_png: str | Path, force: bool) -> Path:
    """Write `fig` to `out_png` through a temporary file and a rename."""
    return atomic_write(out_png, lambda tmp: fig.savefig(tmp, format="png", dpi=120), force)


# --- training curves ---------------------------------------------------------------------------

_PANELS = (("loss", "loss (nats per token)"), ("bpn", "bits per note"),
           ("acc", "next-token accuracy"))
_SPLITS = (("train", "train", "tab:blue"), ("val", "valid", "tab:orange"),
           ("valid", "valid", "tab:orange"))


def read_epoch_metrics(metrics_csv: str | Path) -> dict[str, dict[int, float]]:
    """Lightning CSVLogger metrics.csv -> {column: {epoch: last value logged in that epoch}}.

    Rows hold a few columns each (train rows, validation rows, step rows); empty cells and a
    half-written last line (the file may be growing) are skipped.
    """
    path = Path(metrics_csv)
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the metrics file ({exc.strerror or exc})") from exc
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        try:
            epoch = int(float(row.get("epoch") or "nan"))
        except ValueError:
            continue
        for name, text in row.items():
            if name in (None, "epoch", "step") or not text:
                continue
            try:
                series.setdefault(name, {})[epoch] = float(text)
            except ValueError:
                continue
    return series


def plot_training_curves(metrics_csv: str | Path, out_png: str | Path, *,
                         force: bool = True) -> Path:
    """Loss, bits per note and accuracy per epoch, train vs valid, from a CSVLogger file."""
    series = read_epoch_metrics(metrics_csv)
    panels = [(key, label) for key, label in _PANELS
              if any(f"{split}_{key}" in series for split, _, _ in _SPLITS)]
    if not panels:
        raise ReadError(f"{metrics_csv}: no per-epoch train_/val_ loss, bpn or acc columns "
                        f"found (columns: {', '.join(sorted(series)) or 'none'})")
    fig = _figure(4.2 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for split, split_label, color in _SPLITS:
            points = series.get(f"{split}_{key}")
            if not points:
                continue
            epochs = sorted(points)
            ax.plot(epochs, [points[e] for e in epochs], marker="o", markersize=3,
                    color=color, label=split_label)
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    run = Path(metrics_csv).resolve().parent
    fig.suptitle(f"training curves: {run.parent.name}/{run.name}")
    return _save(fig, out_png, force)


# --- piano roll --------------------------------------------------------------------------------

def plot_piano_roll(melody: Melody, out_png: str | Path, *, title: str | None = None,
                    force: bool = True) -> Path:
    """The melody as bars on a pitch-by-time grid: bar lines, beats and pitch names."""
    from matplotlib.patches import Rectangle

    spb, spq = melody.steps_per_bar, melody.steps_per_quarter
    n_bars = max(1, -(-melody.end_step // spb))
    pitches = melody.pitches or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    fig = _figure(min(18.0, 3.0 + 1.1 * n_bars), min(8.0, 1.6 + 0.16 * (high - low)))
    ax = fig.add_subplot()
    for p in range(low, high + 1):  # shade the black keys' rows
        if p % 12 in (1, 3, 6, 8, 10):
            ax.axhspan(p - 0.5, p + 0.5, color="0.93", zorder=0)
    for note in melody.notes:
        ax.add_patch(Rectangle((note.start_step / spb, note.pitch - 0.4),
                               note.duration_steps / spb, 0.8, facecolor="tab:blue",
                               edgecolor="black", linewidth=0.6, zorder=2))
    for beat in range(0, n_bars * spb + 1, spq):
        bar_line = beat % spb == 0
        ax.axvline(beat / spb, color="0.35" if bar_line else "0.8",
                   linewidth=1.0 if bar_line else 0.5, zorder=1)
    ax.set_xlim(0, n_bars)
    ax.set_ylim(low - 0.5, high + 0.5)
    # every pitch is named while the rows are tall enough for the text, else the white keys
    ticks = [p for p in range(low, high + 1)
             if high - low <= 40 or p % 12 not in (1, 3, 6, 8, 10)]
    ax.set_yticks(ticks, [pitch_to_name(p) for p in ticks], fontsize=8)
    ax.set_xticks(range(n_bars), [str(b + 1) for b in range(n_bars)], fontsize=8)
    ax.set_xlabel("bar (numbered at its start)")
    num, den = melody.time_signature
    context = [f"{num}/{den}", f"{melody.qpm:g} qpm", f"{len(melody.notes)} notes"]
    if melody.key:
        context.insert(0, str(melody.key))
    ax.set_title(title if title is not None else
                 f"{melody.source or 'melody'}  ({', '.join(context)})", fontsize=10)
    return _save(fig, out_png, force)


# --- metric histograms -------------------------------------------------------------------------

def _bins(values: np.ndarray) -> np.ndarray:
    """Shared bin edges: one per integer for small integer features, else up to 20 bins."""
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        half = 0.5 if lo == round(lo) and abs(lo) > 1 else 0.05 * max(abs(lo), 1.0)
        return np.array([lo - half, lo + half])
    if np.all(values == np.round(values)) and hi - lo <= 40:
        return np.arange(lo - 0.5, hi + 1.5)
    return np.linspace(lo, hi, min(20, max(5, int(math.sqrt(len(values))))) + 1)


def plot_metric_histograms(generated: Sequence[Melody], reference: Sequence[Melody],
                           out_png: str | Path, *, labels: tuple[str, str] = ("generated",
                                                                               "reference"),
                           force: bool = True) -> Path:
    """One panel per scalar feature of `melody_features`: the two sets' distributions."""

    gen = [melody_features(m) for m in generated]
    ref = [melody_features(m) for m in reference]
    names = list(gen[0] if gen else ref[0] if ref else [])
    table: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name in names:
        g = np.array([f[name] for f in gen], dtype=float)
        r = np.array([f[name] for f in ref], dtype=float)
        g, r = g[np.isfinite(g)], r[np.isfinite(r)]
        if len(g) or len(r):  # a feature undefined everywhere (no keys known) is left out
            table.append((name, g, r))
    if not table:
        raise MelodyRNNError("plot_metric_histograms: no melodies with notes to plot")
    cols = min(4, len(table))
    rows = -(-len(table) // cols)
    fig = _figure(3.3 * cols, 2.5 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (name, g, r) in zip(axes, table, strict=False):
        edges = _bins(np.concatenate([g, r]))
        for values, label, color in ((r, labels[1], REFERENCE_COLOR),
                                     (g, labels[0], GENERATED_COLOR)):
            if len(values):
                ax.hist(values, bins=edges, density=True, alpha=0.45, color=color,
                        label=label, edgecolor=color)
        if len(edges) == 2:  # one value in both sets: say which, not a made-up scale
            ax.set_xticks([(edges[0] + edges[1]) / 2])
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_yticks([])
    for ax in axes[len(table):]:
        ax.set_visible(False)
    legend: dict[str, Artist] = {}  # label -> handle, from whichever panels hold each set
    for ax in axes[:len(table)]:
        legend.update(zip(*ax.get_legend_handles_labels()[::-1], strict=True))
    order = [label for label in labels if label in legend]
    fig.legend([legend[label] for label in order], order, loc="outside upper right", ncols=2,
               fontsize=9)
    fig.suptitle(f"{labels[0]} ({len(generated)} melodies) vs {labels[1]} "
                 f"({len(reference)} melodies)", x=0.02, ha="left", fontsize=11)
    return _save(fig, out_png, force)
