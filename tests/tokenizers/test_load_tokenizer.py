"""load_tokenizer as the reader of untrusted descriptions: a bad field is one sentence."""

from __future__ import annotations

from typing import Any

import pytest

from melodyrnn.errors import TokenizerError
from melodyrnn.tokenizers import get_tokenizer, load_tokenizer


def description(**changes: Any) -> dict[str, Any]:
    return {**get_tokenizer("note", steps_per_quarter=4).to_dict(), **changes}


@pytest.mark.parametrize(("changes", "message"), [
    ({"vocab": 5}, "the stored vocabulary is not a list of token names (got int)"),
    ({"vocab": "PAD BOS EOS"}, "the stored vocabulary is not a list of token names (got str)"),
    ({"vocab": [0, 1, 2]}, "the stored vocabulary is not a list of token names (got list)"),
    ({"name": ["note"]}, "the tokenizer name is list, not one of note, grid"),
    ({"options": {"steps_per_quarter": 10**5000}},
     "tokenizer option steps_per_quarter=an integer of about 5,001 digits"),
    ({"options": {"steps_per_quarter": True}}, "tokenizer option steps_per_quarter=True"),
], ids=["number", "string", "ints", "name", "huge", "bool"])
def test_a_bad_field_is_one_tokenizer_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TokenizerError) as caught:
        load_tokenizer(description(**changes))
    assert message in str(caught.value)
    assert str(caught.value).startswith("tokenizer: ")


def test_a_good_description_still_loads() -> None:
    assert load_tokenizer(description()).vocab == description()["vocab"]
