"""Meters: time signatures and quarter lengths on the step grid."""

from __future__ import annotations

from fractions import Fraction

import pytest

from melodyrnn.core.meter import parse_time_signature, steps_from_quarters
from melodyrnn.errors import MelodyError


def test_time_signature_parse():
    assert parse_time_signature("6/8") == (6, 8)
    with pytest.raises(MelodyError, match="4/3"):
        parse_time_signature("4/3")


def test_steps_from_quarters():
    assert steps_from_quarters(Fraction(1, 3), 12) == (4, False)
    assert steps_from_quarters(0.3, 4) == (1, True)
    assert steps_from_quarters(1.5, 4) == (6, False)
