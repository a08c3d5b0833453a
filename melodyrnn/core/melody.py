"""Notes and melodies in quantized time: `Note` and `Melody`, validated on construction.

Time is counted in integer *steps*; `steps_per_quarter` (4 by default: sixteenth notes; 12
allows triplets) says how long a step is. A `Melody` is monophonic.
"""

from __future__ import annotations

import bisect
import dataclasses
import importlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.core.form import Mark, check_form, playing_order
from melodyrnn.core.key import Key
from melodyrnn.core.limits import limit, over_limit
from melodyrnn.core.meter import parse_time_signature, steps_per_bar
from melodyrnn.errors import MelodyError

if TYPE_CHECKING:  # heavy imports stay out of `import melodyrnn`
    import music21
    import pretty_midi


@dataclass(frozen=True)
class Note:
    """One note: MIDI `pitch` 0-127, `start_step` >= 0 and `duration_steps` >= 1 in quantized
    steps, MIDI `velocity` 1-127."""

    pitch: int
    start_step: int
    duration_steps: int
    velocity: int = 80

    def __post_init__(self) -> None:
        p, s, d, v = self.pitch, self.start_step, self.duration_steps, self.velocity
        if type(p) is int and type(s) is int and type(d) is int and type(v) is int and \
                0 <= p <= 127 and s >= 0 and d >= 1 and 1 <= v <= 127:
            return  # the common case, checked at once (melodies hold many notes)
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
    """A monophonic melody: notes in time order with no overlap, plus its context and form.

    `qpm` is the tempo in quarter notes per minute; `time_signature` is (numerator,
    denominator); `key` is a `Key` or None when unknown; `source` names where it came from
    (a file and track, or a corpus id) and is what the dataset split hashes.

    The notes are the written ones, each once. `form` holds the repeat signs and endings
    (`core.form.Mark`s) and `pickup_steps` the length of an upbeat bar: bar lines stand at
    multiples of `steps_per_bar`, so a tune with a pickup begins at step
    `steps_per_bar - pickup_steps` and nothing is written before it. `unfold()` gives the
    melody as played (repeats and endings expanded).
    """

    notes: tuple[Note, ...]
    steps_per_quarter: int = 4
    qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    source: str = ""
    end_step: int = field(default=-1, compare=False)
    form: tuple[Mark, ...] = ()
    pickup_steps: int = 0

    def __init__(self, notes: Iterable[Note], steps_per_quarter: int = 4, qpm: float = 120.0,
                 time_signature: str | Sequence[int] = (4, 4), key: Key | str | None = None,
                 source: str = "", end_step: int | None = None,
                 form: Iterable[Mark] = (), pickup_steps: int = 0) -> None:
        notes = tuple(notes)
        where = f"{source}: " if source else ""
        if len(notes) > limit("max_melody_notes"):
            raise MelodyError(over_limit("max_melody_notes", len(notes), source or "the melody"))
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
        meter = parse_time_signature(time_signature)
        bar = steps_per_bar(meter, steps_per_quarter)
        if not isinstance(pickup_steps, int) or not 0 <= pickup_steps < bar:
            raise MelodyError(f"{where}pickup of {pickup_steps!r} steps must be 0 (none) or "
                              f"shorter than a bar ({bar} steps)")
        start = bar - pickup_steps if pickup_steps else 0
        if pickup_steps and notes and notes[0].start_step < start:
            raise MelodyError(f"{where}the first note starts at step {notes[0].start_step}, "
                              f"before the {pickup_steps}-step pickup begins (step {start})")
        form = tuple(form)
        last = max([notes[-1].end_step if notes else 0, start] + [m.step for m in form
                                                                 if isinstance(m, Mark)])
        if end_step is None or end_step < last:
            end_step = last
        if end_step > limit("max_melody_steps"):
            raise MelodyError(over_limit("max_melody_steps", end_step, source or "the melody"))
        if form:
            form = check_form(form, start, end_step,
                              ((n.start_step, n.end_step) for n in notes), where)
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "steps_per_quarter", steps_per_quarter)
        object.__setattr__(self, "qpm", float(qpm))
        object.__setattr__(self, "time_signature", meter)
        object.__setattr__(self, "key", Key.parse(key) if isinstance(key, str) else key)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "end_step", end_step)
        object.__setattr__(self, "form", form)
        object.__setattr__(self, "pickup_steps", pickup_steps)

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
        """Steps in one bar of the time signature (see `core.meter.steps_per_bar`)."""
        return steps_per_bar(self.time_signature, self.steps_per_quarter)

    @property
    def seconds(self) -> float:
        """Length in seconds at the melody's tempo."""
        return self.end_step * self.step_seconds

    @property
    def step_seconds(self) -> float:
        """Duration of one step in seconds."""
        return 60.0 / (self.qpm * self.steps_per_quarter)

    @property
    def start_step(self) -> int:
        """Where the written tune begins: 0, or the start of the pickup."""
        return self.steps_per_bar - self.pickup_steps if self.pickup_steps else 0

    @property
    def repeats(self) -> bool:
        """Whether the melody has repeat signs (so `unfold()` plays more than is written)."""
        return bool(self.form)

    def unfold(self) -> Melody:
        """The melody as played: repeats taken and endings chosen by pass, without form marks.

        It begins where the written tune does (a pickup stays a pickup) and its notes follow
        the spans of `core.form.playing_order`; a melody without form comes back unchanged.
        """
        if not self.form:
            return self
        starts = [n.start_step for n in self.notes]
        notes: list[Note] = []
        step = self.start_step
        for a, b in playing_order(self.form, self.start_step, self.end_step):
            shift = step - a
            notes += [Note(n.pitch, n.start_step + shift, n.duration_steps, n.velocity)
                      for n in self.notes[bisect.bisect_left(starts, a):
                                          bisect.bisect_left(starts, b)]]
            step += b - a
        return Melody(notes, steps_per_quarter=self.steps_per_quarter, qpm=self.qpm,
                      time_signature=self.time_signature, key=self.key, source=self.source,
                      end_step=step, pickup_steps=self.pickup_steps)

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
        pickup = f", pickup {self.pickup_steps}" if self.pickup_steps else ""
        form = f", form {' '.join(m.name for m in self.form)}" if self.form else ""
        return (f"Melody({len(self.notes)} notes, {self.end_step} steps at "
                f"{self.steps_per_quarter}/quarter, {self.qpm:g} qpm, "
                f"{self.time_signature[0]}/{self.time_signature[1]}{key}{pickup}{form}{src})")

    # -- conversions and files, through the io layer (see `_io`) --
    def to_pretty_midi(self, program: int = 0) -> pretty_midi.PrettyMIDI:
        """A PrettyMIDI with one instrument (General MIDI `program`), tempo, meter and key."""
        return _io("outputs.midi").to_pretty_midi(self, program=program)

    @classmethod
    def from_pretty_midi(cls, pm: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4,
                         source: str = "") -> Melody:
        """The first melody (skyline of the first pitched track) of a PrettyMIDI object."""
        return _io("inputs.midi").from_pretty_midi(
            pm, steps_per_quarter=steps_per_quarter, source=source)

    def to_music21(self) -> music21.stream.Score:
        """A music21 score with one part holding meter, key, tempo, notes and rests."""
        return _io("outputs.musicxml").to_music21(self)

    @classmethod
    def from_music21(cls, stream: music21.stream.Stream, steps_per_quarter: int = 4,
                     source: str = "") -> Melody:
        """The top line of a music21 stream (ties joined, chords reduced to their top note)."""
        return _io("inputs.music21").from_music21(
            stream, steps_per_quarter=steps_per_quarter, source=source)

    def _repr_html_(self) -> str:
        """In Jupyter: the score, with an audio player under it."""
        return _io("outputs.notebook").melody_repr_html(self)

    def write(self, path: str | Path, *, force: bool = True, **options: Any) -> Path:
        """Write to a file chosen by its suffix (.mid .musicxml .mxl .svg .png .pdf .wav .abc)."""
        return _io("").write_melody(self, Path(path), force=force, **options)


def _io(module: str) -> Any:
    """The one hook from the data model up to the io layer, for Melody's conveniences.

    `core` imports nothing of `melodyrnn.io` (imports point down the layers), so the
    conveniences above (`write`, `to_music21`, ...) look their module up by name when called:
    `_io("outputs.midi")` is `melodyrnn.io.outputs.midi`, `_io("")` is `melodyrnn.io`.
    """
    return importlib.import_module("melodyrnn.io" + (f".{module}" if module else ""))


def _out_of_range(note: Note, semitones: int, source: str) -> Note:
    where = f"{source}: " if source else ""
    raise MelodyError(f"{where}transposing pitch {note.pitch} by {semitones} leaves MIDI 0-127")
