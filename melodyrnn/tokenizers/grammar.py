"""The grammar's vocabulary tables and states: meters and keys with their own token, phases,
`GrammarState` (where a token sequence stands) and `Token` (one vocabulary entry).

The grammar itself (which id may follow which) is `Tokenizer.allowed_next` and `advance` in
`base.py`, with each encoding's body rules in `note.py` and `grid.py`.
"""

from __future__ import annotations

from typing import NamedTuple

from melodyrnn.core.form import FormState
from melodyrnn.core.key import MODE_INTERVALS, Key

# The prefix tokens that mean "not known": what a melody without a usable meter or key encodes
# as. A model asked to choose the meter or key itself is kept from choosing these.
UNKNOWN_METER, UNKNOWN_KEY = "TimeSig_other", "Key_none"
# Meters that get their own TimeSig token; any other encodes as `TimeSig_other`.
METERS: tuple[tuple[int, int], ...] = (
    (2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (7, 4), (2, 2), (3, 2), (4, 2),
    (3, 8), (5, 8), (6, 8), (7, 8), (9, 8), (12, 8),
)
# Every tonic x mode gets a Key token; a melody without a key encodes as `Key_none`.
KEYS: tuple[Key, ...] = tuple(Key(tonic, mode) for tonic in range(12) for mode in MODE_INTERVALS)

DECODED_VELOCITY = 80  # velocity is not encoded; decoded notes all get this one
DECODED_QPM = 120.0  # tempo is not encoded either

# Grammar phases, in the order a sequence passes through them.
START, TIMESIG, KEY, BODY, DURATION, END = "start", "timesig", "key", "body", "duration", "end"
# Where Bar tokens stand before the next event (see `Tokenizer._bar_status`).
BARS_OFF, BARS_FREE, BARS_OWED, BARS_DONE = "off", "free", "owed", "done"


class GrammarState(NamedTuple):
    """Where a token sequence stands in its tokenizer's grammar; immutable, made by `advance`.

    `phase` is one of "start" (before BOS), "timesig", "key" (waiting for that prefix
    token), "body", "duration" (note encoding: a Pitch waits for its Duration) or "end".
    """

    phase: str = START
    step: int = 0  # time reached, in steps (phase "duration": the waiting note's onset)
    bars: int = 0  # Bar tokens read so far
    steps_per_bar: int = 0  # from the TimeSig token; 0 = meter unknown, Bars are not checked
    pitch: int = -1  # note encoding: the pitch waiting for its Duration; grid: the sounding one
    onset_step: int = 0  # grid: the step where the sounding note began
    may_hold: bool = False  # note encoding: the last note reached max_duration_steps
    may_rest: bool = True  # note encoding: False after a Rest cut short (not at its maximum)
    form: FormState = FormState()  # note encoding with form tokens: the marks read so far
    bar_step: int = -1  # note encoding: the step of the last Bar (marks stand before a Bar)
    start_step: int = 0  # where the tune begins: after a p-step pickup, steps_per_bar - p


class Token(NamedTuple):
    """One vocabulary entry: its readable name, its type, and its value (-1 when none)."""

    name: str
    kind: str
    value: int = -1
