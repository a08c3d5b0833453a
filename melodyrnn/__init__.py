"""melodyrnn: learn melodies from MIDI scores with an LSTM, then sample, score, render and play.

The public API is imported lazily, so `import melodyrnn` stays fast and the command line starts
quickly; heavy libraries (torch, music21) load only where they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

from melodyrnn.errors import MelodyRNNError

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Note": "melodyrnn.music",
    "Melody": "melodyrnn.music",
    "Key": "melodyrnn.music",
    "Score": "melodyrnn.music",
    "Track": "melodyrnn.music",
    "read_melodies": "melodyrnn.preprocess",
    "read_scores": "melodyrnn.preprocess",
    "extract_melodies": "melodyrnn.preprocess",
    "get_tokenizer": "melodyrnn.tokenizer",
    "load_tokenizer": "melodyrnn.tokenizer",
    "load_corpus": "melodyrnn.corpora",
    "prepare": "melodyrnn.dataset",
    "load_model": "melodyrnn.api",
    "MelodyModel": "melodyrnn.api",
    "ScoreResult": "melodyrnn.api",
    "evaluate_dataset": "melodyrnn.evaluate",
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
