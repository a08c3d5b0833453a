"""Musical metrics on tiny melodies with hand-computed answers, and the set comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyError
from melodyrnn.evaluate.compare import (
    compare_sets,
    feature_overlap,
    format_comparison,
    gaussian_kde,
    kde_bandwidth,
    overlap_and_kl,
    total_variation,
)
from melodyrnn.evaluate.metrics import (
    empty_beat_rate,
    groove_consistency,
    interval_histogram,
    intervals,
    key_consistency,
    mean_abs_interval,
    melody_features,
    note_length_histogram,
    notes_per_bar,
    pitch_class_entropy,
    pitch_classes_used,
    pitch_range,
    pitches_used,
    repetition_rate,
    scale_consistency,
)


def quarters(pitches: list[int], **kwargs) -> Melody:
    """One quarter note (4 steps) per pitch, back to back, in 4/4."""
    return Melody([Note(p, 4 * i, 4) for i, p in enumerate(pitches)], **kwargs)


def onsets(*bars: list[int], steps_per_bar: int = 16) -> Melody:
    """Sixteenth notes (1 step) at the given onset steps of each 4/4 bar."""
    return Melody([Note(60, b * steps_per_bar + s, 1) for b, bar in enumerate(bars) for s in bar],
                  end_step=len(bars) * steps_per_bar)


CDEC = quarters([60, 62, 64, 60])


def test_pitch_metrics_of_c_d_e_c() -> None:
    assert pitch_range(CDEC) == 4
    assert pitches_used(CDEC) == 3
    assert pitch_classes_used(CDEC) == 3
    assert intervals(CDEC) == [2, 2, -4]
    assert mean_abs_interval(CDEC) == pytest.approx(8 / 3)
    # C twice, D and E once: p = 1/2, 1/4, 1/4 -> 1/2 * 1 + 2 * (1/4 * 2) = 1.5 bits
    assert pitch_class_entropy(CDEC) == pytest.approx(1.5)
    assert scale_consistency(CDEC) == 1.0


def test_interval_histogram_counts_and_clips() -> None:
    hist = interval_histogram(quarters([60, 62, 64, 60, 79, 50]), max_interval=12)
    assert list(hist) == list(range(-12, 13))
    assert {k: v for k, v in hist.items() if v} == {2: 2, -4: 1, 12: 1, -12: 1}


def test_scale_consistency_of_four_chromatic_notes() -> None:
    # no major or minor scale holds 3 semitones in a row; C# major holds C C# D# -> 3 of 4
    assert scale_consistency(quarters([60, 61, 62, 63])) == 0.75


def test_entropy_of_one_and_of_twelve_pitch_classes() -> None:
    assert pitch_class_entropy(quarters([60, 72, 48])) == 0.0
    assert pitch_class_entropy(quarters(list(range(60, 72)))) == pytest.approx(math.log2(12))


def test_key_consistency_uses_the_melodys_key() -> None:
    assert key_consistency(quarters([60, 66, 67, 69], key="C:major")) == 0.75
    assert key_consistency(quarters([60, 66, 67, 69], key="G:major")) == 1.0  # F# is in G
    assert math.isnan(key_consistency(quarters([60, 66])))


def test_note_length_classes() -> None:
    durations = [2, 6, 16, 5, 32, 4]  # eighth, dotted quarter, whole, 1.25 q, 2 wholes, quarter
    steps = np.cumsum([0, *durations[:-1]])
    melody = Melody([Note(60, int(s), d) for s, d in zip(steps, durations, strict=True)])
    hist = {k: v for k, v in note_length_histogram(melody).items() if v}
    # 5 sixteenths: |log2 1.25 - log2 4/3| = 0.093 < |log2 1.25 - log2 1| = 0.322
    assert hist == {"eighth": 1, "dotted quarter": 1, "whole": 2, "half triplet": 1,
                    "quarter": 1}


def test_note_lengths_do_not_depend_on_the_grid() -> None:
    at_12 = Melody([Note(60, 0, 6), Note(62, 6, 4)], steps_per_quarter=12)  # eighth, 16th trip.
    hist = {k: v for k, v in note_length_histogram(at_12).items() if v}
    assert hist == {"eighth": 1, "eighth triplet": 1}


def test_empty_beat_rate_with_a_rest_bar() -> None:
    # bar 1: four quarters; bar 2: silent; bar 3: a whole note -> 4 of 12 beats empty
    melody = Melody([Note(60 + i, 4 * i, 4) for i in range(4)] + [Note(67, 32, 16)])
    assert empty_beat_rate(melody) == pytest.approx(1 / 3)
    assert notes_per_bar(melody) == pytest.approx(5 / 3)


def test_empty_beat_rate_counts_a_beat_a_note_only_touches() -> None:
    # steps 2..5 sound: part of beat 0 and part of beat 1, so neither is empty
    assert empty_beat_rate(Melody([Note(60, 2, 4)], end_step=8)) == 0.0
    # trailing silence counts: a quarter note then three silent beats
    assert empty_beat_rate(Melody([Note(60, 0, 4)], end_step=16)) == 0.75
    assert math.isnan(empty_beat_rate(Melody([])))


def test_groove_consistency() -> None:
    quarter_onsets, half_onsets = [0, 4, 8, 12], [0, 8]
    assert groove_consistency(onsets(quarter_onsets, quarter_onsets)) == 1.0
    # onsets 4 and 12 differ: Hamming 2 of 16 steps
    assert groove_consistency(onsets(quarter_onsets, half_onsets)) == 0.875
    # two neighbour pairs, 2 + 2 differences over 2 * 16 steps
    assert groove_consistency(onsets(quarter_onsets, half_onsets, quarter_onsets)) == 0.875
    assert math.isnan(groove_consistency(onsets(quarter_onsets)))


def test_repetition_rate() -> None:
    # C D C D C D in eighths: 4-note windows (+2 -2 +2), (-2 +2 -2), (+2 -2 +2): 2 of 3 repeat
    melody = Melody([Note(p, 2 * i, 2) for i, p in enumerate([60, 62] * 3)])
    assert repetition_rate(melody) == pytest.approx(2 / 3)
    assert repetition_rate(CDEC) == 0.0  # one window, nothing to repeat
    assert math.isnan(repetition_rate(quarters([60, 62])))


def test_melody_features_of_c_d_e_c() -> None:
    features = melody_features(quarters([60, 62, 64, 60], key="C:major"))
    assert features == pytest.approx({
        "pitch_range": 4, "pitches_used": 3, "pitch_classes_used": 3,
        "pitch_class_entropy": 1.5, "scale_consistency": 1.0, "key_consistency": 1.0,
        "mean_abs_interval": 8 / 3, "notes_per_bar": 4.0, "empty_beat_rate": 0.0,
        "groove_consistency": math.nan, "repetition_rate": 0.0}, nan_ok=True)


def test_metrics_of_an_empty_melody() -> None:
    features = melody_features(Melody([]))
    assert features["pitch_range"] == 0 and features["pitches_used"] == 0
    assert all(math.isnan(features[k]) for k in ("pitch_class_entropy", "scale_consistency",
                                                 "mean_abs_interval", "notes_per_bar"))


# --- KDE and set comparison ------------------------------------------------------------------

def test_kde_bandwidth_is_scotts_rule() -> None:
    # std with ddof=1 of 0..4 is sqrt(2.5); 5 ** -0.2 = 0.72478
    assert kde_bandwidth(np.arange(5.0)) == pytest.approx(math.sqrt(2.5) * 5 ** -0.2)


def test_gaussian_kde_of_one_point_is_the_normal_density() -> None:
    grid = np.linspace(-5, 5, 101)
    density = gaussian_kde(np.array([0.0]), grid, bandwidth=1.0)
    assert density[50] == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert density[60] == pytest.approx(math.exp(-0.5) / math.sqrt(2 * math.pi))
    assert density.sum() * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-5)


def test_overlap_and_kl_of_identical_and_disjoint_samples() -> None:
    same = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    overlap, kl = overlap_and_kl(same, same)
    assert overlap == pytest.approx(1.0, abs=1e-3) and kl == pytest.approx(0.0, abs=1e-9)
    overlap, kl = overlap_and_kl(np.zeros(5), np.full(5, 10.0))
    assert overlap < 1e-6 and kl > 10


def test_overlap_and_kl_of_two_unit_normals_one_apart() -> None:
    # N(0,1) vs N(1,1): OA = 2 * Phi(-1/2) = 0.617, KL = 1/2 (the KDE widens each a little)
    rng = np.random.default_rng(0)
    overlap, kl = overlap_and_kl(rng.normal(0, 1, 20_000), rng.normal(1, 1, 20_000))
    assert overlap == pytest.approx(0.617, abs=0.02)
    assert kl == pytest.approx(0.5, abs=0.03)


def small_set(low: int, spread: int, key: str | None = "C:major") -> list[Melody]:
    """Eight melodies climbing from `low` in steps of 1 + i % spread semitones."""
    return [quarters([low + k * (1 + i % spread) for k in range(8)], key=key)
            for i in range(8)]


def test_compare_sets_of_a_set_with_itself_and_with_a_far_set() -> None:
    tunes = small_set(60, 3)
    alike = compare_sets(tunes, tunes)
    assert alike["pitch_range"]["generated_mean"] == alike["pitch_range"]["reference_mean"]
    assert alike["pitch_range"]["overlap"] > 0.8  # self-pairs add zeros to the inter-set
    far = compare_sets(small_set(40, 12, key=None), tunes)  # leaps of up to 12 semitones
    assert far["pitch_range"]["overlap"] < 0.5
    assert far["pitch_range"]["kl"] > alike["pitch_range"]["kl"] + 0.5
    assert far["interval_histogram"]["overlap"] < alike["interval_histogram"]["overlap"]
    assert math.isnan(far["interval_histogram"]["generated_mean"])
    assert math.isnan(far["key_consistency"]["overlap"])  # no generated melody has a key
    assert math.isnan(far["key_consistency"]["generated_mean"])


def test_compare_sets_needs_two_reference_melodies() -> None:
    with pytest.raises(MelodyError, match="at least 1 generated and 2 reference"):
        compare_sets([CDEC], [CDEC])


def test_format_comparison_is_one_screen() -> None:
    text = format_comparison(compare_sets(small_set(60, 3), small_set(62, 2)))
    lines = text.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 100 for line in lines)
    assert lines[1].split() == ["feature", "generated", "reference", "overlap", "KL"]
    assert any(line.startswith("pitch_range ") for line in lines)


def test_feature_overlap_is_compare_sets_on_one_feature() -> None:
    gen, ref = small_set(40, 12), small_set(60, 3)
    row = compare_sets(gen, ref, histograms=False)["pitch_range"]
    overlap, kl = feature_overlap([pitch_range(m) for m in gen], [pitch_range(m) for m in ref])
    assert (overlap, kl) == pytest.approx((row["overlap"], row["kl"]))
    # NaN values are left out; too few values give NaN
    assert feature_overlap([1.0, math.nan], [1.0, 2.0, 3.0]) == \
        pytest.approx(feature_overlap([1.0], [1.0, 2.0, 3.0]))
    assert all(math.isnan(v) for v in feature_overlap([1.0], [2.0, math.nan]))


def test_total_variation_of_counts() -> None:
    assert total_variation({"6/8": 3, "4/4": 1}, {"6/8": 6, "4/4": 2}) == 0.0
    # shares 3/4, 1/4 against 1/4, 1/4, 1/2: (1/2 + 0 + 1/2) / 2
    assert total_variation({"a": 3, "b": 1}, {"a": 1, "b": 1, "c": 2}) == pytest.approx(0.5)
    assert total_variation({"a": 1}, {"b": 5}) == 1.0
    assert math.isnan(total_variation({}, {"a": 1}))
