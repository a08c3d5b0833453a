"""Musical metrics of one melody, and how far a generated set lies from a reference set.

Each metric is a pure function of a `Melody` whose docstring states its formula, after muspy's
`muspy.metrics`. `melody_features` gathers the scalar ones. `compare_sets` follows Yang & Lerch
(2018), "On the evaluation of generative models in music": for each feature it takes the
distances between melodies within the reference set (intra-set) and between the generated and
the reference set (inter-set), smooths each set of distances with a Gaussian kernel density
estimate, and reports how much the two densities overlap and their KL divergence. A generated
set that is like the reference set gives inter-set distances like the intra-set ones: overlap
near 1, divergence near 0.

An undefined value (the entropy of no notes, the groove of a one-bar melody) is NaN; set
statistics skip NaN.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from fractions import Fraction

import numpy as np

from melodyrnn.core.key import MODE_INTERVALS
from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyError


def pitch_range(melody: Melody) -> int:
    """max(pitch) - min(pitch) in semitones; 0 for a melody without notes."""
    pitches = melody.pitches
    return max(pitches) - min(pitches) if pitches else 0


def pitches_used(melody: Melody) -> int:
    """Number of distinct MIDI pitches."""
    return len(set(melody.pitches))


def pitch_classes_used(melody: Melody) -> int:
    """Number of distinct pitch classes (pitch mod 12)."""
    return len({p % 12 for p in melody.pitches})


def pitch_class_entropy(melody: Melody) -> float:
    """Shannon entropy in bits of the pitch-class histogram, each note counted once.

    H = -sum_i p_i log2 p_i, with p_i the share of notes of pitch class i (as muspy: counts,
    not durations). 0 for one pitch class, log2(12) ~ 3.585 for all twelve equally; NaN
    without notes.
    """
    counts = np.bincount([p % 12 for p in melody.pitches], minlength=12)
    if counts.sum() == 0:
        return math.nan
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


_MAJOR = MODE_INTERVALS["major"]
_MINOR = MODE_INTERVALS["minor"]
# 24 scales as pitch-class masks: 12 major, then 12 natural minor (muspy's set).
_SCALES = np.array([[(pc - tonic) % 12 in intervals for pc in range(12)]
                    for intervals in (_MAJOR, _MINOR) for tonic in range(12)])


def scale_consistency(melody: Melody) -> float:
    """Largest share of notes that belong to one scale, over the 24 major and minor scales.

    max over scales S of #{notes n : n.pitch mod 12 in S} / #notes (muspy's definition; the
    modes add nothing, as each has the same notes as some major scale). NaN without notes.
    """
    counts = np.bincount([p % 12 for p in melody.pitches], minlength=12)
    if counts.sum() == 0:
        return math.nan
    return float((_SCALES @ counts).max() / counts.sum())


def key_consistency(melody: Melody) -> float:
    """Share of notes whose pitch class is in the melody's own key (`melody.key`).

    #{notes n : n.pitch mod 12 in key.pitch_classes} / #notes; NaN when the key is unknown or
    there are no notes. Tells whether a melody asked for in D dorian stayed there.
    """
    if melody.key is None or not melody.notes:
        return math.nan
    scale = melody.key.pitch_classes
    return sum(p % 12 in scale for p in melody.pitches) / len(melody.notes)


# --- intervals -------------------------------------------------------------------------------


def intervals(melody: Melody) -> list[int]:
    """Signed semitone steps between consecutive notes: pitch[i+1] - pitch[i]."""
    p = melody.pitches
    return [b - a for a, b in itertools.pairwise(p)]


def interval_histogram(melody: Melody, max_interval: int = 12) -> dict[int, int]:
    """Counts of signed intervals, clipped to -max_interval..max_interval (every key present).

    A leap of 14 semitones up counts as +12 with the default; 0 is a repeated pitch.
    """
    hist = dict.fromkeys(range(-max_interval, max_interval + 1), 0)
    for step in intervals(melody):
        hist[max(-max_interval, min(max_interval, step))] += 1
    return hist


def mean_abs_interval(melody: Melody) -> float:
    """mean_i |pitch[i+1] - pitch[i]| in semitones (Yang & Lerch's average pitch interval).

    NaN with fewer than two notes.
    """
    steps = intervals(melody)
    return sum(abs(s) for s in steps) / len(steps) if steps else math.nan


# --- rhythm ----------------------------------------------------------------------------------

# Yang & Lerch's twelve note-length classes, in quarter notes.
NOTE_LENGTH_CLASSES: dict[str, Fraction] = {
    "whole": Fraction(4), "half": Fraction(2), "quarter": Fraction(1),
    "eighth": Fraction(1, 2), "16th": Fraction(1, 4),
    "dotted half": Fraction(3), "dotted quarter": Fraction(3, 2),
    "dotted eighth": Fraction(3, 4), "dotted 16th": Fraction(3, 8),
    "half triplet": Fraction(4, 3), "quarter triplet": Fraction(2, 3),
    "eighth triplet": Fraction(1, 3),
}
_CLASS_LOG2 = np.log2([float(v) for v in NOTE_LENGTH_CLASSES.values()])


def note_length_histogram(melody: Melody) -> dict[str, int]:
    """Counts of notes by the nearest of Yang & Lerch's 12 length classes (NOTE_LENGTH_CLASSES).

    A note of d steps lasts q = d / steps_per_quarter quarters and goes to the class c that
    minimises |log2 q - log2 c| (nearest on a log scale, ties to the earlier class), so a note
    longer than a whole note counts as whole and 5 sixteenths (1.25 quarters) as a half-note
    triplet (4/3) rather than a quarter. Every class name is a key.
    """
    hist = dict.fromkeys(NOTE_LENGTH_CLASSES, 0)
    names = list(NOTE_LENGTH_CLASSES)
    spq = melody.steps_per_quarter
    for duration, count in Counter(n.duration_steps for n in melody.notes).items():
        nearest = int(np.argmin(np.abs(_CLASS_LOG2 - math.log2(duration / spq))))
        hist[names[nearest]] += count
    return hist


def notes_per_bar(melody: Melody) -> float:
    """#notes / (end_step / steps_per_bar): note density; NaN for a melody of length 0."""
    if melody.end_step == 0:
        return math.nan
    return len(melody.notes) * melody.steps_per_bar / melody.end_step


def empty_beat_rate(melody: Melody) -> float:
    """Share of beats in which no note sounds (muspy's empty_beat_rate).

    A beat is a quarter note (steps_per_quarter steps, as muspy counts beats in any meter);
    the melody has B = ceil(end_step / steps_per_quarter) beats, and beat b is empty when no
    note overlaps [b*spq, (b+1)*spq). Rate = #empty beats / B; NaN for a melody of length 0.
    """
    spq = melody.steps_per_quarter
    n_beats = -(-melody.end_step // spq)
    if n_beats == 0:
        return math.nan
    sounding = np.zeros(n_beats, dtype=bool)
    for note in melody.notes:
        sounding[note.start_step // spq: -(-note.end_step // spq)] = True
    return float(1.0 - sounding.mean())


def groove_consistency(melody: Melody) -> float:
    """1 - mean Hamming distance between the onset patterns of neighbouring bars (muspy).

    Bars start at step 0 and hold S = steps_per_bar steps; g_m is the 0/1 vector of which of
    bar m's steps a note starts on. With M = ceil(end_step / S) bars,
    groove = 1 - sum_{m=1}^{M-1} hamming(g_{m-1}, g_m) / (S * (M - 1)). NaN for fewer than 2
    bars.
    """
    size = melody.steps_per_bar
    n_bars = -(-melody.end_step // size)
    if n_bars < 2:
        return math.nan
    onsets = np.zeros(n_bars * size, dtype=bool)
    onsets[[n.start_step for n in melody.notes]] = True
    patterns = onsets.reshape(n_bars, size)
    distance = np.count_nonzero(patterns[1:] != patterns[:-1])
    return float(1.0 - distance / (size * (n_bars - 1)))


def repetition_rate(melody: Melody, length: int = 4) -> float:
    """Share of the melody's `length`-note figures that occur more than once in it.

    A figure is `length` consecutive notes seen as their durations and the intervals between
    them (so a sequence repeated a step higher counts). With W the windows of `length` notes,
    rate = #{w in W : its figure occurs at another position too} / |W|. Folk tunes repeat
    whole phrases and score high; a wandering melody scores near 0. NaN with fewer than
    `length` notes.
    """
    notes = melody.notes
    figures = [tuple(n.duration_steps for n in notes[i:i + length])
               + tuple(b.pitch - a.pitch for a, b in zip(notes[i:], notes[i + 1:i + length],
                                                          strict=False))
               for i in range(len(notes) - length + 1)]
    if not figures:
        return math.nan
    counts = Counter(figures)
    return sum(counts[f] > 1 for f in figures) / len(figures)


# --- all scalar features ---------------------------------------------------------------------

SCALAR_FEATURES: dict[str, Callable[[Melody], float]] = {
    "pitch_range": pitch_range,
    "pitches_used": pitches_used,
    "pitch_classes_used": pitch_classes_used,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "key_consistency": key_consistency,
    "mean_abs_interval": mean_abs_interval,
    "notes_per_bar": notes_per_bar,
    "empty_beat_rate": empty_beat_rate,
    "groove_consistency": groove_consistency,
    "repetition_rate": repetition_rate,
}


def melody_features(melody: Melody) -> dict[str, float]:
    """Every scalar metric of SCALAR_FEATURES, by name (NaN where undefined)."""
    return {name: float(f(melody)) for name, f in SCALAR_FEATURES.items()}


def _histogram_vector(melody: Melody, name: str) -> np.ndarray:
    """A histogram feature as a vector of shares (all zeros without notes)."""
    hist = interval_histogram(melody) if name == "interval_histogram" \
        else note_length_histogram(melody)
    v = np.array(list(hist.values()), dtype=float)
    return v / v.sum() if v.sum() else v


HISTOGRAM_FEATURES = ("interval_histogram", "note_length_histogram")

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


def feature_overlap(generated: Sequence[float], reference: Sequence[float], *,
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


def total_variation(p: Mapping[Hashable, float], q: Mapping[Hashable, float]) -> float:
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
