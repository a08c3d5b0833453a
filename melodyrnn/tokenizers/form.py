"""Form tokens (the note encoding with `form_tokens=True`): repeat signs, endings, the pickup.

    BOS TimeSig_6/8 Pickup_2 RepeatStart Bar Pitch_57 Duration_2 Bar ... RepeatEnd Ending_2 ...

`RepeatStart`, `RepeatEnd` and `Ending_1`..`Ending_4` are a melody's `core.form.Mark`s, each
written at its step, before the Bar owed there; `Pickup_p` is the first token of the body of a
tune whose first bar is p steps long. Where each may stand follows `core.form.FormState`, the one
copy of the rules of form. This module holds the vocabulary and how decoding keeps the form of
a sequence cut short; the encoding and its grammar are `tokenizers/note.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from melodyrnn.core.form import (
    ENDING,
    KINDS,
    MAX_ENDINGS,
    REPEAT_END,
    REPEAT_START,
    FormState,
    Mark,
)
from melodyrnn.core.meter import steps_per_bar
from melodyrnn.tokenizers.grammar import METERS, Token

PICKUP = "Pickup"
# every mark a token can write, as (kind, number), in vocabulary order
MARKS: tuple[tuple[str, int], ...] = (
    (REPEAT_START, 0), (REPEAT_END, 0), *((ENDING, n) for n in range(1, MAX_ENDINGS + 1)))
MARK_KINDS = frozenset(KINDS)


def longest_pickup(steps_per_quarter: int) -> int:
    """The longest pickup with a token: the longest bar among `METERS`, less one step."""
    return max(steps_per_bar(meter, steps_per_quarter) for meter in METERS) - 1


def form_vocabulary(steps_per_quarter: int) -> list[Token]:
    """The form tokens: RepeatStart, RepeatEnd, Ending_1-4, then Pickup_1 .. the longest."""
    marks = [Token(Mark(0, kind, number).name, kind, number) for kind, number in MARKS]
    return marks + [Token(f"{PICKUP}_{p}", PICKUP, p)
                    for p in range(1, longest_pickup(steps_per_quarter) + 1)]


def closed_form(marks: Sequence[Mark], start_step: int) -> tuple[tuple[Mark, ...], int]:
    """The marks read, up to the last one after which the form may end, and how many follow it.

    The grammar lets EOS stand only where the form is closed, but a sequence cut short (no EOS)
    can leave a repeat or an ending open: decoding keeps the form up to where it was last
    closed and counts the marks after it as errors.
    """
    state, keep = FormState(section_step=start_step), 0
    for i, mark in enumerate(marks):
        state = state.after(mark)
        if state.may_end():
            keep = i + 1
    return tuple(marks[:keep]), len(marks) - keep
