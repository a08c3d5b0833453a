"""Primer and pitch-range text: note names with lengths, and the errors for bad ones."""

from __future__ import annotations

import pytest

from melodyrnn.errors import ConfigError
from melodyrnn.io.inputs.text import parse_primer, parse_range


def test_primer_syntax():
    m = parse_primer("C4 D4 E4 G4:2 R:0.5 60:0.5")
    assert m.pitches == [60, 62, 64, 67, 60]
    assert [n.start_step for n in m.notes] == [0, 4, 8, 12, 22]
    assert [n.duration_steps for n in m.notes] == [4, 4, 4, 8, 2]
    assert m.end_step == 24
    for bad in ("C4 X9", "C4:0", "C4:0.3", "", "200"):
        with pytest.raises(ConfigError):
            parse_primer(bad)
    with pytest.raises(ConfigError, match="'X9'"):
        parse_primer("C4 X9")


def test_range_syntax():
    assert parse_range("C3:C6") == (48, 84)
    assert parse_range("48:84") == (48, 84)
    for bad in ("C6:C3", "C3", "C3:Q5"):
        with pytest.raises(ConfigError):
            parse_range(bad)
