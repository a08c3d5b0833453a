"""The named limits: defaults, environment overrides, and their sentences."""

from __future__ import annotations

import pytest

from melodyrnn.core.limits import LIMITS, limit, over_limit
from melodyrnn.errors import ConfigError


def test_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limit("max_melody_notes") == LIMITS["max_melody_notes"].default
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "12")
    assert limit("max_melody_notes") == 12


@pytest.mark.parametrize("raw", ["lots", "-3", "0", "1.5"])
def test_bad_override_is_a_sentence(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("MELODYRNN_MAX_PRIMER_NOTES", raw)
    with pytest.raises(ConfigError, match="MELODYRNN_MAX_PRIMER_NOTES"):
        limit("max_primer_notes")


def test_over_limit_names_value_limit_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "1000")
    text = over_limit("max_melody_steps", 268_435_456, "tiny.mid")
    assert text.startswith("tiny.mid has 268,435,456 steps, over the limit of 1,000")
    assert "MELODYRNN_MAX_MELODY_STEPS" in text
