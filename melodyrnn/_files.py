"""Files on disk: the one atomic writer, the one JSON reader and the lock on an output folder.

Every file melodyrnn writes appears whole or not at all: it is written to a temporary name
beside its destination and renamed into place. The temporary file is created with `open`,
so the result has the ordinary mode of a new file (0644 under the usual umask). Every OSError
on an output path ends as one WriteError sentence naming the path and the reason, and
clean-up of temporary files never raises. `folder_lock` keeps two runs out of one folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from melodyrnn.errors import MelodyRNNError, WriteError


def temporary_sibling(path: Path) -> Path:
    """A fresh name beside `path` with the same suffix, for writing before a rename.

    Same folder, so os.replace is atomic; same suffix, so writers that choose a format by
    suffix (.mxl is compressed) see the right one.
    """
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")


_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")  # numpy's, on a full disk


def os_reason(exc: OSError) -> str:
    """What went wrong in an OSError, in words: its strerror, or numpy's short-write message
    read as the full disk it means."""
    short = _SHORT_WRITE.fullmatch(str(exc))
    if short:  # numpy's tofile sets no errno
        return f"only {short[2]} of {short[1]} bytes could be written, the disk is full"
    return exc.strerror or str(exc) or type(exc).__name__


def disk_full(exc: OSError) -> bool:
    """Whether `exc` says the disk (or the user's quota) is full."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or bool(_SHORT_WRITE.fullmatch(str(exc)))


def write_fix(exc: OSError, elsewhere: str = "choose another folder") -> str:
    """What to do about a failed write: free space on a full disk, else write elsewhere."""
    return f"free some space or {elsewhere}" if disk_full(exc) else elsewhere


def remove_quietly(path: Path) -> None:
    """Remove a temporary file or folder if it is there; clean-up never raises."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def make_folder(path: str | Path, error: type[MelodyRNNError] = WriteError,
                fix: str = "choose another path") -> Path:
    """Create folder `path` and its parents; a file in the way or a refused mkdir raises `error`
    naming the path and the reason, followed by `fix` (what to do)."""
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker == path:
        raise error(f"{path} is a file, not a folder; {fix}")
    if blocker is not None:
        raise error(f"cannot create folder {path}: {blocker} is a file, not a folder; {fix}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create folder {path} ({os_reason(exc)}); {fix}") from None
    return path


def atomic_write(path: str | Path, write: Callable[[Path], Any], force: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    The file appears whole or not at all; an existing file is replaced only when `force` is
    true; missing parent folders are created. Library and OS errors become a WriteError naming
    `path` and the reason; the temporary file is always removed.
    """
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{path} is a folder; choose a file name to write")
    if path.exists() and not force:
        raise WriteError(f"{path} already exists; use --force (force=True) to overwrite it")
    make_folder(path.parent, fix=f"choose another place for {path.name}")
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except MelodyRNNError:
        remove_quietly(tmp)
        raise
    except OSError as exc:
        remove_quietly(tmp)
        raise WriteError(f"{path}: cannot write ({os_reason(exc)}); {write_fix(exc)}") from exc
    except Exception as exc:  # a library failing mid-write: report it, leave nothing behind
        remove_quietly(tmp)
        cause = os_cause(exc)
        if cause is not None:
            raise WriteError(f"{path}: cannot write ({os_reason(cause)}); "
                             f"{write_fix(cause)}") from exc
        raise WriteError(f"{path}: writing failed ({type(exc).__name__}: {exc})") from exc
    except BaseException:  # Ctrl-C or SystemExit mid-write: no half-written file stays behind
        remove_quietly(tmp)
        raise
    return path


def os_cause(exc: BaseException) -> OSError | None:
    """The OSError behind a library's exception: one it was raised from, or one its message
    reports in the words of Rust's std (safetensors: "... (os error 30) ...")."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, OSError):
            return seen
        code = _RUST_OS_ERROR.search(str(seen))
        if code:
            number = int(code[1])
            return OSError(number, os.strerror(number))
        seen = seen.__cause__ or seen.__context__
    return None


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
    except RecursionError:  # lists or objects nested thousands deep: not written by us
        raise error(f"{path}: {what} nests lists or objects too deeply to read{fix}") from None
    except ValueError as exc:  # Python's int-string conversion limit (a 5,000-digit number)
        first = str(exc).split(";")[0]
        raise error(f"{path}: {what} holds a value that cannot be read ({first}){fix}") \
            from None


def lock_path(folder: Path) -> Path:
    """The lock file of an output folder: beside it, so it survives the folder's replacement."""
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def folder_lock(folder: str | Path, error: type[MelodyRNNError] = WriteError,
                fix: str = "choose another --out") -> Iterator[Path]:
    """Hold an exclusive lock on output folder `folder` (an flock on `lock_path`) while inside.

    A second run refuses at once, in one `error` sentence naming the pid of the run that
    holds the lock; waiting is left to the user, who knows whether the other run is theirs.
    The lock goes with the process, so a killed run never leaves a folder locked.
    """
    folder = Path(folder)
    make_folder(folder.parent, error, fix)
    path = lock_path(folder)
    fd = _take_lock(path, folder, error, fix)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        pass  # the pid only makes a refusal clearer
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # before the unlock: a waiting run then sees a new file
        os.close(fd)


def _take_lock(path: Path, folder: Path, error: type[MelodyRNNError], fix: str) -> int:
    """An open descriptor of `path` holding its flock, or `error` when another run holds it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock, as before
        return os.open(os.devnull, os.O_RDWR)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise error(f"{folder}: cannot write in {folder.parent} ({os_reason(exc)}); "
                        f"{fix}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = _lock_owner(fd) if exc.errno in (errno.EAGAIN, errno.EACCES) else None
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise error(f"{folder}: cannot lock {path} ({os_reason(exc)}); {fix}") from None
            who = f" (pid {owner})" if owner else ""
            raise error(f"{folder} is being written by another melodyrnn run{who}; wait for "
                        f"it to finish or {fix}") from None
        try:  # the run before us may have removed the file after we opened it
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except OSError:
            pass
        os.close(fd)


def _lock_owner(fd: int) -> int | None:
    """The pid written in a lock file, if one is there."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (one of another user counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours to signal
    return True
