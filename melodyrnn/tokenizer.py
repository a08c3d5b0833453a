"""Tokenizers: melodies to token ids and back, in two encodings, and how to get or load one.

`note` (the default) writes each note as `Pitch_p Duration_d` and each silence as `Rest_r`:

    BOS [TimeSig_6/8] [Key_D_dorian] [Bar] Rest_2 Pitch_62 Duration_4 Pitch_64 Duration_2 ... EOS

`grid` is Magenta Melody RNN's encoding: one event per step, `NoteOn_p`, `NoteOff` (the
sounding note stops) or `Hold` (nothing happens: Magenta's NO_EVENT).

Both share options: `steps_per_quarter`, `pitch_range`, `bar_tokens` (a `Bar` opens every bar,
before any event that starts in it), `meter_token` and `key_token` (conditioning tokens right
after BOS). Velocity and tempo are not encoded: decoded notes get velocity 80, melodies 120 qpm.
Base class, grammar and JSON form are in `melodyrnn.tokenizer_base`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from melodyrnn.errors import TokenizerError
from melodyrnn.music import Melody
from melodyrnn.tokenizer_base import (
    BARS_DONE,
    BARS_FREE,
    BARS_OFF,
    BARS_OWED,
    BODY,
    DURATION,
    KEYS,
    METERS,
    GrammarState,
    Token,
    Tokenizer,
    check_int,
)

__all__ = ["KEYS", "METERS", "GrammarState", "GridTokenizer", "NoteTokenizer", "Tokenizer",
           "get_tokenizer", "load_tokenizer"]


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


class GridTokenizer(Tokenizer):
    """Magenta Melody RNN's grid: per step `NoteOn_p`, `NoteOff` or `Hold` (no event).

    A NoteOn ends the note sounding before it, so repeated pitches need no NoteOff; the last
    note ends at EOS when it lasts to `end_step`, else at a NoteOff followed by Holds.
    """

    name = "grid"

    def __init__(self, *, steps_per_quarter: int = 4, pitch_range: Sequence[int] = (0, 127),
                 bar_tokens: bool = False, meter_token: bool = False,
                 key_token: bool = False) -> None:
        super().__init__(steps_per_quarter=steps_per_quarter, pitch_range=pitch_range,
                         bar_tokens=bar_tokens, meter_token=meter_token, key_token=key_token)
        self.note_off_id = self.token_to_id["NoteOff"]
        self.hold_id = self.token_to_id["Hold"]
        self._note_on0 = self.token_to_id[f"NoteOn_{self.pitch_range[0]}"] - self.pitch_range[0]

    def _body_tokens(self) -> list[Token]:
        low, high = self.pitch_range
        return ([Token("NoteOff", "NoteOff"), Token("Hold", "Hold")]
                + [Token(f"NoteOn_{p}", "NoteOn", p) for p in range(low, high + 1)])

    def _encode_body(self, melody: Melody, out: list[int]) -> None:
        low, high = self.pitch_range
        end_step = melody.end_step
        events = [self.hold_id] * end_step
        for note in melody.notes:  # in time order, so a NoteOn overwrites a NoteOff at its step
            if not low <= note.pitch <= high:
                raise self._pitch_error(melody, note)
            events[note.start_step] = self._note_on0 + note.pitch
            if note.end_step < end_step:
                events[note.end_step] = self.note_off_id
        if not self.bar_tokens:
            out += events
            return
        spb = melody.steps_per_bar
        for bar_start in range(0, end_step, spb):
            out.append(self.bar_id)
            out += events[bar_start:bar_start + spb]

    def _body_mask_key(self, state: GrammarState) -> tuple[Any, ...]:
        return (BODY, self._bar_status(state), self._eos_allowed(state), state.pitch >= 0)

    def _body_mask(self, key: tuple[Any, ...]) -> Iterable[int]:
        _, bars, eos, sounding = key
        allowed = [self.eos_id] if eos else []
        if bars in (BARS_FREE, BARS_OWED):
            allowed.append(self.bar_id)
        if bars in (BARS_OFF, BARS_FREE, BARS_DONE):
            allowed += [self.hold_id, *self.kind_ids("NoteOn")]
            if sounding:
                allowed.append(self.note_off_id)
        return allowed

    def _body_transition(self, state: GrammarState, token_id: int) -> GrammarState:
        kind = self._kinds[token_id]
        if kind == "Bar":
            return state._replace(bars=state.bars + 1)
        if kind == "NoteOn":
            return state._replace(step=state.step + 1, pitch=self._values[token_id],
                                  onset_step=state.step)
        if kind == "NoteOff":
            return state._replace(step=state.step + 1, pitch=-1)
        return state._replace(step=state.step + 1)  # Hold

    def _collect(self, notes: list[list[int]], state: GrammarState, token_id: int) -> None:
        if state.pitch >= 0 and self._kinds[token_id] in ("NoteOn", "NoteOff"):
            notes.append([state.pitch, state.onset_step, state.step - state.onset_step])

    def _finish(self, notes: list[list[int]], state: GrammarState) -> int:
        if state.pitch >= 0:  # the last note lasts to the end
            notes.append([state.pitch, state.onset_step, state.step - state.onset_step])
        return 0


ENCODINGS: dict[str, type[Tokenizer]] = {"note": NoteTokenizer, "grid": GridTokenizer}


def get_tokenizer(name: str = "note", **options: Any) -> Tokenizer:
    """A tokenizer by encoding name ('note' or 'grid') and keyword options."""
    cls = ENCODINGS.get(name)
    if cls is None:
        raise TokenizerError(f"unknown tokenizer {name!r}; valid names: {', '.join(ENCODINGS)}")
    valid = cls.option_names()
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise TokenizerError(f"the {name} tokenizer has no option {unknown[0]!r}; valid "
                             f"options: {', '.join(valid)}")
    return cls(**options)


def load_tokenizer(source: str | Path | dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from its JSON file or `to_dict()`, checking the stored vocabulary."""
    where = "tokenizer" if isinstance(source, dict) else str(source)
    data = source if isinstance(source, dict) else _read_json(Path(source))
    if not isinstance(data, dict) or not {"name", "options", "vocab"} <= data.keys() \
            or not isinstance(data["options"], dict):
        raise TokenizerError(f"{where}: not a tokenizer description; expected a JSON object "
                             "with 'name', 'options' and 'vocab'")
    try:
        tokenizer = get_tokenizer(data["name"], **data["options"])
    except TokenizerError as e:
        raise TokenizerError(f"{where}: {e}") from None
    stored = list(data["vocab"])
    if stored != tokenizer.vocab:
        pairs = zip(stored, tokenizer.vocab, strict=False)  # lengths may differ
        i = next((i for i, (a, b) in enumerate(pairs) if a != b),
                 min(len(stored), tokenizer.vocab_size))
        got = stored[i] if i < len(stored) else "(end)"
        rebuilt = tokenizer.vocab[i] if i < tokenizer.vocab_size else "(end)"
        raise TokenizerError(
            f"{where}: the stored vocabulary ({len(stored)} tokens) differs from the one its "
            f"options rebuild ({tokenizer.vocab_size}) at id {i}: {got!r} stored, {rebuilt!r} "
            "rebuilt; it was written by another version of melodyrnn or edited by hand")
    return tokenizer


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TokenizerError(f"{path}: cannot read the tokenizer file ({e.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TokenizerError(f"{path}: not valid JSON ({e})") from None
