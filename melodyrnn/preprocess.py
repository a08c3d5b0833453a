"""Melodies out of scores: reading by suffix, extraction with counted drops, keys, transposition.

Extraction turns each track of a `Score` into zero or more monophonic `Melody` objects and
counts every track or fragment it throws away by a readable reason (as Magenta's melody
pipeline does), so a corpus build can say what it lost and why. Nothing here imports torch;
file readers load lazily so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

from melodyrnn.errors import ConfigError, MelodyError, ReadError
from melodyrnn.music import Key, Melody, Note, Score, parse_time_signature

MIDI_SUFFIXES = (".mid", ".midi", ".kar")
NOTATION_SUFFIXES = (".musicxml", ".mxl", ".xml", ".abc")
STRATEGIES = ("skyline", "strict")

# Drop reasons, counted in the `drops` Counter; kept as constants so callers can look them up.
DRUM_TRACK = "drum track"
EMPTY_TRACK = "empty track"
POLYPHONIC_TRACK = "polyphonic track"
TOO_FEW_NOTES = "too few notes"
TOO_FEW_PITCH_CLASSES = "too few pitch classes"
OUTSIDE_PITCH_RANGE = "outside pitch range"
TOO_LONG = "too long"


# --- reading ----------------------------------------------------------------------------------

def read_scores(path: str | Path, steps_per_quarter: int = 4,
                drops: Counter[str] | None = None) -> list[Score]:
    """Every score in a MIDI, MusicXML or ABC file (an ABC book gives one per tune).

    Tunes of an ABC book that cannot be read are skipped and counted in `drops`; a file that
    cannot be read at all raises ReadError naming it.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a directory, not a music file")
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from melodyrnn import midi_io
        return [midi_io.read_score(path, steps_per_quarter=steps_per_quarter)]
    if suffix in NOTATION_SUFFIXES:
        from melodyrnn import notation_io
        return notation_io.read_scores(path, steps_per_quarter=steps_per_quarter, drops=drops)
    raise ReadError(f"{path}: unknown file type '{path.suffix}'; readable files end in "
                    f"{', '.join(MIDI_SUFFIXES + NOTATION_SUFFIXES)}")


def read_melodies(path: str | Path, strategy: str = "skyline", steps_per_quarter: int = 4, *,
                  min_notes: int = 1, min_pitch_classes: int = 1,
                  split_gap_bars: float | None = None, max_steps: int | None = None,
                  pitch_range: tuple[int, int] | None = None,
                  drops: Counter[str] | None = None) -> list[Melody]:
    """Every melody in a .mid/.musicxml/.abc file, one per track (or tune) by default.

    The defaults keep whatever the file holds (no minimum length, no splitting), so a
    four-note primer comes back as it is; corpus builds pass the training filters of
    `extract_melodies` explicitly.
    """
    melodies: list[Melody] = []
    for score in read_scores(path, steps_per_quarter=steps_per_quarter, drops=drops):
        melodies += extract_melodies(score, strategy, min_notes=min_notes,
                                     min_pitch_classes=min_pitch_classes,
                                     split_gap_bars=split_gap_bars, max_steps=max_steps,
                                     pitch_range=pitch_range, drops=drops)
    return melodies


# --- extraction -------------------------------------------------------------------------------

def skyline(notes: Iterable[Note]) -> list[Note]:
    """The highest line of possibly overlapping notes, as a monophonic note list.

    Exactly: of notes starting together only the highest is kept (the longest if pitches tie);
    a note starting while a kept note still sounds replaces it if it is at least as high
    (the sounding note is cut short at the new onset) and is dropped if it is lower, masked
    by the higher note; a masked note's tail that outlasts the higher note is not revived.
    """
    ordered = sorted(notes, key=lambda n: (n.start_step, -n.pitch, -n.duration_steps))
    line: list[Note] = []
    for note in ordered:
        if line:
            last = line[-1]
            if note.start_step == last.start_step:
                continue  # a lower (or duplicate) note of a chord
            if note.start_step < last.end_step:
                if note.pitch < last.pitch:
                    continue  # masked by a higher note still sounding
                line[-1] = dataclasses.replace(
                    last, duration_steps=note.start_step - last.start_step)
        line.append(note)
    return line


def is_monophonic(notes: Sequence[Note]) -> bool:
    """True if no two notes sound at once (a note may start exactly where another ends)."""
    ordered = sorted(notes, key=lambda n: (n.start_step, n.pitch))
    return all(b.start_step >= a.end_step for a, b in pairwise(ordered))


def extract_melodies(score: Score, strategy: str = "skyline", *, min_notes: int = 8,
                     min_pitch_classes: int = 3, split_gap_bars: float | None = 1.0,
                     max_steps: int | None = None, pitch_range: tuple[int, int] | None = None,
                     drops: Counter[str] | None = None) -> list[Melody]:
    """Monophonic melodies from each pitched track of `score`, counting what is dropped.

    - strategy "skyline" keeps the highest line of each track (see `skyline`); "strict" keeps
      only tracks that are already monophonic and counts the rest as "polyphonic track".
    - A rest of at least `split_gap_bars` bars (1 by default, as Magenta does; None never
      splits) ends one melody and starts the next; parts are named `...:part{j}`.
    - Each melody is moved earlier by whole bars so its first note lies in the first bar:
      an upbeat stays an upbeat and bar lines stay where they were.
    - A melody longer than `max_steps` steps (after that move) is dropped, not truncated,
      so that no training melody ends where the music does not.
    - Drop reasons: "drum track", "empty track", "polyphonic track", "too few notes",
      "too few pitch classes", "outside pitch range", "too long".
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"melody extraction strategy '{strategy}' is not one of "
                          f"{', '.join(STRATEGIES)}")
    drops = drops if drops is not None else Counter()
    steps_per_bar = _steps_per_bar(score)
    gap_steps = None if split_gap_bars is None else max(1, round(split_gap_bars * steps_per_bar))
    melodies = []
    for i, track in enumerate(score.tracks):
        if track.is_drum:
            drops[DRUM_TRACK] += 1
            continue
        if not track.notes:
            drops[EMPTY_TRACK] += 1
            continue
        if strategy == "strict" and not is_monophonic(track.notes):
            drops[POLYPHONIC_TRACK] += 1
            continue
        line = skyline(track.notes)  # on a monophonic track this only sorts
        parts = _split_at_gaps(line, gap_steps)
        for j, notes in enumerate(parts):
            source = f"{score.source}:track{i}" + (f":part{j}" if len(parts) > 1 else "")
            notes = _shift_to_first_bar(notes, steps_per_bar)
            reason = _drop_reason(notes, min_notes, min_pitch_classes, max_steps, pitch_range)
            if reason:
                drops[reason] += 1
                continue
            melodies.append(Melody(notes, steps_per_quarter=score.steps_per_quarter,
                                   qpm=score.qpm, time_signature=score.time_signature,
                                   key=score.key, source=source))
    return melodies


def _steps_per_bar(score: Score) -> int:
    """Steps in one bar of the score's time signature, as Melody.steps_per_bar counts them."""
    num, den = parse_time_signature(score.time_signature)
    return max(1, num * score.steps_per_quarter * 4 // den)


def _split_at_gaps(notes: list[Note], gap_steps: int | None) -> list[list[Note]]:
    """Runs of notes separated by rests shorter than `gap_steps` (None: one run)."""
    if gap_steps is None or not notes:
        return [notes]
    parts = [[notes[0]]]
    for prev, note in pairwise(notes):
        if note.start_step - prev.end_step >= gap_steps:
            parts.append([])
        parts[-1].append(note)
    return parts


def _shift_to_first_bar(notes: list[Note], steps_per_bar: int) -> list[Note]:
    """The notes moved earlier by whole bars until the first note lies in bar one."""
    shift = (notes[0].start_step // steps_per_bar) * steps_per_bar
    if not shift:
        return notes
    return [dataclasses.replace(n, start_step=n.start_step - shift) for n in notes]


def _drop_reason(notes: list[Note], min_notes: int, min_pitch_classes: int,
                 max_steps: int | None, pitch_range: tuple[int, int] | None) -> str | None:
    """Why a candidate melody fails the filters (the first reason found), or None."""
    if len(notes) < min_notes:
        return TOO_FEW_NOTES
    if len({n.pitch % 12 for n in notes}) < min_pitch_classes:
        return TOO_FEW_PITCH_CLASSES
    if pitch_range is not None:
        low, high = pitch_range
        if any(not low <= n.pitch <= high for n in notes):
            return OUTSIDE_PITCH_RANGE
    if max_steps is not None and notes[-1].end_step > max_steps:
        return TOO_LONG
    return None


# --- keys and transposition -------------------------------------------------------------------

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
