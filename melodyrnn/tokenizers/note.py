"""The `note` encoding (the default): `Pitch_p Duration_d` per note, `Rest_r` per silence.

    BOS [TimeSig_6/8] [Key_D_dorian] [Bar] Rest_2 Pitch_62 Duration_4 Pitch_64 Duration_2 ... EOS
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.tokenizers.base import Tokenizer, check_int
from melodyrnn.tokenizers.grammar import (
    BARS_DONE,
    BARS_FREE,
    BARS_OWED,
    BODY,
    DURATION,
    GrammarState,
    Token,
)


class NoteTokenizer(Tokenizer):
    """Compact note events: `Pitch_p Duration_d` per note, `Rest_r` per silence.

    Splitting is lossless and unique: a silence longer than `max_duration_steps` (or, with
    bar tokens, one crossing a bar line) becomes several Rest tokens that sum to it; a note
    longer than `max_duration_steps` is `Duration_max` then `Hold_h` tokens that lengthen it
    (`Hold_h` may only follow a Duration or Hold at the maximum). The first note's offset is
    a leading Rest and the silence after the last note (up to `end_step`) a trailing Rest.
    """

    name = "note"

    def __init__(self, *, steps_per_quarter: int = 4, pitch_range: Sequence[int] = (0, 127),
                 max_duration_steps: int | None = None, bar_tokens: bool = False,
                 meter_token: bool = False, key_token: bool = False) -> None:
        spq = check_int("steps_per_quarter", steps_per_quarter, 1, 96)
        if max_duration_steps is None:
            max_duration_steps = 16 * spq  # four bars of 4/4
        self.max_duration_steps = check_int("max_duration_steps", max_duration_steps, 1, 4096)
        super().__init__(steps_per_quarter=spq, pitch_range=pitch_range, bar_tokens=bar_tokens,
                         meter_token=meter_token, key_token=key_token)
        # id of a token = first id of its type + value; kept as offsets for a fast encode
        self._pitch0 = self.token_to_id[f"Pitch_{self.pitch_range[0]}"] - self.pitch_range[0]
        self._duration0 = self.token_to_id["Duration_1"] - 1
        self._rest0 = self.token_to_id["Rest_1"] - 1
        self._hold0 = self.token_to_id["Hold_1"] - 1

    def _body_tokens(self) -> list[Token]:
        low, high = self.pitch_range
        steps = range(1, self.max_duration_steps + 1)
        return ([Token(f"Pitch_{p}", "Pitch", p) for p in range(low, high + 1)]
                + [Token(f"Duration_{d}", "Duration", d) for d in steps]
                + [Token(f"Rest_{d}", "Rest", d) for d in steps]
                + [Token(f"Hold_{d}", "Hold", d) for d in steps])

    def _encode_body(self, melody: Melody, out: list[int]) -> None:
        low, high = self.pitch_range
        longest, pitch0, duration0 = self.max_duration_steps, self._pitch0, self._duration0
        spb = melody.steps_per_bar if self.bar_tokens else 0
        step = bars = 0
        for note in melody.notes:
            if note.start_step > step:
                bars = self._encode_rest(out, step, note.start_step, bars, spb)
            if spb and bars <= note.start_step // spb:
                owed = note.start_step // spb + 1 - bars
                out += [self.bar_id] * owed
                bars += owed
            if not low <= note.pitch <= high:
                raise self._pitch_error(melody, note)
            out.append(pitch0 + note.pitch)
            duration = note.duration_steps
            if duration <= longest:
                out.append(duration0 + duration)
            else:
                out.append(duration0 + longest)
                self._encode_holds(out, duration - longest)
            step = note.end_step
        if melody.end_step > step:
            bars = self._encode_rest(out, step, melody.end_step, bars, spb)
        if spb:  # Bars of the bars begun before the end but after the last event started
            out += [self.bar_id] * (-(-melody.end_step // spb) - bars)

    def _encode_rest(self, out: list[int], step: int, end_step: int, bars: int, spb: int) -> int:
        """Rest tokens from `step` to `end_step`, with Bars when `spb`; returns Bars written."""
        longest = self.max_duration_steps
        while step < end_step:
            if spb:
                if bars <= step // spb:
                    owed = step // spb + 1 - bars
                    out += [self.bar_id] * owed
                    bars += owed
                chunk = min(end_step - step, longest, spb - step % spb)
            else:
                chunk = min(end_step - step, longest)
            out.append(self._rest0 + chunk)
            step += chunk
        return bars

    def _encode_holds(self, out: list[int], steps: int) -> None:
        while steps > 0:
            chunk = min(steps, self.max_duration_steps)
            out.append(self._hold0 + chunk)
            steps -= chunk

    # -- grammar of the body --
    def _body_mask_key(self, state: GrammarState) -> tuple[Any, ...]:
        if state.phase == DURATION:
            return (DURATION,)
        bars = self._bar_status(state)
        longest_rest = self.max_duration_steps
        if bars == BARS_DONE:  # with bars known, a Rest stops at the bar line
            longest_rest = min(longest_rest, state.steps_per_bar - state.step % state.steps_per_bar)
        return (BODY, bars, self._eos_allowed(state), longest_rest, state.may_hold,
                state.may_rest)

    def _body_mask(self, key: tuple[Any, ...]) -> Iterable[int]:
        if key[0] == DURATION:
            return self.kind_ids("Duration")
        _, bars, eos, longest_rest, may_hold, may_rest = key
        allowed = [self.eos_id] if eos else []
        if bars in (BARS_FREE, BARS_OWED):
            allowed.append(self.bar_id)
        if bars != BARS_OWED:
            allowed += self.kind_ids("Pitch")
            if may_rest:
                allowed += range(self._rest0 + 1, self._rest0 + longest_rest + 1)
        if may_hold:
            allowed += self.kind_ids("Hold")
        return allowed

    def _body_transition(self, state: GrammarState, token_id: int) -> GrammarState:
        kind, value = self._kinds[token_id], self._values[token_id]
        full = value == self.max_duration_steps
        if kind == "Pitch":
            return state._replace(phase=DURATION, pitch=value, may_hold=False, may_rest=True)
        if kind == "Duration":
            return state._replace(phase=BODY, step=state.step + value, pitch=-1, may_hold=full)
        if kind == "Hold":
            return state._replace(step=state.step + value, may_hold=full)
        if kind == "Rest":
            return state._replace(step=state.step + value, may_hold=False, may_rest=full)
        return state._replace(bars=state.bars + 1, may_hold=False, may_rest=True)  # Bar

    def _collect(self, notes: list[list[int]], state: GrammarState, token_id: int) -> None:
        kind = self._kinds[token_id]
        if kind == "Duration":
            notes.append([state.pitch, state.step, self._values[token_id]])
        elif kind == "Hold":
            notes[-1][2] += self._values[token_id]

    def _finish(self, notes: list[list[int]], state: GrammarState) -> int:
        return 1 if state.phase == DURATION else 0  # a Pitch that never got its Duration
