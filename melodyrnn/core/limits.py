"""The package's resource limits: how much one input may ask for, named, documented, overridable.

A file, a primer or a model bundle says how long, how large or how many; melodyrnn believes it
only up to these limits, so a 48-byte MIDI file or a tampered bundle cannot take the machine.
Each limit has a default that real music stays far below, and an environment variable that a
user with a real need can raise (`MELODYRNN_MAX_MELODY_STEPS=5000000 melodyrnn prepare ...`).
Values are read when used, so a test or a long-running program can change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from melodyrnn.errors import ConfigError


@dataclass(frozen=True)
class Limit:
    """One named limit: its default, the environment variable that overrides it, its unit."""

    name: str
    default: int
    unit: str
    what: str

    @property
    def env(self) -> str:
        """The environment variable that overrides the default."""
        return f"MELODYRNN_{self.name.upper()}"


LIMITS: dict[str, Limit] = {limit.name: limit for limit in (
    # Melodies: 2,000,000 steps is over 5 hours at 120 qpm on a 24-step quarter grid.
    Limit("max_melody_steps", 2_000_000, "steps", "length of one melody, in quantized steps"),
    Limit("max_melody_notes", 100_000, "notes", "notes in one melody or one track"),
    Limit("max_file_notes", 1_000_000, "notes", "notes in all the tracks of one file"),
    # Input files: the largest scores of real corpora are a few MB.
    Limit("max_file_bytes", 64 * 2**20, "bytes", "size of one input file"),
    Limit("max_unzipped_bytes", 256 * 2**20, "bytes", "decompressed size of one .mxl file"),
    Limit("max_abc_tune_notes", 20_000, "notes", "notes in one ABC tune"),
    Limit("prepare_file_seconds", 120, "seconds", "time `prepare` gives one file"),
    # Generation: a primer costs memory per note while the network reads it.
    Limit("max_primer_notes", 5_000, "notes", "notes in a primer"),
    Limit("max_num", 1_000_000, "tunes", "tunes one `generate` writes"),
    # Model bundles: sizes a bundle may declare before anything is allocated.
    Limit("max_parameters", 2_000_000_000, "parameters", "parameters of a bundled network"),
)}


def limit(name: str) -> int:
    """The value of limit `name`: its environment variable if set, else its default."""
    spec = LIMITS[name]
    raw = os.environ.get(spec.env)
    if raw is None or raw.strip() == "":
        return spec.default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{spec.env}={raw!r} is not a whole number; unset it or give the "
                          f"{spec.what} in {spec.unit}") from None
    if value < 1:
        raise ConfigError(f"{spec.env}={value} must be at least 1")
    return value


def over_limit(name: str, value: int, subject: str) -> str:
    """The sentence for `subject` asking `value` where limit `name` allows less."""
    spec = LIMITS[name]
    return (f"{subject} has {value:,} {spec.unit}, over the limit of {limit(name):,} "
            f"({spec.what}); set {spec.env} to allow more")
