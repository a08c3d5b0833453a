"""Melodies out of scores: extraction with every drop counted by reason, and `read_melodies`.

Extraction turns each track of a `Score` into zero or more monophonic `Melody` objects and
counts every track or fragment it throws away by a readable reason (as Magenta's melody
pipeline does), so a corpus build can say what it lost and why. A tune's written form (repeat
and ending marks, a pickup) comes along: it moves with the notes, and form that the notes
contradict is left out and counted, never passed on as an invalid `Melody`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from itertools import pairwise
from pathlib import Path

from melodyrnn.core.form import Mark, check_form
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.core.score import Score, is_monophonic, skyline
from melodyrnn.errors import ConfigError, MelodyError
from melodyrnn.io import read_scores

STRATEGIES = ("skyline", "strict")
# Drop reasons, counted in the `drops` Counter; kept as constants so callers can look them up.
DRUM_TRACK = "drum track"
EMPTY_TRACK = "empty track"
POLYPHONIC_TRACK = "polyphonic track"
TOO_FEW_NOTES = "too few notes"
TOO_FEW_PITCH_CLASSES = "too few pitch classes"
OUTSIDE_PITCH_RANGE = "outside pitch range"
TOO_LONG = "too long"
# Form that does not fit a melody is left out (the melody is kept); counted in `drops` too.
FORM_ACROSS_NOTE = "form left out (a note sounds across a repeat or ending sign)"
FORM_NOT_WELL_FORMED = "form left out (repeat and ending signs not well-formed)"
PICKUP_NOT_FITTING = "pickup left out (notes before it, or not shorter than a bar)"


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
    - A score with written form (`score.form`, `score.pickup_steps`) gives melodies with that
      form: such a tune is never split at rests, its marks move with its notes, and the
      first melody of a track keeps the pickup. Form the notes contradict (a note sounding
      across a sign, signs that are not well-formed) is left out and counted; the melody
      stays.
    - A melody longer than `max_steps` steps (after that move; its written length, marks
      included) is dropped, not truncated, so that no training melody ends where the music
      does not.
    - Drop reasons: "drum track", "empty track", "polyphonic track", "too few notes",
      "too few pitch classes", "outside pitch range", "too long"; and, for melodies kept
      without their form or pickup, `FORM_ACROSS_NOTE`, `FORM_NOT_WELL_FORMED`,
      `PICKUP_NOT_FITTING`.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"melody extraction strategy '{strategy}' is not one of "
                          f"{', '.join(STRATEGIES)}")
    drops = drops if drops is not None else Counter()
    bar_steps = steps_per_bar(score.time_signature, score.steps_per_quarter)
    gap_steps = None if split_gap_bars is None else max(1, round(split_gap_bars * bar_steps))
    if score.form:
        gap_steps = None  # a split would cut through the form: a tune with form stays whole
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
            form = score.form if j == 0 else ()
            pickup = score.pickup_steps if j == 0 else 0
            left_out: Counter[str] = Counter()  # counted only for a melody that is kept
            notes, form, pickup = _fit_form(notes, form, pickup, bar_steps, left_out)
            reason = _drop_reason(notes, min_notes, min_pitch_classes, max_steps, pitch_range,
                                  form)
            if reason:
                drops[reason] += 1
                continue
            drops.update(left_out)
            melodies.append(Melody(notes, steps_per_quarter=score.steps_per_quarter,
                                   qpm=score.qpm, time_signature=score.time_signature,
                                   key=score.key, source=source, form=form,
                                   pickup_steps=pickup))
    return melodies


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


def _fit_form(notes: list[Note], form: tuple[Mark, ...], pickup_steps: int, steps_per_bar: int,
              drops: Counter[str]) -> tuple[list[Note], tuple[Mark, ...], int]:
    """The notes and marks moved earlier by whole bars (see `_shift_to_first_bar`), with the
    pickup and marks that fit them; what does not fit is left out and counted in `drops`."""
    first = min([notes[0].start_step] + [m.step for m in form])
    start = steps_per_bar - pickup_steps if pickup_steps else 0
    if pickup_steps and (not 0 < pickup_steps < steps_per_bar or first < start):
        drops[PICKUP_NOT_FITTING] += 1
        pickup_steps, start = 0, 0
    shift = (first - start) // steps_per_bar * steps_per_bar
    notes = _shift_to_first_bar(notes, shift)
    form = tuple(m._replace(step=m.step - shift) for m in form)
    if not form:
        return notes, form, pickup_steps
    end = max([notes[-1].end_step] + [m.step for m in form])
    try:
        form = check_form(form, start, end, ((n.start_step, n.end_step) for n in notes))
    except MelodyError:  # a note across a sign is the reason counted first
        across = any(_sounds_across(n, form) for n in notes)
        drops[FORM_ACROSS_NOTE if across else FORM_NOT_WELL_FORMED] += 1
        return notes, (), pickup_steps
    return notes, form, pickup_steps


def _sounds_across(note: Note, form: tuple[Mark, ...]) -> bool:
    return any(note.start_step < m.step < note.end_step for m in form)


def _shift_to_first_bar(notes: list[Note], shift: int) -> list[Note]:
    """The notes moved `shift` steps earlier (whole bars, so that the first note, or the
    first mark of form, lies in the tune's first bar)."""
    if not shift:
        return notes
    return [dataclasses.replace(n, start_step=n.start_step - shift) for n in notes]


def _drop_reason(notes: list[Note], min_notes: int, min_pitch_classes: int,
                 max_steps: int | None, pitch_range: tuple[int, int] | None,
                 form: tuple[Mark, ...] = ()) -> str | None:
    """Why a candidate melody fails the filters (the first reason found), or None."""
    if len(notes) < min_notes:
        return TOO_FEW_NOTES
    if len({n.pitch % 12 for n in notes}) < min_pitch_classes:
        return TOO_FEW_PITCH_CLASSES
    if pitch_range is not None:
        low, high = pitch_range
        if any(not low <= n.pitch <= high for n in notes):
            return OUTSIDE_PITCH_RANGE
    if max_steps is not None and max([notes[-1].end_step] + [m.step for m in form]) > max_steps:
        return TOO_LONG
    return None
