"""Form metrics of one tune: its ending, its final bar, its length in bars, its repeated parts.

Each metric is a pure function of a `Melody` whose docstring states its definition, like
`metrics.py`, and says which view it reads: the *written* tune (the notes once, with repeat
signs and a pickup; what a score shows) or the tune *as played* (`Melody.unfold()`: repeats
taken, endings chosen by pass; what is heard). A melody without form is the same in both views.

Bars: bar lines stand at multiples of `steps_per_bar` (a pickup is a short bar 0), so bar b
holds the steps [b * S, (b + 1) * S) with S = steps_per_bar. A note belongs to the bar it
starts in.

An undefined value (the tonic of a tune without a key, any metric of a tune without notes) is
NaN; set statistics skip NaN. Yes/no metrics are 1.0 or 0.0, so that a mean is a share.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from melodyrnn.core.form import REPEAT_END
from melodyrnn.core.melody import Melody
from melodyrnn.evaluate.metrics import key_consistency, pitch_range, repetition_rate

BarContent = tuple[tuple[int, int, int], ...]  # (onset in the bar, duration, pitch) per note


def ends_on_tonic(melody: Melody) -> float:
    """1.0 when the last note's pitch class is the key's tonic, else 0.0.

    last_note.pitch mod 12 == key.tonic (the last written note is also the last one played).
    NaN for a tune without a key (no tonic to end on; such tunes are left out of the share,
    not guessed a key) or without notes.
    """
    if melody.key is None or not melody.notes:
        return math.nan
    return float(melody.notes[-1].pitch % 12 == melody.key.tonic)


def final_bar_steps(melody: Melody) -> int:
    """Length in steps of the written tune's last bar: end_step - S * floor((end_step - 1) / S).

    S (a whole bar) when the tune ends on a bar line; 0 for a tune of length 0.
    """
    size = melody.steps_per_bar
    return melody.end_step - size * ((melody.end_step - 1) // size) if melody.end_step else 0


def complete_final_bar(melody: Melody) -> float:
    """1.0 when the written tune's last bar is whole or completes the pickup, else 0.0.

    With F = final_bar_steps, S = steps_per_bar and P = pickup_steps: F == S, or F + P == S
    (an upbeat of P steps and a last bar of S - P make whole bars together, as a tune is
    written to be played round again). Read on the written form. NaN without notes.
    """
    if not melody.notes:
        return math.nan
    final = final_bar_steps(melody)
    return float(final == melody.steps_per_bar
                 or final + melody.pickup_steps == melody.steps_per_bar)


def played_bars(melody: Melody) -> int:
    """Length of the tune as played, in bars: (end_step - start_step) / S rounded to the nearest
    whole bar (halves up).

    Counted from where the tune begins, so a pickup and the last bar that completes it add up
    to one bar (a 32-bar reel with an upbeat counts 32); a last bar a beat short or long of
    that still rounds to the bar count a player would give.
    """
    played = melody.unfold()
    size = played.steps_per_bar
    return (2 * (played.end_step - played.start_step) + size) // (2 * size)


def bar_contents(melody: Melody) -> list[BarContent]:
    """Each bar of the tune as played, from the first bar it touches to the last: the notes that
    start in it as (onset - bar start, duration, pitch), in steps."""
    played = melody.unfold()
    size = played.steps_per_bar
    first = played.start_step // size
    bars: list[list[tuple[int, int, int]]] = [[] for _ in range(first, -(-played.end_step
                                                                          // size))]
    for note in played.notes:
        bar = note.start_step // size
        bars[bar - first].append((note.start_step - bar * size, note.duration_steps, note.pitch))
    return [tuple(bar) for bar in bars]


def bar_repetition_rate(melody: Melody) -> float:
    """Share of the bars, as played, whose content equals that of an earlier bar.

    #{b : content(b) == content(a) for some a < b} / #bars, content as in `bar_contents`
    (same onsets, durations and pitches; not transposed). A bar with no onset (a note held
    from the bar before, or a bar's rest) repeats an earlier such bar. Bars as played, so a
    part under repeat signs counts its second time through. NaN for a tune of no bars.
    """
    bars = bar_contents(melody)
    if not bars:
        return math.nan
    seen: set[BarContent] = set()
    repeated = 0
    for bar in bars:
        repeated += bar in seen
        seen.add(bar)
    return repeated / len(bars)


def figure_repetition_rate(melody: Melody) -> float:
    """`metrics.repetition_rate` (4-note figures, as durations and intervals) of the tune as
    played."""
    return repetition_rate(melody.unfold(), 4)


def repeats_a_part(melody: Melody, min_bars: int = 4, max_differing: int = 1) -> bool:
    """Whether the tune has a part that is played again ("AABB-like").

    True when the written tune has a repeat sign (a `:|`, whatever the length of what it
    repeats), or when, as played, some span of `min_bars` bars starting on a bar line comes
    back later, starting on a bar line and not overlapping it, with at most `max_differing` of
    its bars different (`bar_contents` compared exactly; bars without notes never match).
    That is, for bar contents c: some i and j >= i + L (L = min_bars) with
    #{k < L : c[i + k] == c[j + k]} >= L - max_differing. The second test finds a part played
    twice whether or not it was written with signs: a repeated part is heard, and a tune
    written out in full (or a model's sample, which has no signs) is judged as one with
    signs is; allowing one bar in four to differ lets first and second endings, or a varied
    bar, through.
    """
    if any(mark.kind == REPEAT_END for mark in melody.form):
        return True
    ids = _bar_ids(bar_contents(melody))
    size = min_bars
    if len(ids) < 2 * size:
        return False
    same = ids[:, None] == ids[None, :]  # (n, n): bar i equals bar j
    windows = len(ids) - size + 1
    # matches[i, j] = #{k < L : bar i + k equals bar j + k}, a sum along diagonals
    matches = sum(same[k:k + windows, k:k + windows].astype(np.int64) for k in range(size))
    i, j = np.triu_indices(windows, k=size)  # j >= i + L: the return starts after the span
    return bool((matches[i, j] >= size - max_differing).any())


def _bar_ids(bars: list[BarContent]) -> np.ndarray:
    """One integer per bar, equal for equal contents; each empty bar gets an id of its own."""
    index: dict[BarContent, int] = {}
    ids = [index.setdefault(bar, len(index)) if bar else -1 - i for i, bar in enumerate(bars)]
    return np.array(ids, dtype=np.int64)


def out_of_key_rate(melody: Melody) -> float:
    """Share of the notes, as played, whose pitch class is outside the scale of the tune's key
    and mode (`Key.pitch_classes`, seven per mode): 1 - metrics.key_consistency.

    NaN without a key or without notes.
    """
    return 1.0 - key_consistency(melody.unfold())


def half_bar_crossing_rate(melody: Melody) -> float:
    """Share of the notes, as played, that sound across the middle of their bar.

    A note of bar b crosses when start < b * S + S / 2 < end (it starts before the half-bar and
    ends after it; a note that starts or stops exactly there does not). In 6/8 the middle is
    the second dotted-quarter beat, which folk tunes seldom tie over. NaN without notes.
    """
    played = melody.unfold()
    if not played.notes:
        return math.nan
    size = played.steps_per_bar
    crossing = 0
    for note in played.notes:
        middle2 = (note.start_step // size) * size * 2 + size  # twice the half-bar's step
        crossing += 2 * note.start_step < middle2 < 2 * note.end_step
    return crossing / len(played.notes)


# Per-tune form features, by name, in the order tables print them.
FORM_FEATURES: dict[str, Callable[[Melody], float]] = {
    "ends_on_tonic": ends_on_tonic,
    "complete_final_bar": complete_final_bar,
    "played_bars": lambda m: float(played_bars(m)),
    "bars_multiple_of_4": lambda m: float(played_bars(m) % 4 == 0),
    "bars_multiple_of_8": lambda m: float(played_bars(m) % 8 == 0),
    "repeats_a_part": lambda m: float(repeats_a_part(m)),
    "figure_repetition_rate": figure_repetition_rate,
    "bar_repetition_rate": bar_repetition_rate,
    "out_of_key_rate": out_of_key_rate,
    "pitch_range": lambda m: float(pitch_range(m)),
}


def form_features(melody: Melody) -> dict[str, float]:
    """Every feature of FORM_FEATURES, by name (NaN where undefined)."""
    played = melody.unfold()  # once here rather than once per feature
    values = {}
    for name, feature in FORM_FEATURES.items():
        # the written view matters only to these two (and repeats_a_part's sign test)
        written = name in ("ends_on_tonic", "complete_final_bar", "repeats_a_part")
        values[name] = float(feature(melody if written else played))
    return values
