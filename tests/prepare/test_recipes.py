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
