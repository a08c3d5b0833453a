"""The package's exceptions: one root, `MelodyRNNError`, and a few subclasses by kind.

Every failure a user can cause (a bad file, flag, config or model) ends in one of these, with
a message that names the file or value and says what was wrong. This module imports nothing
of ours, so every other module can import it.
"""

from __future__ import annotations

# What every command exits with (the one exit-code policy; `melodyrnn.cli` documents it).
EXIT_RUN_ERROR = 1  # a MelodyRNNError at run time: bad file, dataset, model or value
EXIT_USAGE = 2  # a bad command line: unknown flag, bad flag value, missing argument
EXIT_INTERRUPTED = 130  # Ctrl-C


class MelodyRNNError(Exception):
    """Root of every error raised on purpose by melodyrnn."""


class MelodyError(MelodyRNNError, ValueError):
    """A note or melody that breaks its own rules (pitch out of range, overlap, ...)."""


class ReadError(MelodyRNNError):
    """A file that cannot be read as music: missing, corrupt, or of an unknown kind."""


class WriteError(MelodyRNNError):
    """An output that cannot be written (exists without --force, bad suffix, ...)."""


class TokenizerError(MelodyRNNError, ValueError):
    """A tokenizer option, vocabulary or token id that is not valid."""


class CorpusError(MelodyRNNError):
    """A corpus name, recipe or dataset directory that cannot be used."""


class ConfigError(MelodyRNNError, ValueError):
    """A configuration value or command-line flag that is not valid."""


class ModelError(MelodyRNNError):
    """A model bundle or checkpoint that cannot be loaded or used."""
