"""`prepare` and its --out folder: a lock per folder, one sentence for every write failure,
nothing half-written left, temporary folders of dead runs only cleaned up."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from melodyrnn._files import folder_lock
from melodyrnn.errors import CorpusError
from melodyrnn.prepare import build, shards

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_out_that_is_a_file_or_lies_under_one_is_refused_first(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(CorpusError, match=r"^--out .*afile is a file, not a folder; choose "
                                          r"another --out$"):
        build.prepare([str(folder)], afile, progress=False)
    with pytest.raises(CorpusError, match=r"^--out .*afile[/\\]ds cannot be created: .*afile "
                                          r"is a file, not a folder; choose another --out$"):
        build.prepare([str(folder)], afile / "ds", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["afile", "tunes"]


def test_a_second_run_into_a_locked_out_refuses_and_leaves_the_first_alone(tmp_path,
                                                                          make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    out = tmp_path / "ds"
    live_tmp = tmp_path / f".ds.tmp-{os.getppid()}"  # the first run's folder, being written
    with folder_lock(out, CorpusError):
        live_tmp.mkdir()
        with pytest.raises(CorpusError, match=rf"ds is being written by another melodyrnn run "
                                              rf"\(pid {os.getpid()}\)"):
            build.prepare([str(folder)], out, progress=False, force=True)
        assert live_tmp.is_dir() and not out.exists()
    build.prepare([str(folder)], out, progress=False, force=True)  # the lock is free again
    assert (out / "manifest.json").is_file()
    assert live_tmp.is_dir()  # its owner still runs: never removed
    assert not (tmp_path / ".ds.lock").exists()


def test_only_temporary_folders_of_dead_runs_are_cleaned_up(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    out = tmp_path / "ds"
    dead = _dead_pid()
    stale = tmp_path / f".ds.tmp-{dead}"
    live = tmp_path / f".ds.tmp-{os.getppid()}"
    moved_aside = tmp_path / f".ds.old-{dead}"  # a dataset a killed run had moved aside
    for path in (stale, live, moved_aside):
        path.mkdir()
    (moved_aside / "manifest.json").write_text("{}")
    build.prepare([str(folder)], out, progress=False)
    assert not stale.exists() and live.is_dir() and not moved_aside.exists()
    assert json.loads((out / "manifest.json").read_text())["counts"]["files"] == 2


@pytest.mark.parametrize("error, reason", [
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (OSError("13763 requested and 10176 written"),
     "only 10176 of 13763 bytes could be written, the disk is full"),
], ids=["enospc", "numpy-short-write"])
def test_a_full_disk_is_one_sentence_and_keeps_the_earlier_dataset(
        tmp_path, make_tune_folder, monkeypatch, error, reason):
    folder = make_tune_folder(tmp_path, n=3)
    out = tmp_path / "ds"
    build.prepare([str(folder)], out, progress=False)
    before = sorted(os.listdir(tmp_path)), (out / "manifest.json").read_bytes()

    def full(path: Path, array: object) -> None:
        path.write_bytes(b"\x93NUMPY partial")
        raise error

    monkeypatch.setattr(shards, "_save", full)
    with pytest.raises(CorpusError) as info:
        build.prepare([str(folder)], out, progress=False, force=True)
    assert str(info.value) == (f"{out}: cannot write the dataset ({reason}"
                               "); free some space or choose another --out")
    assert (sorted(os.listdir(tmp_path)), (out / "manifest.json").read_bytes()) == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores file modes")
def test_a_read_only_parent_is_named(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(CorpusError, match=r"ro[/\\]ds: cannot write in .*ro \(Permission "
                                              r"denied\); choose another --out$"):
            build.prepare([str(folder)], ro / "ds", progress=False)
        with pytest.raises(CorpusError, match=r"cannot create folder .*ro[/\\]a \(Permission "
                                              r"denied\); choose another --out$"):
            build.prepare([str(folder)], ro / "a" / "ds", progress=False)
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o755)


def test_a_build_with_nothing_usable_names_the_first_skipped_file_and_its_reason(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.mid").write_bytes(b"")
    (folder / "noise.mid").write_bytes(b"not a midi file at all")
    with pytest.raises(CorpusError) as info:
        build.prepare([str(folder)], tmp_path / "ds", progress=False, jobs=1)
    text = str(info.value)
    assert "2 file(s) skipped (" in text and "; and 1 other(s))" in text
    assert "empty.mid: " in text or "noise.mid: " in text
    assert "\n" not in text
