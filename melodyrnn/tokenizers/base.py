"""What every tokenizer shares: the vocabulary, the grammar machinery, decoding, and JSON.

A tokenizer's vocabulary is a list of readable `Type_Value` names (`Pitch_62`, `Rest_2`,
`TimeSig_6/8`, `Key_D_dorian`); a token's id is its index. Ids 0-2 are always PAD, BOS, EOS.

The grammar is a small state machine over token ids. `allowed_next(state)` gives a boolean
mask over the vocabulary and `advance(state, id)` the next state, so constrained sampling
can only write sequences that decode without error, and `decode` can skip (and count) ids
that break it. The encodings themselves (`note`, `grid`) live in `note.py` and `grid.py`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, overload

from melodyrnn._files import atomic_write_text
from melodyrnn.core.form import Mark
from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import parse_time_signature, steps_per_bar
from melodyrnn.core.pitch import PITCH_CLASS_NAMES
from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers.form import MARK_KINDS, PICKUP, closed_form
from melodyrnn.tokenizers.grammar import (
    BARS_DONE,
    BARS_FREE,
    BARS_OFF,
    BARS_OWED,
    BODY,
    DECODED_QPM,
    DECODED_VELOCITY,
    DURATION,
    END,
    KEY,
    KEYS,
    METERS,
    START,
    TIMESIG,
    UNKNOWN_KEY,
    UNKNOWN_METER,
    GrammarState,
    Token,
)

# --- option checks (messages name the option and the value received) -------------------------

def check_int(option: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in low..high, else TokenizerError naming option and value."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise TokenizerError(f"tokenizer option {option}={_shown(value)} is not valid: it must "
                             f"be an integer from {low} to {high}")
    return value


def _shown(value: Any) -> str:
    """repr of a value from a file, cut short; an int too long for str() is described."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_bool(option: str, value: Any) -> bool:
    """`value` if it is a bool, else TokenizerError naming option and value."""
    if not isinstance(value, bool):
        raise TokenizerError(f"tokenizer option {option}={_shown(value)} is not valid: it "
                             "must be true or false")
    return value


def check_pitch_range(value: Any) -> tuple[int, int]:
    """(low, high) MIDI pitches with 0 <= low <= high <= 127, else TokenizerError."""
    ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok or not 0 <= value[0] <= value[1] <= 127:
        raise TokenizerError(f"tokenizer option pitch_range={_shown(value)} is not valid: it "
                             "must be two MIDI pitches (low, high) with 0 <= low <= high <= 127")
    return int(value[0]), int(value[1])


# --- the base class ---------------------------------------------------------------------------

class Tokenizer:
    """Readable vocabulary, encode/decode of melodies, and the grammar of allowed next tokens.

    Subclasses give `name`, `_body_tokens`, `_encode_body` and the body part of the grammar
    (`_body_mask_key`, `_body_mask`, `_body_transition`, `_collect`).
    """

    name = ""

    def __init__(self, *, steps_per_quarter: int = 4, pitch_range: Sequence[int] = (0, 127),
                 bar_tokens: bool = False, meter_token: bool = False,
                 key_token: bool = False) -> None:
        self.steps_per_quarter = check_int("steps_per_quarter", steps_per_quarter, 1, 96)
        self.pitch_range = check_pitch_range(pitch_range)
        self.bar_tokens = check_bool("bar_tokens", bar_tokens)
        self.meter_token = check_bool("meter_token", meter_token)
        self.key_token = check_bool("key_token", key_token)
        self.tokens = self._special_tokens() + self._body_tokens()
        self.vocab: list[str] = [t.name for t in self.tokens]
        self.token_to_id: dict[str, int] = {name: i for i, name in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        self.bar_id = self.token_to_id.get("Bar", -1)
        self._kinds = [t.kind for t in self.tokens]
        self._values = [t.value for t in self.tokens]
        self.pitch_token_ids: tuple[int, ...] = tuple(
            i for i, t in enumerate(self.tokens) if t.kind in ("Pitch", "NoteOn"))
        self._meter_ids = {m: self.token_to_id.get(f"TimeSig_{m[0]}/{m[1]}", -1) for m in METERS}
        self._key_ids = {k: self.token_to_id.get(_key_token_name(k), -1) for k in KEYS}
        self._masks: dict[tuple[Any, ...], tuple[bool, ...]] = {}
        # the marks that open a repeat or an ending: none unless the encoding writes form
        self.form_opening_ids: tuple[int, ...] = ()

    def _special_tokens(self) -> list[Token]:
        tokens = [Token("PAD", "PAD"), Token("BOS", "BOS"), Token("EOS", "EOS")]
        if self.bar_tokens:
            tokens.append(Token("Bar", "Bar"))
        if self.meter_token:
            tokens += [Token(f"TimeSig_{n}/{d}", "TimeSig", i) for i, (n, d) in enumerate(METERS)]
            tokens.append(Token(UNKNOWN_METER, "TimeSig", len(METERS)))
        if self.key_token:
            tokens += [Token(_key_token_name(k), "Key", i) for i, k in enumerate(KEYS)]
            tokens.append(Token(UNKNOWN_KEY, "Key", len(KEYS)))
        return tokens

    # -- hooks for the encodings --
    def _body_tokens(self) -> list[Token]:
        raise NotImplementedError

    def _encode_body(self, melody: Melody, out: list[int]) -> None:
        raise NotImplementedError

    def _body_mask_key(self, state: GrammarState) -> tuple[Any, ...]:
        raise NotImplementedError

    def _body_mask(self, key: tuple[Any, ...]) -> Iterable[int]:
        raise NotImplementedError

    def _body_transition(self, state: GrammarState, token_id: int) -> GrammarState:
        raise NotImplementedError

    def _collect(self, notes: list[list[int]], state: GrammarState, token_id: int) -> None:
        """Record what an accepted body token does to the notes ([pitch, start, duration])."""
        raise NotImplementedError

    # -- options and names --
    @classmethod
    def option_names(cls) -> list[str]:
        """Names of the keyword options this encoding takes."""
        return [k for k in inspect.signature(cls.__init__).parameters if k != "self"]

    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this tokenizer with `get_tokenizer(name, ...)`."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((k, getattr(self, k)) for k in self.option_names())}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts}; {self.vocab_size} tokens)"

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        """Token names of `ids`; an id outside the vocabulary shows as '<unknown id N>'."""
        v, n = self.vocab, self.vocab_size
        return [v[i] if 0 <= i < n else f"<unknown id {i}>" for i in map(int, ids)]

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        """Ids of token names; raises TokenizerError on a name not in the vocabulary."""
        try:
            return [self.token_to_id[t] for t in tokens]
        except KeyError as e:
            raise TokenizerError(f"token {e.args[0]!r} is not in the {self.name} tokenizer's "
                                 f"vocabulary (e.g. {', '.join(self.vocab[3:8])}, ...)") from None

    def token_pitch(self, token_id: int) -> int | None:
        """The MIDI pitch a token starts (Pitch_p, NoteOn_p), or None for any other id."""
        if 0 <= token_id < self.vocab_size and self._kinds[token_id] in ("Pitch", "NoteOn"):
            return self._values[token_id]
        return None

    # -- encode --
    def encode(self, melody: Melody) -> list[int]:
        """Token ids of a melody: BOS, prefix tokens, body, EOS."""
        if melody.steps_per_quarter != self.steps_per_quarter:
            raise TokenizerError(
                f"{_where(melody)}melody has steps_per_quarter {melody.steps_per_quarter} but "
                f"the tokenizer uses {self.steps_per_quarter}; quantize it to "
                f"{self.steps_per_quarter} steps per quarter first")
        out = self.encode_prefix(melody.time_signature, melody.key)
        self._encode_body(melody, out)
        out.append(self.eos_id)
        return out

    def encode_prefix(self, time_signature: str | Sequence[int] = (4, 4),
                      key: Key | str | None = None) -> list[int]:
        """BOS and the conditioning tokens this tokenizer uses (TimeSig, Key), e.g. to prime."""
        out = [self.bos_id]
        if self.meter_token:
            meter = parse_time_signature(time_signature)
            out.append(self._meter_ids.get(meter, self.token_to_id[UNKNOWN_METER]))
        if self.key_token:
            key = Key.parse(key) if isinstance(key, str) else key
            out.append(self._key_ids[key] if key is not None else self.token_to_id[UNKNOWN_KEY])
        return out

    def _pitch_error(self, melody: Melody, note: Note) -> TokenizerError:
        low, high = self.pitch_range
        return TokenizerError(
            f"{_where(melody)}note {melody.notes.index(note)} at step {note.start_step} has "
            f"pitch {note.pitch}, outside the tokenizer's pitch_range {low}-{high}; transpose "
            "or clip the melody first")

    # -- grammar --
    def grammar_state(self, ids: Iterable[int] = ()) -> GrammarState:
        """The state after reading `ids` (the start state, before BOS, when empty)."""
        state = GrammarState()
        for token_id in ids:
            state = self.advance(state, int(token_id))
        return state

    def allowed_next(self, state: GrammarState) -> tuple[bool, ...]:
        """Boolean mask over the vocabulary: which ids may come next (cached, do not modify)."""
        key = (state.phase,) if state.phase != BODY and state.phase != DURATION \
            else self._body_mask_key(state)
        mask = self._masks.get(key)
        if mask is None:
            allowed = set(self._phase_mask(key))
            mask = self._masks[key] = tuple(i in allowed for i in range(self.vocab_size))
        return mask

    def advance(self, state: GrammarState, token_id: int) -> GrammarState:
        """The state after `token_id`; raises TokenizerError if the grammar forbids it here."""
        new = self._advance(state, token_id)
        if new is None:
            allowed = sorted({self._kinds[i] for i, ok in enumerate(self.allowed_next(state))
                              if ok})
            raise TokenizerError(
                f"token {self.ids_to_tokens([token_id])[0]} may not come here "
                f"(phase {state.phase!r}, step {state.step}); allowed: "
                f"{', '.join(allowed) or 'nothing after EOS'}")
        return new

    def advance_allowed(self, state: GrammarState, token_id: int) -> GrammarState:
        """The state after a token already known to be allowed (drawn under
        `allowed_next(state)`): `advance` without checking again, for samplers."""
        return self._transition(state, token_id)

    def _advance(self, state: GrammarState, token_id: int) -> GrammarState | None:
        if not 0 <= token_id < self.vocab_size or not self.allowed_next(state)[token_id]:
            return None
        return self._transition(state, token_id)

    def _transition(self, state: GrammarState, token_id: int) -> GrammarState:
        kind = self._kinds[token_id]
        if kind == "BOS":
            phase = TIMESIG if self.meter_token else KEY if self.key_token else BODY
            return state._replace(phase=phase)
        if kind == "TimeSig":
            value = self._values[token_id]
            spb = steps_per_bar(METERS[value], self.steps_per_quarter) \
                if value < len(METERS) else 0
            return state._replace(phase=KEY if self.key_token else BODY, steps_per_bar=spb)
        if kind == "Key":
            return state._replace(phase=BODY)
        if kind == "EOS":
            return state._replace(phase=END)
        return self._body_transition(state, token_id)

    def _phase_mask(self, key: tuple[Any, ...]) -> Iterable[int]:
        phase = key[0]
        if phase == START:
            return [self.bos_id]
        if phase in (TIMESIG, KEY):
            kind = "TimeSig" if phase == TIMESIG else "Key"
            return [i for i, k in enumerate(self._kinds) if k == kind]
        if phase == END:
            return []
        return self._body_mask(key)

    def _bar_status(self, state: GrammarState) -> str:
        """Whether Bar tokens are off, unchecked (meter unknown), owed, or done at this step."""
        if not self.bar_tokens:
            return BARS_OFF
        if not state.steps_per_bar:
            return BARS_FREE
        # one Bar opens each bar, including the first, before any event that starts in it
        return BARS_OWED if state.bars <= state.step // state.steps_per_bar else BARS_DONE

    def _eos_allowed(self, state: GrammarState) -> bool:
        """EOS may come once every bar begun before the end has its Bar, and no more."""
        spb = state.steps_per_bar
        return not (self.bar_tokens and spb) or state.bars == -(-state.step // spb)

    @property
    def unknown_prefix_ids(self) -> list[int]:
        """Ids of the prefix tokens that mean "meter or key not known" (those in the vocabulary).

        When the model chooses a melody's meter and key, these are masked: it picks real ones.
        """
        return [self.token_to_id[name] for name in (UNKNOWN_METER, UNKNOWN_KEY)
                if name in self.token_to_id]

    def form_closing_ids(self, state: GrammarState) -> tuple[int, ...]:
        """Ids allowed next that close the form left open at `state` (a RepeatEnd, the ending
        it owes); empty where the form may end, or for an encoding without form tokens."""
        return ()

    def kind_ids(self, kind: str) -> list[int]:
        """Ids of every token of one type ('Pitch', 'Rest', ...), in vocabulary order."""
        return [i for i, k in enumerate(self._kinds) if k == kind]

    # -- decode --
    @overload
    def decode(self, ids: Iterable[int], return_errors: Literal[False] = False) -> Melody: ...

    @overload
    def decode(self, ids: Iterable[int], return_errors: Literal[True]) -> tuple[Melody, int]: ...

    def decode(self, ids: Iterable[int], return_errors: bool = False
               ) -> Melody | tuple[Melody, int]:
        """The melody of a token sequence, skipping ids that break the grammar.

        A leading BOS and a final EOS may be left out. Every other id the grammar does not
        accept where it stands (PAD, an unknown id, BOS inside, anything after EOS, a
        Duration without a Pitch, ...) is skipped and counted, as is a Pitch left without a
        Duration at the end, and each form mark after the form was last closed when the
        sequence stops before its EOS; `return_errors=True` returns (melody, that count).
        """
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)  # numpy / torch arrays
        state = GrammarState()
        if ids and ids[0] != self.bos_id:
            state = self._advance(state, self.bos_id) or state
        meter: tuple[int, int] = (4, 4)
        key: Key | None = None
        notes: list[list[int]] = []  # [pitch, start_step, duration_steps]
        marks: list[Mark] = []
        pickup_steps = 0
        errors = 0
        for token_id in ids:
            token_id = int(token_id)
            new = self._advance(state, token_id)
            if new is None:
                errors += 1
                continue
            kind = self._kinds[token_id]
            if kind == "TimeSig" and self._values[token_id] < len(METERS):
                meter = METERS[self._values[token_id]]
            elif kind == "Key" and self._values[token_id] < len(KEYS):
                key = KEYS[self._values[token_id]]
            elif kind in MARK_KINDS:
                marks.append(Mark(state.step, kind, self._values[token_id]))
            elif kind == PICKUP:
                pickup_steps = self._values[token_id]
            else:
                self._collect(notes, state, token_id)
            state = new
        errors += self._finish(notes, state)
        form, dropped = closed_form(marks, state.steps_per_bar - pickup_steps
                                    if pickup_steps else 0)
        melody = Melody([Note(p, s, d, DECODED_VELOCITY) for p, s, d in notes],
                        steps_per_quarter=self.steps_per_quarter, qpm=DECODED_QPM,
                        time_signature=meter, key=key, end_step=state.step, form=form,
                        pickup_steps=pickup_steps)
        errors += dropped
        return (melody, errors) if return_errors else melody

    def _finish(self, notes: list[list[int]], state: GrammarState) -> int:
        """Close what the sequence left open at its end; returns errors found there."""
        return 0

    # -- JSON --
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: name, options and vocabulary (see `load_tokenizer`)."""
        return {"name": self.name, "options": self.options(), "vocab": list(self.vocab)}

    def save(self, path: str | Path) -> Path:
        """Write `to_dict()` as JSON to `path` (atomically); returns the path."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")


def _key_token_name(key: Key) -> str:
    return f"Key_{PITCH_CLASS_NAMES[key.tonic]}_{key.mode}"


def _where(melody: Melody) -> str:
    return f"{melody.source}: " if melody.source else ""
