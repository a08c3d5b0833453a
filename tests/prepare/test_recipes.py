"""Corpus recipes: the named corpora, and errors that name the file and the key."""

from __future__ import annotations

import pytest

from melodyrnn.errors import CorpusError
from melodyrnn.prepare import recipes


def test_named_corpora_have_recipes():
    names = recipes.corpus_names()
    for name in ("essen", "essen-kinder", "oneills", "ryans", "bach-soprano", "folk"):
        assert name in names
        recipe = recipes.resolve_recipe(name)
        assert recipe.sources and recipe.files(), name


def test_recipe_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('sources = ["x"]\nsplitt = 1\n')
    with pytest.raises(CorpusError, match=r"bad\.toml.*splitt"):
        recipes.read_recipe(bad)
    bad.write_text('sources = ["x"]\n[split]\nvalid = 0.6\ntest = 0.5\n')
    with pytest.raises(CorpusError, match="split fractions"):
        recipes.read_recipe(bad)
    bad.write_text("sources = [")
    with pytest.raises(CorpusError, match="not valid TOML"):
        recipes.read_recipe(bad)


def test_unknown_source_lists_corpus_names():
    with pytest.raises(CorpusError, match="essen-kinder"):
        recipes.recipe_for(["no-such-corpus"])


def test_each_named_corpus_has_the_grid_its_notes_need():
    grids = {name: recipes.resolve_recipe(name).steps_per_quarter
             for name in ("folk", "oneills", "ryans", "essen", "essen-kinder", "bach-soprano")}
    assert grids == {"folk": 24, "oneills": 24, "ryans": 24, "essen": 8, "essen-kinder": 4,
                     "bach-soprano": 8}


def test_another_grid_keeps_the_longest_duration_token_in_quarters():
    folk = recipes.recipe_for(["folk"])
    assert folk.tokenizer["max_duration_steps"] == 96  # 4 quarters on the 24-step grid
    coarse = recipes.recipe_for(["folk"], steps_per_quarter=4)
    assert (coarse.steps_per_quarter, coarse.tokenizer["max_duration_steps"]) == (4, 16)
    assert recipes.recipe_for(["folk"]).tokenizer["max_duration_steps"] == 96  # file untouched


def test_corpora_named_together_get_a_grid_that_holds_each():
    assert recipes.recipe_for(["essen-kinder", "bach-soprano"]).steps_per_quarter == 8
    both = recipes.recipe_for(["essen", "folk"])
    assert both.steps_per_quarter == 24 and both.exclude == ["music21:essenFolksong/test*.abc"]


def test_another_encoding_keeps_only_the_options_it_takes():
    recipe = recipes.recipe_for(["folk"], tokenizer="grid")
    assert recipe.tokenizer["name"] == "grid"
    assert "max_duration_steps" not in recipe.tokenizer and "form_tokens" not in recipe.tokenizer
    assert recipe.tokenizer["bar_tokens"] is True


def test_form_tokens_can_be_turned_on_and_off():
    assert recipes.recipe_for(["essen-kinder"], form_tokens=True).tokenizer["form_tokens"] is True
    assert recipes.recipe_for(["oneills"], form_tokens=False).tokenizer["form_tokens"] is False
