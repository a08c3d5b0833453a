"""The page's generate form, checked field by field into `MelodyModel.generate` arguments.

Each value is parsed by the function the command line uses (`parse_time_signature`,
`Key.parse`, `SampleSettings`), so a bad one is refused with the same sentence, and the
error names the control it came from (`FieldError.field`), for the page to show it there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from melodyrnn.core.key import Key
from melodyrnn.core.meter import parse_time_signature
from melodyrnn.errors import ConfigError, MelodyRNNError
from melodyrnn.generate.settings import SampleSettings

MAX_BARS = 256  # a longer tune is for `melodyrnn generate`, not a page that waits for it
MAX_BEAM = 16
MAX_SEED = 2**63 - 1  # torch seeds are below 2**64
MAX_PRIMER_CHARS = 20_000


class FieldError(ConfigError):
    """A bad value of one control of the page: the sentence, and the control's name."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GenerateRequest:
    """What the page asks for; the primer is at most one of notes, an upload or a tune."""

    model: str | None = None
    meter: str | None = None
    key: Key | None = None
    primer: str | None = None       # notes as the CLI's --primer takes them
    primer_file: str | None = None  # an upload's id
    primer_tune: str | None = None  # the id of a tune of this studio, to continue it
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    bars: int = 8
    seed: int | None = None
    beam: int = 1
    qpm: float = 120.0

    def generate_options(self) -> dict[str, Any]:
        """The keyword arguments of `MelodyModel.generate` these settings ask for (no primer,
        no seed: the studio adds them)."""
        return dict(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                    bars=self.bars, beam=self.beam, meter=self.meter, key=self.key,
                    qpm=self.qpm)

    def described(self) -> dict[str, Any]:
        """The settings as the page shows them again (JSON values)."""
        return dict(model=self.model, meter=self.meter or "",
                    key="" if self.key is None else str(self.key), primer=self.primer or "",
                    temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                    bars=self.bars, seed=self.seed, beam=self.beam, qpm=self.qpm)


def parse_request(form: Any) -> GenerateRequest:
    """A `GenerateRequest` from the page's JSON object, or a FieldError naming the control."""
    if not isinstance(form, dict):
        raise FieldError(None, "the request must be a JSON object of settings")
    unknown = sorted(set(form) - _FIELDS)
    if unknown:
        raise FieldError(unknown[0], f"unknown setting '{unknown[0]}'; the settings are "
                                     f"{', '.join(sorted(_FIELDS))}")
    temperature = _number(form, "temperature", 1.0)
    top_k = _optional(form, "top_k", whole=True)
    top_p = _optional(form, "top_p")
    bars = int(_number(form, "bars", 8, whole=True))
    beam = int(_number(form, "beam", 1, whole=True))
    qpm = _number(form, "qpm", 120.0)
    # the sampler's own checks, one setting at a time, so the sentence names its control
    for name, value in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p),
                        ("bars", bars), ("qpm", qpm), ("beam", beam)):
        _checked(name, lambda n=name, v=value: SampleSettings(**{n: v}))
    if bars > MAX_BARS:
        raise FieldError("bars", f"bars {bars:,} is more than the studio writes ({MAX_BARS}); "
                                 "use `melodyrnn generate --bars` for longer tunes")
    if beam > MAX_BEAM:
        raise FieldError("beam", f"beam {beam:,} is wider than the studio searches "
                                 f"({MAX_BEAM}); use `melodyrnn generate --beam` for wider")
    seed = _optional(form, "seed", whole=True)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise FieldError("seed", f"seed {seed:g} must be a whole number from 0 to {MAX_SEED}")
    return GenerateRequest(
        model=_text(form, "model"), meter=_meter(form), key=_key(form), primer=_primer(form),
        primer_file=_text(form, "primer_file"), primer_tune=_text(form, "primer_tune"),
        temperature=temperature, top_k=None if top_k is None else int(top_k), top_p=top_p,
        bars=bars, seed=None if seed is None else int(seed), beam=beam, qpm=qpm)


_FIELDS = {"model", "meter", "key", "primer", "primer_file", "primer_tune", "temperature",
           "top_k", "top_p", "bars", "seed", "beam", "qpm"}


def _checked(field: str, check: Any) -> Any:
    try:
        return check()
    except MelodyRNNError as exc:
        raise FieldError(field, str(exc)) from None


def _text(form: dict[str, Any], name: str) -> str | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise FieldError(name, f"{name} {value!r} must be text")
    return value.strip()


def _number(form: dict[str, Any], name: str, default: float, whole: bool = False) -> float:
    value = _optional(form, name, whole)
    return default if value is None else value


def _optional(form: dict[str, Any], name: str, whole: bool = False) -> float | None:
    """A number typed in a control (a JSON number or its text); None when left empty."""
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = "whole number" if whole else "number"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError(name, f"{name} {value!r} is not a {kind}")
    try:
        number = float(value)
    except ValueError:
        raise FieldError(name, f"{name} '{value}' is not a {kind}") from None
    if not math.isfinite(number) or (whole and number != int(number)):
        raise FieldError(name, f"{name} '{value}' is not a {kind}")
    return int(number) if whole else number


def _meter(form: dict[str, Any]) -> str | None:
    text = _text(form, "meter")
    if text is None:
        return None
    return "{}/{}".format(*_checked("meter", lambda: parse_time_signature(text)))


def _key(form: dict[str, Any]) -> Key | None:
    text = _text(form, "key")
    return None if text is None else _checked("key", lambda: Key.parse(text))


def _primer(form: dict[str, Any]) -> str | None:
    text = _text(form, "primer")
    if text is not None and len(text) > MAX_PRIMER_CHARS:
        raise FieldError("primer", f"the primer is {len(text):,} characters, more than the "
                                   f"{MAX_PRIMER_CHARS:,} the studio reads; give the opening "
                                   "few bars only")
    given = [n for n in ("primer", "primer_file", "primer_tune") if _text(form, n)]
    if len(given) > 1:
        raise FieldError("primer", "give one opening: notes, a file or a tune to continue, "
                                   "not several")
    return text
