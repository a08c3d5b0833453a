"""music21 streams -> Scores and Melodies: notes, chords and ties walked once per part, and
the written form (repeat signs, endings, the pickup; see `io.inputs.form`) of the first
pitched part.

Streams are turned into Scores directly, never through music21's MIDI writer, which fails on a
share of folk tunes and is slow. The MusicXML and ABC readers both end here. music21 is
imported inside the functions that use it (it takes seconds to import).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from melodyrnn.core.form import Mark, check_form
from melodyrnn.core.key import MODE_INTERVALS, Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import parse_time_signature, steps_from_quarters, steps_per_bar
from melodyrnn.core.score import Score, Track, skyline
from melodyrnn.errors import MelodyError
from melodyrnn.io.inputs.files import check_track_size
from melodyrnn.io.inputs.form import (
    FormDropped,
    normalise,
    part_measures,
    pickup_steps,
    signs_from_part,
    split_at_marks,
)

if TYPE_CHECKING:
    import music21

log = logging.getLogger("melodyrnn.io")


DEFAULT_QPM = 120.0
DEFAULT_VELOCITY = 80  # Note's default: notation rarely states a MIDI velocity


def library_reason(exc: Exception) -> str:
    """A one-line reason from an exception of a library."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def score_from_stream(stream: Any, steps_per_quarter: int, source: str,
                      drops: Counter[str] | None = None) -> Score:
    """A music21 Score/Part/Stream -> Score: one Track per part, ties joined, grid-quantized,
    with the written form and pickup of the first pitched part.

    A form that cannot be made well-formed is left out (the notes stay as written), logged
    and counted in `drops` as "written form (reason)".
    """
    parts = _parts(stream)
    measures = [part_measures(part) for part in parts]
    tracks, context = [], _Context()
    moved = total = merged = graces = 0
    for part_index, part in enumerate(parts):
        walk = _walk_part(part, part_index, context, _pickup_quarters(measures[part_index]))
        _check_part(walk.raw, steps_per_quarter,
                    f"{source}: part {part_index + 1}" if source else f"part {part_index + 1}")
        onsets: dict[int, list[Fraction]] = {}  # step -> the unquantized onsets put there
        for pitch, start_q, end_q, velocity in walk.raw:
            start, was_moved = steps_from_quarters(start_q, steps_per_quarter)
            end, _ = steps_from_quarters(end_q, steps_per_quarter)
            total += 1
            moved += was_moved
            onsets.setdefault(start, []).append(start_q)
            walk.track.notes.append(Note(pitch, start, max(end - start, 1), velocity))
        # notes that the grid put on the onset of an earlier note (a chord's notes share theirs)
        merged += sum(q != min(qs) for qs in onsets.values() for q in qs)
        walk.track.notes.sort(key=lambda n: (n.start_step, -n.pitch))
        tracks.append(walk.track)
        graces += walk.grace_notes
    score = Score(tracks=tracks, steps_per_quarter=steps_per_quarter, qpm=context.qpm(),
                  time_signature=context.time_signature(), key=context.key(), source=source,
                  moved_onsets=moved, total_onsets=total, merged_notes=merged,
                  grace_notes=graces)
    pitched = next((i for i, t in enumerate(tracks) if t.notes and not t.is_drum), None)
    if pitched is not None:
        end, _ = steps_from_quarters(_pickup_quarters(measures[0]) + Fraction(stream.highestTime),
                                     steps_per_quarter)
        check_track_size(source or "the stream", 0, end)  # a long rest or a forward past the notes
        _read_form(score, parts[pitched], measures[pitched], end, drops)
    return score


def _check_part(raw: list[list[Any]], steps_per_quarter: int, subject: str) -> None:
    """Refuse a part over the limits of one melody from its notes in quarters, before a Note
    is made (a MusicXML duration of 10**14 would be 4 * 10**14 steps)."""
    if raw:
        end_q = max(r[2] for r in raw)
        check_track_size(subject, len(raw), math.ceil(end_q * steps_per_quarter))


def _read_form(score: Score, part: Any, measures: list[Any], end: int,
               drops: Counter[str] | None) -> None:
    """Fill `score.pickup_steps` and `score.form` from `part`, splitting any note that sounds
    across a mark; a form that will not come right is logged, counted and left out."""
    try:
        form, notes = _form_of(score, part, measures, end)
    except Exception as exc:  # a tune's form must never make reading fail
        if isinstance(exc, FormDropped):
            reason = str(exc)
        elif isinstance(exc, MelodyError):  # the checks of `core.form` normalise leaves to it
            reason = "marks that do not fit the notes"
        else:  # music21 handing over something this reader does not expect
            reason = f"signs not readable ({type(exc).__name__})"
        log.info("%s: written form left out, notes kept as written (%s)", score.source,
                 library_reason(exc))
        if drops is not None:
            drops[f"written form ({reason})"] += 1
        return
    score.form = form
    for track, track_notes in zip(score.tracks, notes, strict=True):
        track.notes = track_notes


def _form_of(score: Score, part: Any, measures: list[Any],
             end: int) -> tuple[tuple[Mark, ...], list[list[Note]]]:
    """The well-formed marks of `part` (setting the pickup), and each track's notes split at
    them; raises FormDropped (or MelodyError) for a form that cannot be made well-formed."""
    bar = steps_per_bar(score.time_signature, score.steps_per_quarter)
    pickup = pickup_steps(measures, score.steps_per_quarter, bar)
    start = bar - pickup if pickup else 0
    if any(n.start_step < start for t in score.tracks for n in t.notes):
        pickup, start = 0, 0  # another part begins before this part's pickup
    score.pickup_steps = pickup
    notes = [track.notes for track in score.tracks]
    signs = signs_from_part(part, measures, _pickup_quarters(measures),
                            score.steps_per_quarter)
    if not signs.marks:
        return (), notes
    marks = normalise(signs, start)
    notes = [split_at_marks(track_notes, marks) for track_notes in notes]
    form = check_form(marks, start, end, ((n.start_step, n.end_step)
                                          for track_notes in notes for n in track_notes))
    return form, notes


def _parts(stream: Any) -> list[Any]:
    """The parts of a score (staves of a piano part included), or the stream as one part."""
    from music21 import stream as m21stream

    return list(stream.getElementsByClass(m21stream.Part)) or [stream]


class _Context:
    """The earliest tempo, meter and key marks seen in any part (offset, part order)."""

    def __init__(self) -> None:
        self.marks: dict[str, tuple[tuple[Fraction, int], Any]] = {}

    def offer(self, kind: str, where: tuple[Fraction, int], value: Any) -> None:
        if value is not None and (kind not in self.marks or where < self.marks[kind][0]):
            self.marks[kind] = (where, value)

    def get(self, kind: str) -> Any:
        return self.marks[kind][1] if kind in self.marks else None

    def qpm(self) -> float:
        qpm = self.get("qpm")
        return round(float(qpm), 3) if qpm and 0 < qpm <= 1000 else DEFAULT_QPM

    def time_signature(self) -> tuple[int, int]:
        try:
            return parse_time_signature(self.get("meter") or (4, 4))
        except MelodyError:  # 7/3 or a free meter: the grid still works in 4/4
            return (4, 4)

    def key(self) -> Key | None:
        return self.get("key")


class _PartWalk(NamedTuple):
    """What one pass over a part found: raw notes [pitch, start_q, end_q, velocity] with ties
    joined, the Track to fill with them, and how many grace notes were left out."""

    raw: list[list[Any]]
    track: Track
    grace_notes: int


def _walk_part(part: Any, part_index: int, context: _Context, base: Fraction) -> _PartWalk:
    """One pass over a part: its notes (after `base` quarters of pickup padding), with tempo,
    meter and key marks offered to `context`."""
    from music21 import chord, instrument, key, meter, note, tempo

    raw: list[list[Any]] = []
    graces = 0
    open_ties: dict[int, int] = {}  # MIDI pitch -> index in raw of the note a tie continues
    program, is_drum = None, False
    for offset, el in _elements_with_offsets(part, base):
        if isinstance(el, note.NotRest):
            if isinstance(el, note.Unpitched) or el.duration.isGrace or el.quarterLength == 0:
                graces += el.duration.isGrace
                continue  # unpitched percussion and grace notes carry no melody steps
            start_q = offset
            end_q = start_q + Fraction(el.quarterLength)
            velocity = _velocity(el)
            subs: Any = el.notes if isinstance(el, chord.Chord) else (el,)
            for sub in subs:
                _add_tied(raw, open_ties, sub.pitch.midi, start_q, end_q, velocity,
                          getattr(sub, "tie", None) or el.tie)
        elif isinstance(el, tempo.MetronomeMark):
            context.offer("qpm", (offset, part_index), el.getQuarterBPM())
        elif isinstance(el, meter.TimeSignature):
            context.offer("meter", (offset, part_index), (el.numerator, el.denominator))
        elif isinstance(el, key.KeySignature):
            context.offer("key", (offset, part_index), key_from_music21(el))
        elif isinstance(el, instrument.Instrument) and program is None:
            program = el.midiProgram
            is_drum = el.midiChannel == 9 or isinstance(el, instrument.UnpitchedPercussion)
    raw = [r for r in raw if 0 <= r[0] <= 127]  # octave marks can push ABC notes off MIDI
    track = Track(notes=[], name=str(part.partName or ""), program=int(program or 0),
                  is_drum=is_drum)
    return _PartWalk(raw, track, graces)


def _pickup_quarters(measures: list[Any]) -> Fraction:
    """How much of a bar is missing before an upbeat (music21's paddingLeft), so that bar
    lines land on multiples of the bar length.

    0 without measures, and 0 for a lone short bar: music21 calls any short first bar a
    pickup, but music shorter than a bar starts on its downbeat.
    """
    if len(measures) < 2:
        return Fraction(0)
    return Fraction(measures[0].paddingLeft)


def _elements_with_offsets(container: Any, base: Fraction) -> Iterator[tuple[Fraction, Any]]:
    """(offset in quarters from the part's start, element) for every non-stream element.

    Not `flatten()`: music21's ABC reader puts one TimeSignature object in two bars, and a
    flat stream can hold an object at only one offset, so the first one moves (or vanishes).
    """
    from music21 import stream

    for el in container:
        offset = base + Fraction(el.getOffsetBySite(container))
        if isinstance(el, stream.Stream):
            yield from _elements_with_offsets(el, offset)
        else:
            yield offset, el


_TIE_GAP_QUARTERS = Fraction(1, 480)  # offsets that differ by less are one moment


def _add_tied(raw: list[list[Any]], open_ties: dict[int, int], pitch: int, start_q: Fraction,
              end_q: Fraction, velocity: int, tie: Any) -> None:
    """Append a note, or lengthen the note it is tied from.

    A tie joins only a note that starts where the open one ends: a tie written between two
    different pitches (a slur, in some transcriptions) must not stretch the first over the
    music up to the next note of its pitch.
    """
    kind = tie.type if tie is not None else None
    if kind in ("continue", "stop") and pitch in open_ties and \
            abs(raw[open_ties[pitch]][2] - start_q) < _TIE_GAP_QUARTERS:
        raw[open_ties[pitch]][2] = max(raw[open_ties[pitch]][2], end_q)
        if kind == "stop":
            del open_ties[pitch]
        return
    raw.append([pitch, start_q, end_q, velocity])
    if kind in ("start", "continue"):
        open_ties[pitch] = len(raw) - 1
    else:
        open_ties.pop(pitch, None)


def _velocity(el: Any) -> int:
    """The note's MIDI velocity if the notation states one, else the default."""
    if not el.hasVolumeInformation() or el.volume.velocity is None:
        return DEFAULT_VELOCITY
    return min(max(int(el.volume.velocity), 1), 127)


def key_from_music21(signature: Any) -> Key:
    """A music21 Key or KeySignature -> Key (a bare signature reads as its major key)."""
    mode = getattr(signature, "mode", None)
    tonic = getattr(signature, "tonic", None)
    if tonic is not None and mode in MODE_INTERVALS:
        return Key(tonic.pitchClass, mode)
    if tonic is not None and mode in ("ionian", "aeolian"):
        return Key(tonic.pitchClass, "major" if mode == "ionian" else "minor")
    return Key((7 * int(signature.sharps)) % 12, "major")


def from_music21(stream: music21.stream.Stream, steps_per_quarter: int = 4,
                 source: str = "") -> Melody:
    """The top line (skyline over all pitched parts) of a music21 stream, ties joined, with the
    written form and pickup of its first pitched part."""

    score = score_from_stream(stream, steps_per_quarter, source)
    end_quarters = _pickup_quarters(part_measures(_parts(stream)[0])) + \
        Fraction(stream.highestTime)
    return melody_from_score(score, steps_from_quarters(end_quarters, steps_per_quarter)[0])


def melody_from_score(score: Score, end_step: int | None = None) -> Melody:
    """The top line (skyline) of a Score's pitched tracks, with its written form and pickup."""
    notes = [n for track in score.tracks if not track.is_drum for n in track.notes]
    return Melody(skyline(notes), steps_per_quarter=score.steps_per_quarter, qpm=score.qpm,
                  time_signature=score.time_signature, key=score.key, source=score.source,
                  end_step=end_step, form=score.form, pickup_steps=score.pickup_steps)
