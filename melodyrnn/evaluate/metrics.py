"""Musical metrics of one melody.

Each metric is a pure function of a `Melody` whose docstring states its formula, after muspy's
`muspy.metrics`. `melody_features` gathers the scalar ones; `evaluate.compare` sets a generated
set beside a reference set on them. An undefined value (the entropy of no notes, the groove of
a one-bar melody) is NaN.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from melodyrnn.core.key import MODE_INTERVALS
from melodyrnn.core.melody import Melody


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
