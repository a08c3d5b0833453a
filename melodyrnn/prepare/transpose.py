"""Keys and transposition of melodies: key estimation, normalising to C, augmenting by keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyError

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
_MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def estimate_key(melody: Melody) -> Key:
    """The major or minor key whose Krumhansl-Kessler profile best fits the melody.

    Krumhansl-Schmuckler: the duration-weighted pitch-class histogram is correlated
    (Pearson) with the 24 rotated profiles and the best one wins; ties go to the lower
    tonic, major before minor.
    """
    if not melody.notes:
        where = f"{melody.source}: " if melody.source else ""
        raise MelodyError(f"{where}cannot estimate the key of a melody with no notes")
    histogram = [0.0] * 12
    for note in melody.notes:
        histogram[note.pitch % 12] += note.duration_steps
    best, best_r = Key(0), -2.0
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            rotated = [profile[(pc - tonic) % 12] for pc in range(12)]
            r = _pearson(histogram, rotated)
            if r > best_r + 1e-12:
                best, best_r = Key(tonic, mode), r
    return best


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation; 0 when either side is constant."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / (vx * vy) ** 0.5 if vx and vy else 0.0


def normalize_key(melody: Melody, estimate: bool = False) -> Melody:
    """Transpose to the key signature without sharps or flats (C major, A minor, D dorian...).

    The key is the melody's own, or estimated when missing (or when `estimate` is true); the
    shift is the nearest one (-6..+5 semitones), moved by an octave if that keeps the notes
    inside MIDI 0-127. The result carries the transposed key.
    """
    if not melody.notes:
        return melody
    key = estimate_key(melody) if estimate or melody.key is None else melody.key
    shift = (-(7 * key.sharps)) % 12  # semitones from the major tonic of the signature to C
    if shift > 5:
        shift -= 12
    low, high = min(melody.pitches), max(melody.pitches)
    for candidate in (shift, shift + 12, shift - 12):
        if low + candidate >= 0 and high + candidate <= 127:
            return melody.replace(key=key).transpose(candidate)
    where = f"{melody.source}: " if melody.source else ""
    raise MelodyError(f"{where}pitches {low}-{high} cannot be moved to {key.transpose(shift)} "
                      "inside MIDI 0-127")


def augment_transpositions(melody: Melody, semitones: Iterable[int] = range(-5, 7),
                           pitch_range: tuple[int, int] = (0, 127)) -> list[Melody]:
    """Copies of `melody` moved by each of `semitones` whose notes stay inside `pitch_range`.

    The copies keep the original's `source`, so a dataset split by source keeps every
    transposition of one tune on the same side.
    """
    bounds = (min(melody.pitches), max(melody.pitches)) if melody.notes else ()
    low, high = pitch_range
    return [melody.transpose(s) for s in semitones if all(low <= b + s <= high for b in bounds)]
