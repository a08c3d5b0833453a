"""Notes, melodies and raw scores in quantized time, with pitch, key and meter helpers.

Time is counted in integer *steps*; `steps_per_quarter` (4 by default: sixteenth notes; 12
allows triplets) says how long a step is. A `Melody` is monophonic and validated on
construction; a `Score` is what a reader found in a file (several tracks, possibly chords)
before melodies are extracted from it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.errors import MelodyError

if TYPE_CHECKING:  # heavy imports stay out of `import melodyrnn`
    import music21
    import pretty_midi

# --- pitch names ------------------------------------------------------------------------------

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PITCH_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)(-?\d+)$")
_PC_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)$")


def pitch_to_name(pitch: int) -> str:
    """MIDI number to scientific pitch name: 60 -> 'C4', 61 -> 'C#4'."""
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _accidental_offset(acc: str) -> int:
    return acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭")


def name_to_pitch(name: str) -> int:
    """Scientific pitch name to MIDI number: 'C4' -> 60, 'Eb3' -> 51, 'F#5' -> 78."""
    m = _PITCH_RE.match(name.strip())
    if not m:
        raise MelodyError(f"'{name}' is not a pitch name; write a letter, an optional # or b, "
                          "and an octave, e.g. C4, F#3, Bb5")
    letter, acc, octave = m.groups()
    pitch = _LETTER_PC[letter.upper()] + _accidental_offset(acc) + 12 * (int(octave) + 1)
    if not 0 <= pitch <= 127:
        raise MelodyError(f"pitch '{name}' is MIDI {pitch}, outside 0-127")
    return pitch


def name_to_pitch_class(name: str) -> int:
    """Pitch-class name to 0-11: 'C' -> 0, 'F#' -> 6, 'Bb' -> 10."""
    m = _PC_RE.match(name.strip())
    if not m:
        raise MelodyError(f"'{name}' is not a pitch-class name such as C, F# or Bb")
    letter, acc = m.groups()
    return (_LETTER_PC[letter.upper()] + _accidental_offset(acc)) % 12


# --- keys and modes ---------------------------------------------------------------------------

# Semitones above the tonic of each mode's scale degrees.
MODE_INTERVALS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
_MODE_ALIASES = {"ionian": "major", "aeolian": "minor", "maj": "major", "min": "minor",
                 "m": "minor", "dor": "dorian", "mix": "mixolydian", "phr": "phrygian",
                 "lyd": "lydian", "loc": "locrian"}
# How far the mode's tonic lies above the tonic of the major scale with the same notes.
_MODE_OFFSET = {"major": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7,
                "minor": 9, "locrian": 11}


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0-11) and a mode name from MODE_INTERVALS."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic <= 11:
            raise MelodyError(f"key tonic {self.tonic} is not a pitch class 0-11")
        if self.mode not in MODE_INTERVALS:
            raise MelodyError(f"key mode '{self.mode}' is not one of {', '.join(MODE_INTERVALS)}")

    @classmethod
    def parse(cls, text: str) -> Key:
        """'D:dorian', 'D dorian', 'Dm', 'F#:minor' or 'Bb' (major) -> Key."""
        s = text.strip()
        m = re.match(r"^([A-Ga-g][#b♯♭]*)\s*[:_ ]?\s*([A-Za-z]*)$", s)
        if not m:
            raise MelodyError(f"'{text}' is not a key; write a tonic and a mode, e.g. D:dorian, "
                              "A:minor, G:major")
        tonic = name_to_pitch_class(m.group(1))
        mode = m.group(2).lower() or "major"
        mode = _MODE_ALIASES.get(mode, mode)
        if mode not in MODE_INTERVALS:
            raise MelodyError(f"'{text}': mode '{m.group(2)}' is not one of "
                              f"{', '.join(MODE_INTERVALS)}")
        return cls(tonic, mode)

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The seven pitch classes of this key's scale."""
        return frozenset((self.tonic + i) % 12 for i in MODE_INTERVALS[self.mode])

    @property
    def sharps(self) -> int:
        """Key-signature accidentals: positive sharps, negative flats (-6..6)."""
        major_tonic = (self.tonic - _MODE_OFFSET[self.mode]) % 12
        fifths = (major_tonic * 7) % 12  # position on the circle of fifths from C
        return fifths - 12 if fifths > 6 else fifths

    def transpose(self, semitones: int) -> Key:
        """The same mode on a tonic moved by `semitones`."""
        return Key((self.tonic + semitones) % 12, self.mode)

    def __str__(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]}:{self.mode}"


def parse_time_signature(text: str | Sequence[int]) -> tuple[int, int]:
    """'6/8' or (6, 8) -> (6, 8), checking numerator >= 1 and a power-of-two denominator."""
    if isinstance(text, str):
        m = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", text)
        if not m:
            raise MelodyError(f"'{text}' is not a time signature such as 4/4 or 6/8")
        num, den = int(m.group(1)), int(m.group(2))
    else:
        num, den = (int(x) for x in text)
    if num < 1 or num > 64 or den < 1 or den > 64 or den & (den - 1):
        raise MelodyError(f"time signature {num}/{den} is not valid: the numerator must be "
                          "1-64 and the denominator a power of two up to 64")
    return num, den


# --- notes and melodies -----------------------------------------------------------------------

@dataclass(frozen=True)
class Note:
    """One note: MIDI `pitch` 0-127, `start_step` >= 0 and `duration_steps` >= 1 in quantized
    steps, MIDI `velocity` 1-127."""

    pitch: int
    start_step: int
    duration_steps: int
    velocity: int = 80

    def __post_init__(self) -> None:
        for name in ("pitch", "start_step", "duration_steps", "velocity"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise MelodyError(f"note {name} must be an integer, got {value!r}")
        if not 0 <= self.pitch <= 127:
            raise MelodyError(f"note pitch {self.pitch} is outside MIDI 0-127")
        if self.start_step < 0:
            raise MelodyError(f"note at pitch {self.pitch} starts at step {self.start_step} < 0")
        if self.duration_steps < 1:
            raise MelodyError(f"note at step {self.start_step} has duration "
                              f"{self.duration_steps}; durations are at least 1 step")
        if not 1 <= self.velocity <= 127:
            raise MelodyError(f"note at step {self.start_step} has velocity {self.velocity}, "
                              "outside 1-127")

    @property
    def end_step(self) -> int:
        """The step at which the note stops sounding (exclusive)."""
        return self.start_step + self.duration_steps


@dataclass(frozen=True)
class Melody:
    """A monophonic melody: notes in time order with no overlap, plus its context.

    `qpm` is the tempo in quarter notes per minute; `time_signature` is (numerator,
    denominator); `key` is a `Key` or None when unknown; `source` names where it came from
    (a file and track, or a corpus id) and is what the dataset split hashes.
    """

    notes: tuple[Note, ...]
    steps_per_quarter: int = 4
    qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    source: str = ""
    end_step: int = field(default=-1, compare=False)

    def __init__(self, notes: Iterable[Note], steps_per_quarter: int = 4, qpm: float = 120.0,
                 time_signature: str | Sequence[int] = (4, 4), key: Key | str | None = None,
                 source: str = "", end_step: int | None = None) -> None:
        notes = tuple(notes)
        where = f"{source}: " if source else ""
        if not isinstance(steps_per_quarter, int) or not 1 <= steps_per_quarter <= 96:
            raise MelodyError(f"{where}steps_per_quarter {steps_per_quarter!r} must be 1-96")
        if not qpm > 0 or qpm > 1000:
            raise MelodyError(f"{where}tempo {qpm!r} qpm must be above 0 and at most 1000")
        for i, note in enumerate(notes):
            if not isinstance(note, Note):
                raise MelodyError(f"{where}item {i} is {type(note).__name__}, not a Note")
            if i and note.start_step < notes[i - 1].end_step:
                prev = notes[i - 1]
                raise MelodyError(
                    f"{where}note {i} (pitch {note.pitch}) starts at step {note.start_step}, "
                    f"before note {i - 1} (pitch {prev.pitch}) ends at step {prev.end_step}; "
                    "a melody is monophonic")
        last = notes[-1].end_step if notes else 0
        if end_step is None or end_step < last:
            end_step = last
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "steps_per_quarter", steps_per_quarter)
        object.__setattr__(self, "qpm", float(qpm))
        object.__setattr__(self, "time_signature", parse_time_signature(time_signature))
        object.__setattr__(self, "key", Key.parse(key) if isinstance(key, str) else key)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "end_step", end_step)

    # -- views --
    def __len__(self) -> int:
        return len(self.notes)

    def __iter__(self) -> Iterator[Note]:
        return iter(self.notes)

    @property
    def pitches(self) -> list[int]:
        """MIDI pitches in order."""
        return [n.pitch for n in self.notes]

    @property
    def steps_per_bar(self) -> int:
        """Steps in one bar of the time signature (may be fractional meters rounded down)."""
        num, den = self.time_signature
        return max(1, num * self.steps_per_quarter * 4 // den)

    @property
    def seconds(self) -> float:
        """Length in seconds at the melody's tempo."""
        return self.end_step * self.step_seconds

    @property
    def step_seconds(self) -> float:
        """Duration of one step in seconds."""
        return 60.0 / (self.qpm * self.steps_per_quarter)

    def replace(self, **changes: Any) -> Melody:
        """A copy with some fields changed (and validated again)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if "notes" in changes and "end_step" not in changes:
            fields["end_step"] = None
        fields.update(changes)
        return Melody(**fields)

    def transpose(self, semitones: int) -> Melody:
        """All pitches (and the key) moved by `semitones`; raises if any leaves 0-127."""
        notes = [dataclasses.replace(n, pitch=n.pitch + semitones)
                 if 0 <= n.pitch + semitones <= 127 else _out_of_range(n, semitones, self.source)
                 for n in self.notes]
        key = self.key.transpose(semitones) if self.key else None
        return self.replace(notes=notes, key=key, end_step=self.end_step)

    def __repr__(self) -> str:
        key = f", key={self.key}" if self.key else ""
        src = f", source={self.source!r}" if self.source else ""
        return (f"Melody({len(self.notes)} notes, {self.end_step} steps at "
                f"{self.steps_per_quarter}/quarter, {self.qpm:g} qpm, "
                f"{self.time_signature[0]}/{self.time_signature[1]}{key}{src})")

    # -- conversions --
    def to_pretty_midi(self, program: int = 0) -> pretty_midi.PrettyMIDI:
        """A PrettyMIDI with one instrument (General MIDI `program`), tempo, meter and key."""
        from melodyrnn import midi_io
        return midi_io.to_pretty_midi(self, program=program)

    @classmethod
    def from_pretty_midi(cls, pm: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4,
                         source: str = "") -> Melody:
        """The first melody (skyline of the first pitched track) of a PrettyMIDI object."""
        from melodyrnn import midi_io
        return midi_io.from_pretty_midi(pm, steps_per_quarter=steps_per_quarter, source=source)

    def to_music21(self) -> music21.stream.Score:
        """A music21 score with one part holding meter, key, tempo, notes and rests."""
        from melodyrnn import notation_io
        return notation_io.to_music21(self)

    @classmethod
    def from_music21(cls, stream: music21.stream.Stream, steps_per_quarter: int = 4,
                     source: str = "") -> Melody:
        """The top line of a music21 stream (ties joined, chords reduced to their top note)."""
        from melodyrnn import notation_io
        return notation_io.from_music21(stream, steps_per_quarter=steps_per_quarter,
                                        source=source)

    def _repr_html_(self) -> str:
        """In Jupyter: the score, with an audio player under it."""
        from melodyrnn.render import melody_repr_html
        return melody_repr_html(self)

    def write(self, path: str | Path, *, force: bool = True, **options: Any) -> Path:
        """Write to a file chosen by its suffix (.mid .musicxml .mxl .svg .png .pdf .wav)."""
        from melodyrnn import export
        return export.write_melody(self, Path(path), force=force, **options)


def _out_of_range(note: Note, semitones: int, source: str) -> Note:
    where = f"{source}: " if source else ""
    raise MelodyError(f"{where}transposing pitch {note.pitch} by {semitones} leaves MIDI 0-127")


def steps_from_quarters(quarters: float | Fraction, steps_per_quarter: int) -> tuple[int, bool]:
    """Quarter-note position -> (nearest step, whether rounding moved it)."""
    exact = Fraction(quarters).limit_denominator(10_000) * steps_per_quarter
    step = int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
    return step, exact != step


# --- raw scores, before melody extraction -----------------------------------------------------

@dataclass
class Track:
    """One track or part as read: may hold chords and overlapping notes."""

    notes: list[Note]
    name: str = ""
    program: int = 0
    is_drum: bool = False


@dataclass
class Score:
    """What a reader found in one file (or one tune of an ABC book), quantized to steps.

    `moved_onsets` counts note onsets that quantization moved off their exact time, out of
    `total_onsets`, so callers can report how much the grid changed the music.
    """

    tracks: list[Track]
    steps_per_quarter: int = 4
    qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    source: str = ""
    moved_onsets: int = 0
    total_onsets: int = 0
