"""Notes as people type them: primers such as 'C4 D4 E4 G4:2' and ranges such as 'C3:C6'."""

from __future__ import annotations

import re

from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.pitch import name_to_pitch
from melodyrnn.errors import ConfigError, MelodyError

_PRIMER_TOKEN = re.compile(r"^(?P<pitch>[A-Ga-g][#b]*-?\d+|\d{1,3}|[Rr])(?::(?P<beats>[\d.]+))?$")


def parse_primer(text: str, steps_per_quarter: int = 4) -> Melody:
    """Notes written as 'C4 D4 E4 G4:2' -> Melody.

    Each item is a pitch (scientific name such as C4, F#3, Bb5, or a MIDI number 0-127) or R
    for a rest, optionally followed by ':BEATS', its length in quarter notes (default 1; 0.5 is
    an eighth). Items are separated by spaces or commas.
    """
    notes, step = [], 0
    items = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if not items:
        raise ConfigError("the primer is empty; write notes such as 'C4 D4 E4 G4:2'")
    for item in items:
        m = _PRIMER_TOKEN.match(item)
        if not m:
            raise ConfigError(f"primer item '{item}' is not a note; write a pitch name or MIDI "
                              "number, or R for a rest, optionally with :BEATS, e.g. G4:2")
        beats = float(m.group("beats") or 1)
        steps = round(beats * steps_per_quarter)
        if steps < 1 or abs(steps - beats * steps_per_quarter) > 1e-6:
            raise ConfigError(f"primer item '{item}': {beats:g} beats is not a whole number of "
                              f"{steps_per_quarter}-per-quarter steps")
        pitch_text = m.group("pitch")
        if pitch_text not in ("R", "r"):
            pitch = int(pitch_text) if pitch_text.isdigit() else name_to_pitch(pitch_text)
            if not 0 <= pitch <= 127:
                raise ConfigError(f"primer item '{item}': MIDI pitch {pitch} is outside 0-127")
            notes.append(Note(pitch=pitch, start_step=step, duration_steps=steps))
        step += steps
    return Melody(notes, steps_per_quarter=steps_per_quarter, end_step=step, source="primer")


def parse_range(text: str) -> tuple[int, int]:
    """'C3:C6' or '48:84' -> (48, 84)."""
    parts = text.split(":")
    try:
        low, high = (int(p) if p.isdigit() else name_to_pitch(p) for p in parts)
    except (ValueError, MelodyError):
        raise ConfigError(f"range '{text}' is not LOW:HIGH, e.g. C3:C6 or 48:84") from None
    if low > high:
        raise ConfigError(f"range '{text}': the low pitch is above the high pitch")
    return low, high
