"""Tokenizers: melodies to token ids and back, in two encodings, and how to get or load one.

`note` (the default, `tokenizers/note.py`) writes each note as `Pitch_p Duration_d` and each
silence as `Rest_r`; `grid` (`tokenizers/grid.py`) is Magenta Melody RNN's encoding. Both share
options: `steps_per_quarter`, `pitch_range`, `bar_tokens` (a `Bar` opens every bar, before any
event that starts in it), `meter_token` and `key_token` (conditioning tokens right after BOS).
Velocity and tempo are not encoded: decoded notes get velocity 80, melodies 120 qpm. A melody
with repeats is encoded as played (`Melody.unfold`), except by `note` with `form_tokens`, which
writes its written form: repeat signs, endings and the pickup (`form.py`). The base class is in
`base.py`, the grammar's states and vocabulary tables in `grammar.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from melodyrnn._files import read_json
from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers.base import Tokenizer
from melodyrnn.tokenizers.grammar import KEYS, METERS, GrammarState
from melodyrnn.tokenizers.grid import GridTokenizer
from melodyrnn.tokenizers.note import NoteTokenizer

__all__ = ["KEYS", "METERS", "GrammarState", "GridTokenizer", "NoteTokenizer", "Tokenizer",
           "get_tokenizer", "load_tokenizer"]


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
    data = source if isinstance(source, dict) else read_json(Path(source), TokenizerError,
                                                             "the tokenizer file")
    if not isinstance(data, dict) or not {"name", "options", "vocab"} <= data.keys() \
            or not isinstance(data["options"], dict):
        raise TokenizerError(f"{where}: not a tokenizer description; expected a JSON object "
                             "with 'name', 'options' and 'vocab'")
    if not isinstance(data["name"], str):
        raise TokenizerError(f"{where}: the tokenizer name is {type(data['name']).__name__}, "
                             f"not one of {', '.join(ENCODINGS)}")
    stored = data["vocab"]
    if not isinstance(stored, list) or not all(isinstance(t, str) for t in stored):
        raise TokenizerError(f"{where}: the stored vocabulary is not a list of token names "
                             f"(got {type(stored).__name__}); it was edited or damaged")
    try:
        tokenizer = get_tokenizer(data["name"], **data["options"])
    except TokenizerError as e:
        raise TokenizerError(f"{where}: {e}") from None
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
