"""How far a generated set of melodies lies from a reference set, feature by feature.

`compare_sets` follows Yang & Lerch (2018), "On the evaluation of generative models in music":
for each feature of `evaluate.metrics` it takes the distances between melodies within the
reference set (intra-set) and between the generated and the reference set (inter-set), smooths
each set of distances with a Gaussian kernel density estimate, and reports how much the two
densities overlap and their KL divergence. A generated set that is like the reference set gives
inter-set distances like the intra-set ones: overlap near 1, divergence near 0. Set statistics
skip NaN (an undefined metric).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyError
from melodyrnn.evaluate.metrics import HISTOGRAM_FEATURES, _histogram_vector, melody_features

# numpy < 2 names it trapz, later numpy trapezoid (and drops trapz): looked up by name
_trapezoid = next(getattr(np, name) for name in ("trapezoid", "trapz") if hasattr(np, name))

# --- comparing two sets (Yang & Lerch 2018) ---------------------------------------------------


def kde_bandwidth(samples: np.ndarray) -> float:
    """Scott's rule for a 1-D Gaussian KDE: h = std(samples) * n^(-1/5) (scipy's default)."""
    return float(np.std(samples, ddof=1) * len(samples) ** -0.2) if len(samples) > 1 else 0.0


def gaussian_kde(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of `samples` evaluated on an evenly spaced `grid`.

    f(x) = 1/(n h) sum_i phi((x - x_i) / h), phi the standard normal density. The samples are
    first binned to the nearest grid point and the counts convolved with the kernel, so cost
    is O(n + G^2) for G grid points however many samples there are (a million distances is
    common); the binning error is at most half a grid step, small next to h.
    """
    step = grid[1] - grid[0]
    idx = np.clip(np.rint((samples - grid[0]) / step).astype(np.int64), 0, len(grid) - 1)
    counts = np.bincount(idx, minlength=len(grid)).astype(float)
    offsets = np.arange(-(len(grid) - 1), len(grid)) * step
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2) / (bandwidth * math.sqrt(2 * math.pi))
    return np.convolve(counts, kernel, mode="valid") / len(samples)


def overlap_and_kl(p_samples: np.ndarray, q_samples: np.ndarray,
                   grid_size: int = 1000) -> tuple[float, float]:
    """(overlapping area, KL divergence in nats) of the KDEs of two 1-D samples.

    With p and q the Gaussian KDEs (Scott bandwidths, each at least 1% of the pooled range,
    so that a sample of identical values still has a density), OA = integral min(p, q) dx and
    KL(p || q) = integral p log(p / q) dx, both by the trapezoid rule on `grid_size` points
    spanning the pooled samples +- 4 bandwidths; q is floored at 1e-12 of its peak so that KL
    stays finite. Identical samples give OA 1, KL 0; disjoint ones OA ~0 and a large KL.
    """
    pooled = np.concatenate([p_samples, q_samples])
    span = float(pooled.max() - pooled.min())
    floor = span / 100 if span > 0 else 1.0
    h_p = max(kde_bandwidth(p_samples), floor)
    h_q = max(kde_bandwidth(q_samples), floor)
    margin = 4 * max(h_p, h_q)
    grid = np.linspace(pooled.min() - margin, pooled.max() + margin, grid_size)
    p = gaussian_kde(p_samples, grid, h_p)
    q = gaussian_kde(q_samples, grid, h_q)
    overlap = float(_trapezoid(np.minimum(p, q), grid))
    q = np.maximum(q, 1e-12 * q.max())
    mask = p > 0
    integrand = np.zeros_like(p)
    integrand[mask] = p[mask] * np.log(p[mask] / q[mask])
    return min(overlap, 1.0), max(float(_trapezoid(integrand, grid)), 0.0)


def _distances(a: np.ndarray, b: np.ndarray | None, max_pairs: int,
               rng: np.random.Generator) -> np.ndarray:
    """Euclidean distances between rows of a and rows of b (or pairs i != j of a when b is None),
    all of them, or `max_pairs` pairs drawn at random when there are more."""
    if b is None:
        n = len(a)
        if n * (n - 1) // 2 <= max_pairs:
            i, j = np.triu_indices(n, k=1)
        else:
            i = rng.integers(0, n, max_pairs)
            j = (i + rng.integers(1, n, max_pairs)) % n  # any row but i
        b = a
    elif len(a) * len(b) <= max_pairs:
        i, j = (x.ravel() for x in np.meshgrid(np.arange(len(a)), np.arange(len(b)),
                                               indexing="ij"))
    else:
        i, j = rng.integers(0, len(a), max_pairs), rng.integers(0, len(b), max_pairs)
    diff = a[i] - b[j]
    return np.sqrt((diff ** 2).sum(axis=1)) if diff.ndim == 2 else np.abs(diff)


def _feature_table(melodies: Sequence[Melody],
                   histograms: bool) -> dict[str, list[float | np.ndarray]]:
    table: dict[str, list[float | np.ndarray]] = {}
    for m in melodies:
        for name, value in melody_features(m).items():
            table.setdefault(name, []).append(np.float64(value))
        for name in HISTOGRAM_FEATURES if histograms else ():
            table.setdefault(name, []).append(_histogram_vector(m, name))
    return table


def compare_sets(generated: Sequence[Melody], reference: Sequence[Melody], *,
                 histograms: bool = True, max_pairs: int = 200_000,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Per feature: set means, and overlap / KL of intra-reference vs inter-set distances.

    For each scalar feature (and, if `histograms`, the interval and note-length histograms
    as share vectors), with r the reference values and g the generated ones:
    intra = {|r_i - r_j| : i < j}, inter = {|g_i - r_j|} (Euclidean norm for vectors; at most
    `max_pairs` pairs each, drawn with `seed` beyond that), and `overlap_and_kl(intra, inter)`
    gives "overlap" (OA, 1 is best) and "kl" (KLD(intra || inter) in nats, 0 is best).
    "generated_mean"/"reference_mean" (and _std) are over melodies where the feature is
    defined; NaN for histograms. NaN values are left out; a feature defined for no generated
    melody or for fewer than two reference ones gets NaN throughout.
    """
    if len(generated) < 1 or len(reference) < 2:
        raise MelodyError(f"compare_sets needs at least 1 generated and 2 reference melodies, "
                          f"got {len(generated)} and {len(reference)}")
    gen_table = _feature_table(generated, histograms)
    ref_table = _feature_table(reference, histograms)
    rng = np.random.default_rng(seed)
    result: dict[str, dict[str, float]] = {}
    for name in ref_table:
        g = np.array(gen_table[name])
        r = np.array(ref_table[name])
        if g.ndim == 1:
            g, r = g[np.isfinite(g)], r[np.isfinite(r)]
        row = dict.fromkeys(("generated_mean", "reference_mean", "generated_std",
                             "reference_std", "overlap", "kl"), math.nan)
        if g.ndim == 1 and len(g) and len(r):
            row.update(generated_mean=float(g.mean()), reference_mean=float(r.mean()),
                       generated_std=float(g.std()), reference_std=float(r.std()))
        if len(g) >= 1 and len(r) >= 2:
            row["overlap"], row["kl"] = _intra_inter_overlap(g, r, max_pairs, rng)
        result[name] = row
    return result


def _intra_inter_overlap(g: np.ndarray, r: np.ndarray, max_pairs: int,
                         rng: np.random.Generator) -> tuple[float, float]:
    """overlap_and_kl(intra-reference distances, generated-to-reference distances)."""
    intra = _distances(r, None, max_pairs, rng)
    inter = _distances(g, r, max_pairs, rng)
    return overlap_and_kl(intra, inter)


def feature_overlap(generated: Sequence[float] | np.ndarray,
                    reference: Sequence[float] | np.ndarray, *,
                    max_pairs: int = 200_000, seed: int = 0) -> tuple[float, float]:
    """(overlap, KL) of one scalar feature's values, as `compare_sets` computes them.

    intra = {|r_i - r_j| : i < j}, inter = {|g_i - r_j|}, then `overlap_and_kl(intra, inter)`:
    overlap 1 and KL 0 when the generated values lie among the reference ones as the reference
    values lie among themselves. NaN values are left out; (NaN, NaN) with fewer than 1
    generated or 2 reference values.
    """
    g = np.asarray(generated, dtype=float)
    r = np.asarray(reference, dtype=float)
    g, r = g[np.isfinite(g)], r[np.isfinite(r)]
    if len(g) < 1 or len(r) < 2:
        return math.nan, math.nan
    return _intra_inter_overlap(g, r, max_pairs, np.random.default_rng(seed))


def total_variation(p: Mapping[Any, float], q: Mapping[Any, float]) -> float:
    """Total variation distance of two distributions given as counts (or shares) by category.

    TV = 1/2 sum_c |p_c / sum p - q_c / sum q| over the categories of either: 0 for the same
    shares, 1 for distributions with no category in common. NaN when either is empty.
    """
    p_total, q_total = sum(p.values()), sum(q.values())
    if p_total <= 0 or q_total <= 0:
        return math.nan
    return 0.5 * sum(abs(p.get(c, 0) / p_total - q.get(c, 0) / q_total) for c in {*p, *q})


def format_comparison(comparison: dict[str, dict[str, float]],
                      title: str = "generated vs reference") -> str:
    """A one-screen table of `compare_sets` output: means (std), overlap and KL per feature."""
    def cell(mean: float, std: float) -> str:
        return "-" if math.isnan(mean) else f"{mean:.3g} ({std:.2g})"

    lines = [title,
             f"{'feature':<22} {'generated':>16} {'reference':>16} {'overlap':>8} {'KL':>7}"]
    for name, row in comparison.items():
        overlap = "-" if math.isnan(row["overlap"]) else f"{row['overlap']:.3f}"
        kl = "-" if math.isnan(row["kl"]) else f"{row['kl']:.3f}"
        lines.append(f"{name:<22} {cell(row['generated_mean'], row.get('generated_std', 0.0)):>16}"
                     f" {cell(row['reference_mean'], row.get('reference_std', 0.0)):>16}"
                     f" {overlap:>8} {kl:>7}")
    lines.append("mean (std) per set; overlap: area shared by the densities of reference-to-"
                 "reference\nand generated-to-reference distances (1 = alike); KL(intra || inter)"
                 " in nats (0 = alike)")
    return "\n".join(lines)
