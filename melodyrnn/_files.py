"""Files on disk: the one atomic writer and the one JSON reader of the package.

Every file melodyrnn writes appears whole or not at all: it is written to a temporary name
beside its destination and renamed into place. The temporary file is created with `open`,
so the result has the ordinary mode of a new file (0644 under the usual umask).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from melodyrnn.errors import MelodyRNNError, WriteError


def temporary_sibling(path: Path) -> Path:
    """A fresh name beside `path` with the same suffix, for writing before a rename.

    Same folder, so os.replace is atomic; same suffix, so writers that choose a format by
    suffix (.mxl is compressed) see the right one.
    """
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")


def atomic_write(path: str | Path, write: Callable[[Path], Any], force: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    The file appears whole or not at all; an existing file is replaced only when `force` is
    true; missing parent folders are created. Library errors become a WriteError naming `path`.
    """
    path = Path(path)
    if path.exists() and not force:
        raise WriteError(f"{path} already exists; use --force (force=True) to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{path}: cannot create its folder ({exc.strerror or exc})") from exc
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except MelodyRNNError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # a library failing mid-write: report it, leave nothing behind
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: writing failed ({type(exc).__name__}: {exc})") from exc
    return path


def atomic_write_text(path: str | Path, text: str, force: bool = True) -> Path:
    """Write `text` (UTF-8) to `path` atomically; see `atomic_write`."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), force)


def atomic_write_bytes(path: str | Path, data: bytes, force: bool = True) -> Path:
    """Write `data` to `path` atomically; see `atomic_write`."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), force)


def read_json(path: str | Path, error: type[MelodyRNNError], what: str = "file",
              hint: str = "") -> Any:
    """The parsed JSON of `path`; an unreadable or invalid file raises `error` naming it.

    `what` names the file's role in the message ("the tokenizer file"); `hint` says what to
    do about a broken file ("run `melodyrnn prepare` again").
    """
    fix = f"; {hint}" if hint else ""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} is not UTF-8 text ({exc.reason}){fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc}){fix}") from None
