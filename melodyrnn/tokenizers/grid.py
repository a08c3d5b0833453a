"""The `grid` encoding of Magenta's Melody RNN: one event per step.

`NoteOn_p` starts a note, `NoteOff` stops the sounding one, `Hold` (Magenta's NO_EVENT) lets
the step pass. This is the playing order on a fixed grid, as Magenta's models see it: a melody
with repeats is written as played (`Melody.unfold`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.tokenizers.base import Tokenizer
from melodyrnn.tokenizers.grammar import (
    BARS_DONE,
    BARS_FREE,
    BARS_OFF,
    BARS_OWED,
    BODY,
    GrammarState,
    Token,
)


class GridTokenizer(Tokenizer):
    """Magenta Melody RNN's grid: per step `NoteOn_p`, `NoteOff` or `Hold` (no event).

    A NoteOn ends the note sounding before it, so repeated pitches need no NoteOff; the last
    note ends at EOS when it lasts to `end_step`, else at a NoteOff followed by Holds. It
    encodes the playing order (`Melody.unfold()`: repeats taken, endings chosen by pass), so
    decoding gives the melody as played, without form marks; a pickup is leading silence.
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
        melody = melody.unfold()
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
