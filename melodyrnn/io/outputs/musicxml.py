"""Melodies -> music21 scores and MusicXML files: the written form, spelled in the key.

The score shows the measures of `outputs.measures`: a short pickup bar (measure 0), repeat
barlines and numbered volta brackets. music21 is imported inside the functions that use it
(it takes seconds to import).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody
from melodyrnn.io.outputs.measures import DISCONTINUE, Event, Measure, measure_events, measures
from melodyrnn.io.outputs.spelling import Spelling, pitch_class_names, spell

if TYPE_CHECKING:
    import music21


_ENCODING_DATE = re.compile(r"\n\s*<encoding-date>[^<]*</encoding-date>")
_PART_ID = re.compile(r'(<(?:score-part|part) id)="P[0-9a-f]{8,}"')
_MXL_CONTAINER = ('<?xml version="1.0" encoding="UTF-8"?>\n<container>\n  <rootfiles>\n'
                  '    <rootfile full-path="{name}" '
                  'media-type="application/vnd.recordare.musicxml+xml"/>\n'
                  '  </rootfiles>\n</container>\n')


def to_music21(melody: Melody) -> music21.stream.Score:
    """A music21 Score with one part: meter, key and tempo, then the written tune in
    measures, with its pickup bar, repeat barlines and volta brackets."""
    from music21 import bar, clef, meter, note, spanner, stream, tempo

    layout = measures(melody)
    names = pitch_class_names(melody.key) if melody.key is not None else None
    part = stream.Part()
    brackets: list[list[Any]] = []
    for measure, events in zip(layout, measure_events(melody, layout), strict=True):
        m21_measure = _measure(melody, measure, events, names)
        if measure.ending_start:
            brackets.append([measure.ending])
        if measure.ending:
            brackets[-1].append(m21_measure)
        part.append(m21_measure)
    if not layout:  # an empty melody is one empty bar
        part.append(stream.Measure(number=1))
    m21_measures = list(part.getElementsByClass(stream.Measure))
    first, last = m21_measures[0], m21_measures[-1]
    num, den = melody.time_signature
    first.insert(0, clef.bestClef(part, recurse=True))
    first.insert(0, meter.TimeSignature(f"{num}/{den}"))
    if melody.key is not None:
        first.insert(0, key_to_music21(melody.key))
    first.insert(0, tempo.MetronomeMark(number=melody.qpm, referent=note.Note(type="quarter")))
    if last.rightBarline is None:
        last.rightBarline = bar.Barline("final")
    for number, *spanned in brackets:
        part.insert(0, spanner.RepeatBracket(spanned, number=number))
    score = stream.Score([part])
    # beams, accidentals and tuplet brackets, so the file is notation, not a list
    score.makeNotation(inPlace=True)
    score.splitAtDurations(recurse=True)  # 2.5 quarters is no single note value: tie two
    return score


def _measure(melody: Melody, measure: Measure, events: list[Event],
             names: dict[int, tuple[str, int]] | None) -> music21.stream.Measure:
    """One music21 Measure: its notes and rests, its padding when it is shorter than a bar
    (so beams follow the beats), its number and its repeat barlines."""
    from music21 import bar, note, stream, tie

    spq, bar_steps = melody.steps_per_quarter, melody.steps_per_bar
    m21_measure = stream.Measure(number=measure.number)
    if not measure.counted:  # MusicXML's implicit="yes": left out of the bar count
        m21_measure.showNumber = stream.enums.ShowNumber.NEVER
        if measure.number:  # the rest of a bar split by a sign: "8X1" beside measure 8
            m21_measure.numberSuffix = "X1"
    offset_in_bar = measure.start_step % bar_steps
    m21_measure.paddingLeft = Fraction(offset_in_bar, spq)
    if offset_in_bar + measure.duration_steps < bar_steps:
        m21_measure.paddingRight = Fraction(
            bar_steps - offset_in_bar - measure.duration_steps, spq)
    short = offset_in_bar + measure.duration_steps < bar_steps or offset_in_bar > 0
    for event in events:
        length = Fraction(event.duration_steps, spq)
        if event.pitch is None:
            # a lone whole (or breve) rest means "the whole bar" to readers (music21 makes
            # it one), so in a short bar it is written as two halves that keep its length
            halves = short and len(events) == 1 and length in (4, 8)
            for part in ([length / 2] * 2 if halves else [length]):
                m21_measure.append(note.Rest(quarterLength=part))
            continue
        m21_note = note.Note(_pitch(event.pitch, names), quarterLength=length)
        m21_note.volume.velocity = event.velocity
        if event.tie_from or event.tie_to:
            m21_note.tie = tie.Tie("continue" if event.tie_from and event.tie_to else
                                   "stop" if event.tie_from else "start")
        m21_measure.append(m21_note)
    if measure.repeat_start:
        m21_measure.leftBarline = bar.Repeat(direction="start")
    if measure.repeat_end:
        m21_measure.rightBarline = bar.Repeat(direction="end")
    return m21_measure


def key_to_music21(key: Key) -> music21.key.Key:
    """Key -> music21 Key spelled from its signature (Db major, not C# major)."""
    from music21 import key as m21key

    return m21key.KeySignature(key.sharps).asKey(key.mode)


def _pitch(midi: int, names: dict[int, tuple[str, int]] | None) -> Any:
    """A music21 Pitch for a MIDI number, spelled in the key (music21's own spelling when
    the key is unknown)."""
    from music21 import pitch

    if names is None:
        return pitch.Pitch(midi=midi)
    written: Spelling = spell(midi, names)
    return pitch.Pitch(written.name, octave=written.octave)


def to_musicxml(melody: Melody) -> str:
    """The melody as the text of a MusicXML file, the same bytes for the same melody."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    exporter = GeneralObjectExporter(to_music21(melody))
    exporter.makeNotation = False  # to_music21 already made bars and ties
    text = exporter.parse().decode("utf-8")
    # music21 writes the date and a random part id: the same melody would give other bytes
    text = _PART_ID.sub(r'\1="P1"', _ENCODING_DATE.sub("", text))
    return _open_last_endings(text, measures(melody))


def _open_last_endings(text: str, layout: list[Measure]) -> str:
    """The last ending's bracket ends without a hook (MusicXML's type "discontinue"), which
    music21 does not write: it ends every bracket with type "stop"."""
    open_at = {i for i, m in enumerate(layout) if m.ending_stop == DISCONTINUE}
    if not open_at:
        return text
    head, body = text[:text.index("<score-partwise")], text[text.index("<score-partwise"):]
    root = ET.fromstring(body)
    for i, measure in enumerate(root.iter("measure")):
        if i in open_at:
            for ending in measure.iterfind("barline[@location='right']/ending"):
                ending.set("type", DISCONTINUE)
    return head + ET.tostring(root, encoding="unicode")


def write_musicxml(melody: Melody, path: str | Path) -> Path:
    """Write `melody` as MusicXML (.musicxml/.xml, or compressed .mxl); returns the path."""
    path = Path(path)
    text = to_musicxml(melody)
    if path.suffix.lower() != ".mxl":
        path.write_text(text, encoding="utf-8")
        return path
    name = path.with_suffix(".musicxml").name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # the mimetype entry first and stored, as the MusicXML container format asks
        archive.writestr("mimetype", "application/vnd.recordare.musicxml",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", _MXL_CONTAINER.format(name=name))
        archive.writestr(name, text)
    return path
