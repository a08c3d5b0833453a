"""The one atomic writer and JSON reader: whole files with ordinary modes, clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from melodyrnn._files import atomic_write, atomic_write_text, read_json
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
