"""Write a melody as an ABC tune (standard ABC 2.1): the written form, spelled in the key.

The tune has the fields X:, T:, M:, L:, Q: and K:, then the measures of `outputs.measures`:
the pickup as a short first bar, repeat signs `|:` `:|` `::`, endings `|1` `:|2` (`:|3`
...), notes tied across bar lines with `-`, rests `z`, lengths as multiples and fractions of
the unit note L: (`3`, `3/2`, `/2`; never broken rhythm). An accidental is written where the
key signature and the accidentals already written in the bar do not give the note: the file
declares ABC 2.1 (`%abc-2.1`), in which an accidental holds to the end of its bar, and a note
is written so that it reads the same whether that holds for its octave only or for every
octave of its letter.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody
from melodyrnn.io.outputs.measures import DISCONTINUE, Event, Measure, measure_events, measures
from melodyrnn.io.outputs.spelling import pitch_class_names, signature_alters, spell, tonic_spelling

BARS_PER_LINE = 4
_MODE_SUFFIX = {"major": "", "minor": "m", "dorian": "dor", "phrygian": "phr", "lydian": "lyd",
                "mixolydian": "mix", "locrian": "loc"}
_ACCIDENTAL = {-1: "_", 0: "=", 1: "^"}
_FILE_SUFFIX = re.compile(r"\.[A-Za-z0-9]+(?=(#[^/]*|:track\d+)?$)")


def to_abc(melody: Melody, *, title: str | None = None) -> str:
    """The melody as the text of an ABC 2.1 file holding one tune."""
    unit = unit_note(melody)
    lines = ["%abc-2.1", "X:1", f"T:{_title(title, melody.source)}",
             f"M:{melody.time_signature[0]}/{melody.time_signature[1]}",
             f"L:1/{unit}", f"Q:{_tempo(melody.qpm)}", f"K:{_key_field(melody)}"]
    lines += _body(melody, Fraction(melody.steps_per_quarter * 4, unit))
    return "\n".join(lines) + "\n"


def write_abc(melody: Melody, path: str | Path, *, title: str | None = None) -> Path:
    """Write the melody as an ABC file (one tune, X:1); returns the path."""
    path = Path(path)
    path.write_text(to_abc(melody, title=title), encoding="utf-8")
    return path


# --- the header ------------------------------------------------------------------------------

def unit_note(melody: Melody) -> int:
    """The denominator of L:, the unit note length: 8 (eighths), or 16 where the meter counts
    sixteenths or most notes are shorter than an eighth (so lengths stay whole numbers)."""
    eighth_steps = Fraction(melody.steps_per_quarter, 2)
    short = sum(n.duration_steps < eighth_steps for n in melody.notes)
    return 16 if melody.time_signature[1] >= 16 or 2 * short > len(melody.notes) > 0 else 8


def _title(title: str | None, source: str) -> str:
    """The T: line: the title asked for, else the source's file name without its suffix
    ('tunes/kesh.abc#12' -> 'kesh #12'), else 'Untitled'. `%` would start a comment."""
    if title is None:
        name = _FILE_SUFFIX.sub("", source.rsplit("/", 1)[-1])
        title = re.sub(r":track(\d+)$", r" track \1", name).replace("#", " #")
    title = " ".join(title.replace("%", "").split())
    return title or "Untitled"


def _tempo(qpm: float) -> str:
    """Q: as a whole number of beats a minute: of quarters where qpm is whole, else of the
    eighths or sixteenths that make it whole (72.5 qpm is 145 eighths), else rounded."""
    for den in (4, 8, 16):
        beats = qpm * den / 4
        if abs(beats - round(beats)) < 1e-9:
            return f"1/{den}={max(1, round(beats))}"
    return f"1/4={max(1, round(qpm))}"


def _key_field(melody: Melody) -> str:
    """K: as ABC writes it: K:G, K:Em, K:Ddor, K:Bbmix; K:C when the key is unknown."""
    if melody.key is None:
        return "C"
    letter, alter = tonic_spelling(melody.key)
    return letter + {-1: "b", 0: "", 1: "#"}[alter] + _MODE_SUFFIX[melody.key.mode]


# --- the body --------------------------------------------------------------------------------

def _body(melody: Melody, unit_steps: Fraction) -> list[str]:
    """The tune's lines of music, BARS_PER_LINE counted bars a line."""
    layout = measures(melody)
    key = melody.key or Key(0, "major")  # K:C when the key is unknown
    names, key_alters = pitch_class_names(key), signature_alters(key.sharps)
    lines, line, bars = [], "", 0
    for i, (measure, events) in enumerate(zip(layout, measure_events(melody, layout),
                                              strict=True)):
        bar_line = _bar_line(layout[i - 1] if i else None, measure)
        if bars >= BARS_PER_LINE and not measure.ending_start:
            if measure.repeat_start:  # a line begins with its repeat sign
                lines.append(line.rstrip())
                line = bar_line
            else:
                lines.append((line + bar_line).rstrip())
                line = ""
            bars = 0
        else:
            line += bar_line
        line += _measure_text(melody, measure, events, unit_steps, names, key_alters)
        bars += measure.counted
    if layout:
        lines.append(line + _bar_line(layout[-1], None))
    return [text.strip() for text in lines if text.strip()]


def _bar_line(before: Measure | None, after: Measure | None) -> str:
    """The bar line between two measures (None: the tune's start or end), with the number
    of an ending that begins there, and `||` closing a last ending that ends mid-tune."""
    repeat_end = before is not None and before.repeat_end
    repeat_start = after is not None and after.repeat_start
    if repeat_end and repeat_start:
        token = "::"
    elif repeat_end:
        token = ":|"
    elif repeat_start:
        token = "|:"
    elif before is None:
        token = ""
    elif after is None:
        token = "|]"
    elif before.ending_stop == DISCONTINUE:
        token = "||"
    else:
        token = "|"
    if after is not None and after.ending_start:
        token += str(after.ending)
    return f"{token} " if token else ""


def _measure_text(melody: Melody, measure: Measure, events: list[Event], unit_steps: Fraction,
                  names: dict[int, tuple[str, int]], key_alters: dict[str, int]) -> str:
    """One measure's notes and rests, the notes that begin in one beat written together
    (so that they beam), a space before each beat's first."""
    beat = _beat_steps(melody)
    written: dict[tuple[str, int], int] = {}  # (letter, octave) -> accidental written in bar
    text, previous_beat = "", -1
    for event in events:
        this_beat = (event.start_step % melody.steps_per_bar) // beat
        if text and this_beat != previous_beat:
            text += " "
        previous_beat = this_beat
        length = _length(Fraction(event.duration_steps) / unit_steps)
        if event.pitch is None:
            text += "z" + length
            continue
        text += _note(event.pitch, names, key_alters, written) + length
        if event.tie_to:
            text += "-"
    return text + " "


def _beat_steps(melody: Melody) -> int:
    """Steps in a beat: a dotted quarter in 6/8, 9/8 and 12/8, else one note of the meter's
    denominator (at least one step)."""
    num, den = melody.time_signature
    note_steps = max(1, melody.steps_per_quarter * 4 // den)
    return 3 * note_steps if den >= 8 and num % 3 == 0 and num > 3 else note_steps


def _note(pitch: int, names: dict[int, tuple[str, int]], key_alters: dict[str, int],
          written: dict[tuple[str, int], int]) -> str:
    """A pitch in ABC, with the accidental it needs in this bar (and recorded in `written`).

    The accidental is written unless the note's own octave already reads right (by an
    accidental earlier in the bar, else by the key) and every accidental written on the same
    letter in other octaves agrees: then it reads the same under either rule of how far an
    accidental holds.
    """
    letter, alter, octave = spell(pitch, names)
    reads_as = written.get((letter, octave), key_alters[letter])
    others = [a for (lt, o), a in written.items() if lt == letter and o != octave]
    accidental = ""
    if reads_as != alter or any(a != alter for a in others):
        accidental = _ACCIDENTAL[alter]
        written[(letter, octave)] = alter
    if octave >= 5:
        return accidental + letter.lower() + "'" * (octave - 5)
    return accidental + letter + "," * (4 - octave)


def _length(units: Fraction) -> str:
    """A length in unit notes as ABC writes it: '' for 1, '3', '3/2', '/2', '/4'."""
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.numerator == 1:
        return f"/{units.denominator}"
    return f"{units.numerator}/{units.denominator}"
