"""Read MusicXML and ABC (via music21) into Scores; convert melodies to and from music21.

music21 streams are turned into Scores directly (notes, chords and ties walked once per part),
never through music21's MIDI writer, which fails on a share of folk tunes and is slow. An ABC
book is split into tunes here so that one broken tune is skipped and counted, not fatal.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.errors import MelodyError, ReadError
from melodyrnn.music import (
    MODE_INTERVALS,
    Key,
    Melody,
    Note,
    Score,
    Track,
    parse_time_signature,
    steps_from_quarters,
)

if TYPE_CHECKING:
    import music21

log = logging.getLogger(__name__)

_ENCODING_DATE = re.compile(r"\n\s*<encoding-date>[^<]*</encoding-date>")
_PART_ID = re.compile(r'(<(?:score-part|part) id)="P[0-9a-f]{8,}"')
DEFAULT_QPM = 120.0
DEFAULT_VELOCITY = 80  # Note's default: notation rarely states a MIDI velocity


# --- reading files ----------------------------------------------------------------------------

def read_scores(path: str | Path, steps_per_quarter: int = 4,
                drops: Counter[str] | None = None) -> list[Score]:
    """Scores in a .musicxml/.mxl/.xml file (one) or an .abc file (one per tune).

    A tune that music21 cannot translate is skipped, logged and counted in `drops` as
    "unreadable tune (<exception name>)"; a file that cannot be read at all raises ReadError.
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: " + ("is a directory" if path.is_dir() else "no such file"))
    if path.suffix.lower() == ".abc":
        from melodyrnn.abc_io import read_abc
        return read_abc(path, steps_per_quarter, drops)
    return _read_musicxml(path, steps_per_quarter)


def _read_musicxml(path: Path, steps_per_quarter: int) -> list[Score]:
    """A MusicXML file (plain or compressed) -> one Score (or one per work of an opus)."""
    from music21 import converter, stream

    try:
        # no pickle cache: music21 would write one per file into its scratch folder
        parsed = converter.parseFile(path, format="musicxml", forceSource=True,
                                     storePickle=False)
    except Exception as exc:  # music21 raises many kinds; none may escape as a crash
        raise ReadError(f"{path}: not readable as MusicXML ({_reason(exc)})") from exc
    works = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    scores = []
    for i, work in enumerate(works):
        source = str(path) if len(works) == 1 else f"{path}#{i + 1}"
        try:
            scores.append(_score_from_stream(work, steps_per_quarter, source))
        except Exception as exc:
            raise ReadError(f"{source}: cannot be converted ({_reason(exc)})") from exc
    return scores


def _reason(exc: Exception) -> str:
    """A one-line reason from an exception of a library."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --- music21 streams -> Score ----------------------------------------------------------------

def _score_from_stream(stream: Any, steps_per_quarter: int, source: str) -> Score:
    """A music21 Score/Part/Stream -> Score: one Track per part, ties joined, grid-quantized."""
    parts = _parts(stream)
    tracks, context = [], _Context()
    moved = total = 0
    for part_index, part in enumerate(parts):
        raw_notes, track = _walk_part(part, part_index, context)
        for pitch, start_q, end_q, velocity in raw_notes:
            start, was_moved = steps_from_quarters(start_q, steps_per_quarter)
            end, _ = steps_from_quarters(end_q, steps_per_quarter)
            total += 1
            moved += was_moved
            track.notes.append(Note(pitch, start, max(end - start, 1), velocity))
        track.notes.sort(key=lambda n: (n.start_step, -n.pitch))
        tracks.append(track)
    return Score(tracks=tracks, steps_per_quarter=steps_per_quarter, qpm=context.qpm(),
                 time_signature=context.time_signature(), key=context.key(), source=source,
                 moved_onsets=moved, total_onsets=total)


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


def _walk_part(part: Any, part_index: int,
               context: _Context) -> tuple[list[list[Any]], Track]:
    """One pass over a part: raw notes [pitch, start_q, end_q, velocity] with ties joined,
    plus marks offered to `context` and a Track to fill."""
    from music21 import chord, instrument, key, meter, note, tempo

    raw: list[list[Any]] = []
    open_ties: dict[int, int] = {}  # MIDI pitch -> index in raw of the note a tie continues
    program, is_drum = None, False
    for offset, el in _elements_with_offsets(part, _pickup_quarters(part)):
        if isinstance(el, note.NotRest):
            if isinstance(el, note.Unpitched) or el.duration.isGrace or el.quarterLength == 0:
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
    return raw, track


def _pickup_quarters(part: Any) -> Fraction:
    """How much of a bar is missing before an upbeat (music21's paddingLeft), so that bar
    lines land on multiples of the bar length.

    0 without measures, and 0 for a lone short bar: music21 calls any short first bar a
    pickup, but music shorter than a bar starts on its downbeat.
    """
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
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


def _add_tied(raw: list[list[Any]], open_ties: dict[int, int], pitch: int, start_q: Fraction,
              end_q: Fraction, velocity: int, tie: Any) -> None:
    """Append a note, or lengthen the note it is tied from."""
    kind = tie.type if tie is not None else None
    if kind in ("continue", "stop") and pitch in open_ties:
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


# --- Melody <-> music21 -----------------------------------------------------------------------

def from_music21(stream: music21.stream.Stream, steps_per_quarter: int = 4,
                 source: str = "") -> Melody:
    """The top line (skyline over all pitched parts) of a music21 stream, ties joined."""
    from melodyrnn.preprocess import skyline  # extraction rules live with the extractor

    score = _score_from_stream(stream, steps_per_quarter, source)
    notes = [n for track in score.tracks if not track.is_drum for n in track.notes]
    end_quarters = _pickup_quarters(_parts(stream)[0]) + Fraction(stream.highestTime)
    end_step, _ = steps_from_quarters(end_quarters, steps_per_quarter)
    return Melody(skyline(notes), steps_per_quarter=steps_per_quarter, qpm=score.qpm,
                  time_signature=score.time_signature, key=score.key, source=source,
                  end_step=end_step)


def to_music21(melody: Melody) -> music21.stream.Score:
    """A music21 Score with one part: meter, key, tempo, then notes and rests in bars."""
    from music21 import meter, note, stream, tempo

    spq = melody.steps_per_quarter
    part = stream.Part()
    num, den = melody.time_signature
    part.append(meter.TimeSignature(f"{num}/{den}"))
    spelling: dict[int, str] = {}
    if melody.key is not None:
        m21_key = key_to_music21(melody.key)
        part.append(m21_key)
        spelling = _spelling(m21_key)
    part.append(tempo.MetronomeMark(number=melody.qpm, referent=note.Note(type="quarter")))
    cursor = 0
    for n in melody.notes:
        if n.start_step > cursor:
            part.append(note.Rest(quarterLength=Fraction(n.start_step - cursor, spq)))
        m21_note = note.Note(_pitch(n.pitch, spelling),
                             quarterLength=Fraction(n.duration_steps, spq))
        m21_note.volume.velocity = n.velocity
        part.append(m21_note)
        cursor = n.end_step
    if melody.end_step > cursor:
        part.append(note.Rest(quarterLength=Fraction(melody.end_step - cursor, spq)))
    score = stream.Score([part])
    # bars, ties across bar lines and tuplet brackets, so the file is notation, not a list
    score.makeNotation(inPlace=True)
    score.splitAtDurations(recurse=True)  # 2.5 quarters is no single note value: tie two
    return score


def key_to_music21(key: Key) -> music21.key.Key:
    """Key -> music21 Key spelled from its signature (Db major, not C# major)."""
    from music21 import key as m21key

    return m21key.KeySignature(key.sharps).asKey(key.mode)


# How a chromatic note outside the scale is usually written, by semitones above the tonic:
# lowered 2nd, 3rd, 6th and 7th as flats; raised 4th and the leading tone as sharps; the
# minor 2nd above the tonic as a flat in minor-third modes and a raised tonic in major ones.
_CHROMATIC_FLAT = {1: None, 3: True, 4: False, 6: False, 8: True, 10: True, 11: False}


def _spelling(m21_key: Any) -> dict[int, str]:
    """Pitch class -> note name: the key's scale names, then each black key spelled as its
    interval above the tonic is usually written (Bb in D dorian, C# in D dorian, F# in C)."""
    from music21 import pitch

    names = {p.pitchClass: p.name for p in m21_key.getPitches()}
    tonic = m21_key.tonic.pitchClass
    minor_third = (tonic + 3) % 12 in names and (tonic + 4) % 12 not in names
    for pc in range(12):
        if pc not in names:
            p = pitch.Pitch(pc)
            alter = p.accidental.alter if p.accidental is not None else 0
            if alter:  # white keys stay natural
                flat = _CHROMATIC_FLAT.get((pc - tonic) % 12, m21_key.sharps < 0)
                if flat is None:
                    flat = minor_third
                if flat == (alter > 0):
                    p = p.getEnharmonic() or p
            names[pc] = p.name
    return names


def _pitch(midi: int, spelling: dict[int, str]) -> Any:
    """A music21 Pitch for a MIDI number, spelled as the key asks."""
    from music21 import pitch

    p = pitch.Pitch(midi=midi)
    name = spelling.get(midi % 12)
    if name and name != p.name:
        p = pitch.Pitch(name, octave=4)
        p.octave += (midi - p.midi) // 12  # B#, Cb: the octave number is not the MIDI octave
    return p


def write_musicxml(melody: Melody, path: str | Path) -> Path:
    """Write `melody` as MusicXML (.musicxml/.xml, or compressed .mxl); returns the path."""
    path = Path(path)
    to_music21(melody).write("musicxml", fp=path, makeNotation=False)
    if path.suffix.lower() != ".mxl":
        # music21 writes the date and a random part id: the same melody would give other bytes
        text = _ENCODING_DATE.sub("", path.read_text(encoding="utf-8"))
        path.write_text(_PART_ID.sub(r'\1="P1"', text), encoding="utf-8")
    return path
