"""The `note` encoding (the default): `Pitch_p Duration_d` per note, `Rest_r` per silence.

    BOS [TimeSig_6/8] [Key_D_dorian] [Bar] Rest_2 Pitch_62 Duration_4 Pitch_64 Duration_2 ... EOS

With `form_tokens` it also writes the written form (see `tokenizers/form.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, FormState, Mark
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers.base import Tokenizer, check_bool, check_int
from melodyrnn.tokenizers.form import MARK_KINDS, MARKS, PICKUP, form_vocabulary
from melodyrnn.tokenizers.grammar import (
    BARS_DONE,
    BARS_FREE,
    BARS_OWED,
    BODY,
    DURATION,
    METERS,
    GrammarState,
    Token,
)

NO_FORM = FormState()
OWED_ENDING = "ending"  # mask key of the state after `:|` closed an ending: the next one, only


class NoteTokenizer(Tokenizer):
    """Compact note events: `Pitch_p Duration_d` per note, `Rest_r` per silence.

    Splitting is lossless and unique: a silence longer than `max_duration_steps` (or, with
    bar tokens, one crossing a bar line) becomes several Rest tokens that sum to it; a note
    longer than `max_duration_steps` is `Duration_max` then `Hold_h` tokens that lengthen it
    (`Hold_h` may only follow a Duration or Hold at the maximum). The first note's offset is
    a leading Rest and the silence after the last note (up to `end_step`) a trailing Rest.

    Without `form_tokens` a melody with repeats is written as played (`Melody.unfold`). With
    them (they need `meter_token`) it is written as written: `Pickup_p` first when the first
    bar is a p-step pickup (then the first Bar opens the pickup bar, and no Rest pads it), and
    `RepeatStart`, `RepeatEnd`, `Ending_n` at their steps, before the Bar owed there, cutting a
    Rest where they stand. A melody whose meter has no TimeSig token (TimeSig_other) has no
    bar length to measure its pickup against: its pickup is written as a leading Rest and
    decodes as a first bar that begins with silence.
    """

    name = "note"

    def __init__(self, *, steps_per_quarter: int = 4, pitch_range: Sequence[int] = (0, 127),
                 max_duration_steps: int | None = None, bar_tokens: bool = False,
                 meter_token: bool = False, key_token: bool = False,
                 form_tokens: bool = False) -> None:
        spq = check_int("steps_per_quarter", steps_per_quarter, 1, 96)
        if max_duration_steps is None:
            max_duration_steps = 16 * spq  # four bars of 4/4
        self.max_duration_steps = check_int("max_duration_steps", max_duration_steps, 1, 4096)
        self.form_tokens = check_bool("form_tokens", form_tokens)
        if self.form_tokens and not check_bool("meter_token", meter_token):
            raise TokenizerError(f"tokenizer option form_tokens=True needs meter_token=True "
                                 f"(got meter_token={meter_token!r}): a pickup is measured "
                                 "against the bar that the TimeSig token gives")
        super().__init__(steps_per_quarter=spq, pitch_range=pitch_range, bar_tokens=bar_tokens,
                         meter_token=meter_token, key_token=key_token)
        # id of a token = first id of its type + value; kept as offsets for a fast encode
        self._pitch0 = self.token_to_id[f"Pitch_{self.pitch_range[0]}"] - self.pitch_range[0]
        self._duration0 = self.token_to_id["Duration_1"] - 1
        self._rest0 = self.token_to_id["Rest_1"] - 1
        self._hold0 = self.token_to_id["Hold_1"] - 1
        if self.form_tokens:
            self._mark_id = {(kind, number): self.token_to_id[Mark(0, kind, number).name]
                             for kind, number in MARKS}
            self._marks = tuple((kind, number, i) for (kind, number), i in self._mark_id.items())
            self._pickup0 = self.token_to_id[f"{PICKUP}_1"] - 1
            self.form_opening_ids = (self._mark_id[REPEAT_START, 0], self._mark_id[ENDING, 1])

    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this tokenizer; `form_tokens` only when on, so a
        tokenizer without them is saved as it always was."""
        options = super().options()
        if not self.form_tokens:
            del options["form_tokens"]
        return options

    def _body_tokens(self) -> list[Token]:
        low, high = self.pitch_range
        steps = range(1, self.max_duration_steps + 1)
        # form tokens come last, so the ids of all others are those of the plain vocabulary
        return ([Token(f"Pitch_{p}", "Pitch", p) for p in range(low, high + 1)]
                + [Token(f"Duration_{d}", "Duration", d) for d in steps]
                + [Token(f"Rest_{d}", "Rest", d) for d in steps]
                + [Token(f"Hold_{d}", "Hold", d) for d in steps]
                + (form_vocabulary(self.steps_per_quarter) if self.form_tokens else []))

    def _encode_body(self, melody: Melody, out: list[int]) -> None:
        spb = melody.steps_per_bar if self.bar_tokens else 0
        step = bars = first = 0
        if not self.form_tokens:
            if melody.form:
                melody = melody.unfold()
        elif melody.form or melody.pickup_steps:
            step, bars, first = self._encode_form(melody, out, spb)
        step, bars = self._encode_notes(melody, melody.notes[first:] if first else melody.notes,
                                        out, step, bars, spb)
        if melody.end_step > step:
            bars = self._encode_rest(out, step, melody.end_step, bars, spb)
        if spb:  # Bars of the bars begun before the end but after the last event started
            out += [self.bar_id] * (-(-melody.end_step // spb) - bars)

    def _encode_form(self, melody: Melody, out: list[int], spb: int) -> tuple[int, int, int]:
        """The pickup, and the notes, rests and marks up to the last mark; returns the step
        and Bars reached and the index of the first note not yet written."""
        step = bars = first = 0
        if melody.pickup_steps and melody.time_signature in METERS:  # else a Rest pads it
            out.append(self._pickup0 + melody.pickup_steps)
            step = melody.start_step
        notes, marks = melody.notes, melody.form  # marks in written order (see sort_marks)
        k = 0
        while k < len(marks):
            at = marks[k].step
            last = first
            while last < len(notes) and notes[last].start_step < at:
                last += 1
            step, bars = self._encode_notes(melody, notes[first:last], out, step, bars, spb)
            first = last
            if at > step:  # a Rest stops at a mark
                bars = self._encode_rest(out, step, at, bars, spb)
                step = at
            while k < len(marks) and marks[k].step == at:  # before the Bar owed here
                out.append(self._mark_id[marks[k].kind, marks[k].number])
                k += 1
        return step, bars, first

    def _encode_notes(self, melody: Melody, notes: Sequence[Note], out: list[int], step: int,
                      bars: int, spb: int) -> tuple[int, int]:
        """Each note with the Rest and Bars before it; returns the step and Bars reached."""
        low, high = self.pitch_range
        longest, pitch0, duration0 = self.max_duration_steps, self._pitch0, self._duration0
        for note in notes:
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
        return step, bars

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
        if not self.form_tokens:
            return (BODY, bars, self._eos_allowed(state), longest_rest, state.may_hold,
                    state.may_rest)
        form = state.form
        if form.ending < 0:  # `:|` closed ending k: ending k + 1 begins here, before anything
            return (OWED_ENDING, self._mark_id[ENDING, 1 - form.ending])
        may_end = form.may_end()
        # a pickup only opens the body, and is shorter than the bar the TimeSig token gave
        first = state.step == 0 and state.bars == 0 and form == NO_FORM
        pickup = max(state.steps_per_bar - 1, 0) if first else 0
        return (BODY, bars, may_end and self._eos_allowed(state), longest_rest, state.may_hold,
                state.may_rest, self._allowed_marks(state), pickup, may_end)

    def _allowed_marks(self, state: GrammarState) -> tuple[int, ...]:
        """Ids of the marks that may stand next: where the form allows them, and not after a
        Bar at this step (marks come before it)."""
        if state.step == state.bar_step:
            return ()
        form, step = state.form, state.step
        return tuple(i for kind, number, i in self._marks if form.allows(kind, step, number))

    def form_closing_ids(self, state: GrammarState) -> tuple[int, ...]:
        """Ids allowed next that close the form left open at `state` (see the base class)."""
        if not self.form_tokens or state.phase != BODY or state.form.may_end():
            return ()
        if state.form.ending < 0:
            return (self._mark_id[ENDING, 1 - state.form.ending],)
        # an open repeat or first ending: its RepeatEnd closes it (a second ending follows)
        return tuple(i for i in self._allowed_marks(state) if self._kinds[i] == REPEAT_END)

    def _body_mask(self, key: tuple[Any, ...]) -> Iterable[int]:
        if key[0] == DURATION:
            return self.kind_ids("Duration")
        if key[0] == OWED_ENDING:
            return [key[1]]
        _, bars, eos, longest_rest, may_hold, may_rest, *form = key
        allowed = [self.eos_id] if eos else []
        if bars in (BARS_FREE, BARS_OWED):
            allowed.append(self.bar_id)
        if bars != BARS_OWED:
            allowed += self.kind_ids("Pitch")
            if may_rest:
                allowed += range(self._rest0 + 1, self._rest0 + longest_rest + 1)
        if may_hold:
            allowed += self.kind_ids("Hold")
        if form:
            marks, pickup, _ = form
            allowed += marks
            allowed += range(self._pickup0 + 1, self._pickup0 + pickup + 1)
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
        if kind in MARK_KINDS:  # a mark ends the note before it and cuts the Rest before it
            return state._replace(form=state.form.after(Mark(state.step, kind, value)),
                                  may_hold=False, may_rest=True)
        if kind == PICKUP:
            start = state.steps_per_bar - value
            return state._replace(step=start, form=FormState(section_step=start),
                                  start_step=start)
        return state._replace(bars=state.bars + 1, may_hold=False, may_rest=True,  # Bar
                              bar_step=state.step)

    def _collect(self, notes: list[list[int]], state: GrammarState, token_id: int) -> None:
        kind = self._kinds[token_id]
        if kind == "Duration":
            notes.append([state.pitch, state.step, self._values[token_id]])
        elif kind == "Hold":
            notes[-1][2] += self._values[token_id]

    def _finish(self, notes: list[list[int]], state: GrammarState) -> int:
        return 1 if state.phase == DURATION else 0  # a Pitch that never got its Duration
