"""The error classes: one root, MelodyRNNError, in a module that imports nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

from melodyrnn import errors


def test_every_error_class_is_a_melodyrnn_error():
    classes = [c for c in vars(errors).values() if isinstance(c, type)
               and issubclass(c, Exception) and c.__module__ == errors.__name__]
    assert {c.__name__ for c in classes} >= {"ReadError", "WriteError", "ConfigError",
                                             "ModelError", "CorpusError", "TokenizerError"}
    assert all(issubclass(c, errors.MelodyRNNError) for c in classes)


def test_errors_module_imports_nothing_of_ours():
    tree = ast.parse(Path(errors.__file__).read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [("." * node.level) + (node.module or "") for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)]
    assert imported == ["__future__"]
