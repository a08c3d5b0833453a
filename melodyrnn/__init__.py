"""melodyrnn: learn melodies from MIDI scores with an LSTM, then sample, score, render and play.

The public API is imported lazily, so `import melodyrnn` stays fast and the command line starts
quickly; heavy libraries (torch, music21) load only where they are used. The package's folders
are the stages of the data flow (core, io, tokenizers, models, prepare, fit, generate,
evaluate, cli); see CONTRIBUTING.md for the map.
"""

from __future__ import annotations

import importlib
from typing import Any

from melodyrnn._version import __version__
from melodyrnn.errors import MelodyRNNError

# public name -> module that defines it
_LAZY = {
    "Note": "melodyrnn.core.melody",
    "Melody": "melodyrnn.core.melody",
    "Mark": "melodyrnn.core.form",
    "Key": "melodyrnn.core.key",
    "Score": "melodyrnn.core.score",
    "Track": "melodyrnn.core.score",
    "read_scores": "melodyrnn.io",
    "write_melody": "melodyrnn.io",
    "read_melodies": "melodyrnn.prepare.extract",
    "extract_melodies": "melodyrnn.prepare.extract",
    "get_tokenizer": "melodyrnn.tokenizers",
    "load_tokenizer": "melodyrnn.tokenizers",
    "load_corpus": "melodyrnn.prepare.corpus",
    "prepare": "melodyrnn.prepare.build",
    "load_model": "melodyrnn.generate.model",
    "MelodyModel": "melodyrnn.generate.model",
    "ScoreResult": "melodyrnn.generate.model",
    "evaluate_dataset": "melodyrnn.evaluate.likelihood",
}

__all__ = ["MelodyRNNError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'melodyrnn' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
