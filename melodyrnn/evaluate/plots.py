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
from melodyrnn.evaluate.metrics import SCALAR_FEATURES, interval_histogram, melody_features

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GENERATED_COLOR, REFERENCE_COLOR = "tab:orange", "tab:blue"
INTERVAL_CLIP = 12  # leaps wider than an octave count as an octave


def figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MelodyRNNError(f"plots need matplotlib, which cannot be imported ({exc}); "
                             'install it with `pip install "melodyrnn[plots]"`') from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, out_png: str | Path, force: bool = True, dpi: int = 120) -> Path:
    """Write `fig` to `out_png` through a temporary file and a rename."""
    return atomic_write(out_png, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi), force)


# --- training curves ---------------------------------------------------------------------------

_PANELS = (("loss", "loss (nats per token)"), ("bpn", "bits per note"),
           ("acc", "next-token accuracy"))
_SPLITS = (("train", "train", "tab:blue"), ("val", "valid", "tab:orange"),
           ("valid", "valid", "tab:orange"))
STEP_COLUMNS = ("train_grad_norm",)  # logged every optimizer step, plotted against the step


def _read_rows(metrics_csv: str | Path) -> list[dict[str | None, str | None]]:
    path = Path(metrics_csv)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the metrics file ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReadError(f"{path}: not a metrics.csv written by `melodyrnn fit` "
                        f"({type(exc).__name__}: {exc})") from exc


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_epoch_metrics(metrics_csv: str | Path) -> dict[str, dict[int, float]]:
    """Lightning CSVLogger metrics.csv -> {column: {epoch: last value logged in that epoch}}.

    Rows hold a few columns each (train rows, validation rows, step rows); empty cells and a
    half-written last line (the file may be growing) are skipped.
    """
    series: dict[str, dict[int, float]] = {}
    for row in _read_rows(metrics_csv):
        epoch = _number(row.get("epoch"))
        if epoch is None:
            continue
        for name, text in row.items():
            value = _number(text) if isinstance(text, str) else None
            if name in (None, "epoch", "step") or value is None:
                continue
            series.setdefault(str(name), {})[int(epoch)] = value
    return series


def read_step_metrics(metrics_csv: str | Path,
                      columns: Sequence[str] = STEP_COLUMNS) -> dict[str, tuple[list[int],
                                                                             list[float]]]:
    """{column: (optimizer steps, values)} of the per-step `columns` of a metrics.csv."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for row in _read_rows(metrics_csv):
        step = _number(row.get("step"))
        if step is None:
            continue
        for name in columns:
            value = _number(row.get(name))
            if value is not None:
                steps, values = series.setdefault(name, ([], []))
                steps.append(int(step))
                values.append(value)
    return series


def _best_epoch(series: dict[str, dict[int, float]]) -> int | None:
    """The epoch of the lowest validation loss, the one a best checkpoint keeps."""
    points = series.get("val_loss") or series.get("valid_loss")
    return min(points, key=points.__getitem__) if points else None


def _plot_epoch_panel(ax: Axes, series: dict[str, dict[int, float]], key: str, label: str,
                      best: int | None) -> None:
    from matplotlib.ticker import MaxNLocator

    for split, split_label, color in _SPLITS:
        points = series.get(f"{split}_{key}")
        if not points:
            continue
        epochs = sorted(points)
        ax.plot(epochs, [points[e] for e in epochs], marker="o", markersize=3,
                color=color, label=split_label)
    if best is not None:
        ax.axvline(best, color="0.4", linestyle=":", linewidth=1.0,
                   label=f"lowest valid loss (epoch {best})")
    ax.set_title(label)
    ax.set_xlabel("epoch (from 0)")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)


def _plot_step_panel(ax: Axes, steps: list[int], values: list[float]) -> None:
    """Gradient norm per step, faint, with a running mean over about 2% of the steps."""
    from matplotlib.ticker import ScalarFormatter

    width = max(1, len(values) // 50)
    ax.plot(steps, values, color="tab:green", alpha=0.35 if width > 1 else 1.0,
            linewidth=0.8, label="logged steps")
    if width > 1:
        kernel = np.ones(width) / width
        smooth = np.convolve(values, kernel, mode="valid")
        ax.plot(steps[width - 1:], smooth, color="tab:green", linewidth=1.5,
                label=f"mean of {width} steps")
    ax.set_title("gradient norm before clipping (L2)")
    ax.set_xlabel("optimizer step")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def plot_training_curves(metrics_csv: str | Path, out_png: str | Path, *,
                         force: bool = True) -> Path:
    """Loss, bits per note and accuracy per epoch, train vs valid, from a CSVLogger file,
    and the gradient norm per optimizer step when it was logged."""
    series = read_epoch_metrics(metrics_csv)
    steps = read_step_metrics(metrics_csv)
    panels = [(key, label) for key, label in _PANELS
              if any(f"{split}_{key}" in series for split, _, _ in _SPLITS)]
    if not panels:
        raise ReadError(f"{metrics_csv}: no per-epoch train_/val_ loss, bpn or acc columns "
                        f"found (columns: {', '.join(sorted(series)) or 'none'})")
    count = len(panels) + ("train_grad_norm" in steps)
    cols = 2 if count == 4 else count
    fig = figure(4.6 * cols if cols == 2 else 4.2 * cols, 3.2 * (-(-count // cols)) + 0.3)
    axes = fig.subplots(-(-count // cols), cols, squeeze=False).ravel()
    best = _best_epoch(series)
    for ax, (key, label) in zip(axes, panels, strict=False):
        _plot_epoch_panel(ax, series, key, label, best)
    if "train_grad_norm" in steps:
        _plot_step_panel(axes[len(panels)], *steps["train_grad_norm"])
    run = Path(metrics_csv).resolve().parent
    fig.suptitle(f"training curves: {run.parent.name}/{run.name}")
    return save_png(fig, out_png, force, dpi=100)


# --- piano roll --------------------------------------------------------------------------------

_BLACK_KEYS = (1, 3, 6, 8, 10)


def _pitch_ticks(low: int, high: int) -> list[int]:
    """Every pitch while the rows are tall enough for the text, else white keys, else C's."""
    if high - low <= 40:
        return list(range(low, high + 1))
    if high - low <= 72:
        return [p for p in range(low, high + 1) if p % 12 not in _BLACK_KEYS]
    return [p for p in range(low, high + 1) if p % 12 == 0]


def _bar_step(n_bars: int) -> int:
    """Every how many bars a number (and, on long melodies, a line) stands: a round step that
    leaves at most about 32 numbers."""
    return next(step for step in (1, 2, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
                if n_bars <= 32 * step) if n_bars <= 32_000 else -(-n_bars // 32)


def _draw_grid(ax: Axes, n_bars: int, spb: int, spq: int) -> None:
    """Bar and beat lines while there are few enough bars to see them, else a line every few
    bars."""
    if n_bars > 64:
        for bar in range(0, n_bars + 1, _bar_step(n_bars)):
            ax.axvline(bar, color="0.6", linewidth=0.6, zorder=1)
        return
    for step in range(0, n_bars * spb + 1, spq):
        bar_line = step % spb == 0
        ax.axvline(step / spb, color="0.35" if bar_line else "0.8",
                   linewidth=1.0 if bar_line else 0.5, zorder=1)


def plot_piano_roll(melody: Melody, out_png: str | Path, *, title: str | None = None,
                    force: bool = True) -> Path:
    """The melody as bars on a pitch-by-time grid: bar lines, beats and pitch names.

    The x axis is in bars; a pickup is bar 0 and the first full bar is bar 1.
    """
    from matplotlib.patches import Rectangle

    spb, spq = melody.steps_per_bar, melody.steps_per_quarter
    n_bars = max(1, -(-melody.end_step // spb))
    pitches = melody.pitches or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    fig = figure(min(18.0, 3.0 + 1.1 * n_bars), min(8.0, 2.0 + 0.16 * (high - low)))
    ax = fig.add_subplot()
    for p in range(low, high + 1):  # shade the black keys' rows
        if p % 12 in _BLACK_KEYS:
            ax.axhspan(p - 0.5, p + 0.5, color="0.93", zorder=0)
    for note in melody.notes:
        ax.add_patch(Rectangle((note.start_step / spb, note.pitch - 0.4),
                               note.duration_steps / spb, 0.8, facecolor="tab:blue",
                               edgecolor="black", linewidth=0.6 if n_bars <= 64 else 0,
                               zorder=2))
    _draw_grid(ax, n_bars, spb, spq)
    start = melody.start_step / spb if melody.pickup_steps else 0.0
    ax.set_xlim(start, n_bars)
    ax.set_ylim(low - 0.5, high + 0.5)
    ticks = _pitch_ticks(low, high)
    ax.set_yticks(ticks, [pitch_to_name(p) for p in ticks], fontsize=8)
    numbered = range(0, n_bars, _bar_step(n_bars))
    # a number in the middle of its bar; with a pickup, the pickup is bar 0
    ax.set_xticks([max(b, start) / 2 + (b + 1) / 2 for b in numbered],
                  [str(b + (not melody.pickup_steps)) for b in numbered], fontsize=8)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel("bar")
    num, den = melody.time_signature
    context = [f"{num}/{den}", f"{melody.qpm:g} qpm", f"{len(melody.notes)} notes"]
    if melody.key:
        context.insert(0, str(melody.key))
    ax.set_title(title if title is not None else
                 f"{melody.source or 'melody'}  ({', '.join(context)})", fontsize=10)
    return save_png(fig, out_png, force)


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


def _feature_columns(generated: Sequence[Melody], reference: Sequence[Melody]
                     ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(feature, generated values, reference values) of each scalar feature defined for one
    melody at least; NaN (undefined) values are left out."""
    gen = [melody_features(m) for m in generated]
    ref = [melody_features(m) for m in reference]
    table: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name in SCALAR_FEATURES:
        g = np.array([f[name] for f in gen], dtype=float)
        r = np.array([f[name] for f in ref], dtype=float)
        g, r = g[np.isfinite(g)], r[np.isfinite(r)]
        if len(g) or len(r):  # a feature undefined everywhere (no keys known) is left out
            table.append((name, g, r))
    return table


def _interval_shares(melodies: Sequence[Melody]) -> np.ndarray:
    """Share of each signed interval, -12..+12 semitones (wider leaps clipped), over all the
    steps between consecutive notes of all `melodies`; zeros when there are none."""
    counts = np.zeros(2 * INTERVAL_CLIP + 1)
    for m in melodies:
        counts += list(interval_histogram(m, INTERVAL_CLIP).values())
    return counts / counts.sum() if counts.sum() else counts


def _plot_feature_panel(ax: Axes, name: str, g: np.ndarray, r: np.ndarray,
                        labels: tuple[str, str]) -> None:
    edges = _bins(np.concatenate([g, r]))
    for values, label, color in ((r, labels[1], REFERENCE_COLOR),
                                 (g, labels[0], GENERATED_COLOR)):
        if len(values):
            ax.hist(values, bins=edges.tolist(), density=True, alpha=0.45, color=color,
                    label=label, edgecolor=color)
    if len(edges) == 2:  # one value in both sets: say which, not a made-up scale
        ax.set_xticks([(edges[0] + edges[1]) / 2])
    ax.set_title(name.replace("_", " "), fontsize=10)
    ax.tick_params(labelsize=8)
    ax.set_yticks([])


def _plot_interval_panel(ax: Axes, generated: Sequence[Melody], reference: Sequence[Melody],
                         labels: tuple[str, str]) -> None:
    steps = np.arange(-INTERVAL_CLIP, INTERVAL_CLIP + 1)
    for melodies, label, color in ((reference, labels[1], REFERENCE_COLOR),
                                   (generated, labels[0], GENERATED_COLOR)):
        ax.bar(steps, _interval_shares(melodies), width=1.0, alpha=0.45, color=color,
               edgecolor=color, label=label)
    ax.set_title("intervals (semitones, all steps)", fontsize=10)
    ax.set_xticks(range(-12, 13, 4))
    ax.tick_params(labelsize=8)
    ax.set_yticks([])


def plot_metric_histograms(generated: Sequence[Melody], reference: Sequence[Melody],
                           out_png: str | Path, *, labels: tuple[str, str] = ("generated",
                                                                               "reference"),
                           force: bool = True) -> Path:
    """One panel per scalar feature of `melody_features`, densities of the two sets, and one
    of the shares of signed intervals over all their notes."""
    table = _feature_columns(generated, reference)
    if not table:
        raise MelodyRNNError("plot_metric_histograms: no melodies with notes to plot")
    count = len(table) + 1
    cols = min(4, count)
    rows = -(-count // cols)
    fig = figure(3.3 * cols, 2.5 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (name, g, r) in zip(axes, table, strict=False):
        _plot_feature_panel(ax, name, g, r, labels)
    _plot_interval_panel(axes[len(table)], generated, reference, labels)
    for ax in axes[count:]:
        ax.set_visible(False)
    legend: dict[str, Artist] = {}  # label -> handle, from whichever panels hold each set
    for ax in axes[:count]:
        legend.update(zip(*ax.get_legend_handles_labels()[::-1], strict=True))
    order = [label for label in labels if label in legend]
    fig.legend([legend[label] for label in order], order, loc="outside upper right", ncols=2,
               fontsize=9)
    fig.suptitle(f"{labels[0]} ({len(generated)} melodies) vs {labels[1]} "
                 f"({len(reference)} melodies)", x=0.02, ha="left", fontsize=11)
    return save_png(fig, out_png, force)
