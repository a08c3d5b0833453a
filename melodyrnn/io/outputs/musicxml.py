"""Melodies -> music21 scores and MusicXML files, spelled in their key.

music21 is imported inside the functions that use it (it takes seconds to import).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody

if TYPE_CHECKING:
    import music21


_ENCODING_DATE = re.compile(r"\n\s*<encoding-date>[^<]*</encoding-date>")
_PART_ID = re.compile(r'(<(?:score-part|part) id)="P[0-9a-f]{8,}"')


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
