"""The one atomic writer and JSON reader: whole files with ordinary modes, clear errors."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from melodyrnn._files import (
    atomic_write,
    atomic_write_text,
    folder_lock,
    lock_path,
    pid_alive,
    read_json,
    remove_quietly,
)
from melodyrnn.errors import CorpusError, WriteError
from melodyrnn.tokenizers import get_tokenizer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _new_file_mode(tmp_path: Path) -> int:
    """The mode a file made with open() gets here (0644 under the usual umask 022)."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    return _mode(probe)


def test_files_written_atomically_get_the_mode_of_a_new_file(tmp_path: Path) -> None:
    expected = _new_file_mode(tmp_path)
    text = atomic_write_text(tmp_path / "a" / "note.txt", "hello")
    tokenizer = get_tokenizer("note").save(tmp_path / "tokenizer.json")
    assert text.read_text() == "hello"
    assert _mode(text) == expected and _mode(tokenizer) == expected
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "note.txt", "probe",
                                                          "tokenizer.json"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "out.txt", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(WriteError, match=r"out\.txt: writing failed \(RuntimeError: disk on fire"):
        atomic_write(path, broken)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with pytest.raises(WriteError, match="already exists; use --force"):
        atomic_write_text(path, "new", force=False)


def test_read_json_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text("{oops")
    with pytest.raises(CorpusError, match=r"manifest\.json: not valid JSON .*; run it again$"):
        read_json(bad, CorpusError, "the manifest", "run it again")
    with pytest.raises(CorpusError, match=r"missing\.json: cannot read the manifest"):
        read_json(tmp_path / "missing.json", CorpusError, "the manifest")
    bad.write_text('{"a": [1, 2]}')
    assert read_json(bad, CorpusError) == {"a": [1, 2]}


# --- output paths that cannot be written: one sentence, nothing left behind ---------------------

@pytest.mark.parametrize(("text", "words"), [
    ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
    ('{"n": ' + "9" * 5000 + "}", "holds a value that cannot be read"),
])
def test_read_json_refuses_hostile_json_in_one_sentence(tmp_path: Path, text: str,
                                                        words: str) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=words) as info:
        read_json(path, CorpusError, "the manifest", "run `melodyrnn prepare` again")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_file_where_a_folder_is_expected_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(WriteError, match=r"afile is a file, not a folder; choose another"):
        atomic_write_text(tmp_path / "afile" / "out.txt", "hi")
    with pytest.raises(WriteError, match=r"cannot create folder .*afile[/\\]b: .*afile is a "
                                         r"file, not a folder"):
        atomic_write_text(tmp_path / "afile" / "b" / "out.txt", "hi")
    with pytest.raises(WriteError, match=r"is a folder; choose a file name"):
        atomic_write_text(tmp_path, "hi")
    assert sorted(os.listdir(tmp_path)) == ["afile"]


@pytest.mark.parametrize("error, reason, fix", [
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device",
     "free some space or choose another folder"),
    (OSError("13763 requested and 10176 written"),
     "only 10176 of 13763 bytes could be written, the disk is full",
     "free some space or choose another folder"),
    (OSError(errno.EROFS, "Read-only file system"), "Read-only file system",
     "choose another folder"),
    (RuntimeError("I/O error: Read-only file system (os error 30) at path x"),
     os.strerror(30), "choose another folder"),
], ids=["enospc", "numpy-short-write", "erofs", "rust-os-error"])
def test_an_os_error_mid_write_is_one_sentence_and_leaves_nothing(
        tmp_path: Path, error: Exception, reason: str, fix: str) -> None:
    def failing(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise error

    with pytest.raises(WriteError) as info:
        atomic_write(tmp_path / "out.bin", failing)
    assert str(info.value) == f"{tmp_path / 'out.bin'}: cannot write ({reason}); {fix}"
    assert os.listdir(tmp_path) == []


def test_clean_up_never_raises_inside_the_error_handler(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def unlink(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "unlink", unlink)

    def failing(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match=r"No space left on device\); free some space"):
        atomic_write(tmp_path / "out.bin", failing)
    remove_quietly(tmp_path / "nowhere" / "x")  # nothing there: no error either


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores file modes")
def test_a_read_only_folder_is_named_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(WriteError, match=r"ro[/\\]out\.txt: cannot write \(Permission "
                                             r"denied\); choose another folder"):
            atomic_write_text(folder / "out.txt", "hi")
        with pytest.raises(WriteError, match=r"cannot create folder .*sub \(Permission denied"):
            atomic_write_text(folder / "sub" / "out.txt", "hi")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


# --- the lock on an output folder -------------------------------------------------------------

def test_a_second_lock_on_a_folder_refuses_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with folder_lock(out, CorpusError) as lock:
        assert lock == lock_path(out) and lock.read_text().strip() == str(os.getpid())
        refused = pytest.raises(CorpusError, match=rf"ds is being written by another melodyrnn "
                                                   rf"run \(pid {os.getpid()}\); wait for it to "
                                                   r"finish or choose another --out$")
        with refused, folder_lock(out, CorpusError):
            pass  # pragma: no cover - never reached
    assert not lock_path(out).exists()  # released and removed
    with folder_lock(out):  # free again
        pass


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path: Path) -> None:
    lock_path(tmp_path / "ds").write_text("999999999\n")  # no process holds it
    with folder_lock(tmp_path / "ds") as lock:
        assert lock.read_text().strip() == str(os.getpid())


def test_pid_alive() -> None:
    assert pid_alive(os.getpid()) and not pid_alive(0) and not pid_alive(-5)


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "song.mid", write)
    assert list(tmp_path.iterdir()) == []
