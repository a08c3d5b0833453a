"""Meter and the step grid: time signatures, steps per bar (the one formula), quarters to steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from melodyrnn.errors import MelodyError


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


def steps_per_bar(time_signature: Sequence[int], steps_per_quarter: int) -> int:
    """Steps in one bar of `time_signature` on a grid of `steps_per_quarter`.

    A bar of num/den holds num * 4 / den quarters; meters whose bar is not a whole number of
    steps (5/16 on a 4-per-quarter grid) are rounded down, and a bar is at least one step.
    Every part of the package that needs a bar length asks this function.
    """
    num, den = time_signature
    return max(1, num * steps_per_quarter * 4 // den)


def steps_from_quarters(quarters: float | Fraction, steps_per_quarter: int) -> tuple[int, bool]:
    """Quarter-note position -> (nearest step, whether rounding moved it)."""
    exact = Fraction(quarters).limit_denominator(10_000) * steps_per_quarter
    step = int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
    return step, exact != step
