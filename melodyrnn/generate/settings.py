"""What to sample and when to stop: `SampleSettings`, checked on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from melodyrnn.core.key import Key
from melodyrnn.core.limits import LIMITS, limit
from melodyrnn.errors import ConfigError

MIN_FREE_NOTES = 8  # without a length, a tune may end once it has added this many notes
# Tokens before the cap (`max_tokens`) from which every row finishes: the note in hand, the
# bar, an open repeat or ending (a rest, a RepeatEnd, the ending owed, Bars). 8 left about one
# row in 40 of a form-writing model unclosed at the cap; 12, about one in 500.
CAP_MARGIN = 12
# Beam x branch rows a melody's search scores each step: a beam of 64 with a branch of 64, far
# past where a wider beam still helps, with (4096, V) logits a step (12 MB for 700 tokens).
MAX_CANDIDATES = 4096


@dataclass
class SampleSettings:
    """What to draw and when to stop; `None` means no limit from that setting."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    notes: int | None = None       # stop after this many notes (primer included)
    bars: int | None = None        # ... or this many bars
    seconds: float | None = None   # ... or this many seconds at `qpm`
    qpm: float = 120.0
    pitch_range: tuple[int, int] | None = None
    scale: Key | None = None
    max_tokens: int = 512          # hard cap on generated tokens per melody
    beam: int = 1
    branch: int = 2

    @property
    def has_length(self) -> bool:
        """Whether a length (notes, bars or seconds) was asked for."""
        return any(x is not None for x in (self.notes, self.bars, self.seconds))

    def __post_init__(self) -> None:
        if not self.temperature >= 0 or math.isinf(self.temperature):
            raise ConfigError(f"temperature {self.temperature} must be 0 or more and finite "
                              "(0 = greedy)")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k {self.top_k} must be at least 1")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p {self.top_p} must be above 0 and at most 1")
        for name in ("notes", "bars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} {value} must be at least 1")
        if self.seconds is not None and not 0 < self.seconds < math.inf:
            raise ConfigError(f"seconds {self.seconds} must be above 0 and finite")
        if not 0 < self.qpm < math.inf:
            raise ConfigError(f"qpm {self.qpm} must be above 0 and finite")
        if self.beam < 1 or self.branch < 1:
            raise ConfigError(f"beam {self.beam} and branch {self.branch} must be at least 1")
        if self.beam * self.branch > MAX_CANDIDATES:
            raise ConfigError(f"beam {self.beam:,} x branch {self.branch:,} makes "
                              f"{self.beam * self.branch:,} candidates a step, over the "
                              f"{MAX_CANDIDATES:,} allowed; use a smaller --beam or --branch")

    def check_length(self, steps_per_quarter: int, steps_per_bar: int) -> None:
        """Refuse a length longer than one melody may be (limits `max_melody_notes`,
        `max_melody_steps`): sampling it would run for hours and hold it all."""
        if self.notes is not None and self.notes > limit("max_melody_notes"):
            raise ConfigError(_over("max_melody_notes", f"notes {self.notes:,}"))
        steps = None
        if self.bars is not None:  # an unknown meter counts as 4/4
            steps = self.bars * (steps_per_bar or 4 * steps_per_quarter)
        elif self.seconds is not None:
            steps = math.ceil(self.seconds * self.qpm / 60 * steps_per_quarter)
        if steps is not None and steps > limit("max_melody_steps"):
            what = f"bars {self.bars:,}" if self.bars is not None else f"seconds {self.seconds:g}"
            raise ConfigError(_over("max_melody_steps", f"{what} ({steps:,} steps)"))


def _over(name: str, subject: str) -> str:
    spec = LIMITS[name]
    return (f"{subject} is over the limit of {limit(name):,} {spec.unit} ({spec.what}); ask "
            f"for less or set {spec.env} to allow more")


def complete_bar(step: int, start_step: int, steps_per_bar: int) -> int:
    """The first step at or after `step` where a tune begun at `start_step` may end, its last
    bar complete: on a bar line (a full last bar), or, after a pickup, where the last bar
    completes it (the tune then lasts whole bars). A tune lasts at least one bar; `step` itself
    when the bar length is not known."""
    if not steps_per_bar:
        return step
    step = max(step, start_step + 1)
    on_line = -(-step // steps_per_bar) * steps_per_bar
    completing = start_step + -(-(step - start_step) // steps_per_bar) * steps_per_bar
    return min(on_line, completing)


def end_target(settings: SampleSettings, notes: int, state: Any, steps_per_quarter: int,
               steps_per_bar: int) -> int | None:
    """The step a sequence is to end at, once its length is decided; None while it is free.

    `bars`: that many bars after the pickup, the last one completing it. `seconds`: the first
    complete bar that lasts them at `qpm`. `notes`: once they are all there, the end of the bar
    the last one stands in. Without a known bar length, `seconds` ends at its step exactly and
    `bars` as if the bar were 4/4.
    """
    spb = state.steps_per_bar or steps_per_bar
    start = state.start_step
    if settings.bars is not None:
        return start + settings.bars * (spb or 4 * steps_per_quarter)
    if settings.seconds is not None:
        steps = math.ceil(settings.seconds * settings.qpm * steps_per_quarter / 60.0 - 1e-9)
        return complete_bar(max(steps, 1), start, spb)
    if settings.notes is not None and notes >= settings.notes:
        return bar_end(state, spb)
    return None


def bar_end(state: Any, steps_per_bar: int) -> int:
    """Where the bar that a sequence stands in is complete (`complete_bar`), after the note
    in hand: a Pitch waits for its Duration at its onset, and that note needs room to sound."""
    waiting = state.phase == "duration"
    return complete_bar(state.step + waiting, state.start_step,
                        state.steps_per_bar or steps_per_bar)
