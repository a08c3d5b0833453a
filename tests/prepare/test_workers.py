"""`prepare`'s workers and its time per file: a slow file is skipped by reason, in one process
or in a pool; workers die with their parent, even when it is SIGKILLed."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from melodyrnn.prepare import build, sources, workers

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")
ROOT = Path(__file__).resolve().parents[2]


def test_time_limit_interrupts_the_block_and_is_off_without_a_limit() -> None:
    with pytest.raises(workers.FileTimeout), workers.time_limit(0.05):
        time.sleep(30)
    with workers.time_limit(None):
        time.sleep(0.01)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing left armed


def test_time_limit_outside_the_main_thread_is_no_limit() -> None:
    done = []

    def run() -> None:
        with workers.time_limit(0.01):
            time.sleep(0.05)
        done.append(True)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert done == [True]


def _slow_for(name: str):
    """A read_scores that hangs on files called `name`."""
    real = sources.read_scores

    def read(path, *args, **kwargs):
        if Path(path).name == name:
            time.sleep(60)
        return real(path, *args, **kwargs)
    return read


@pytest.mark.parametrize("jobs", [
    1,
    pytest.param(2, marks=pytest.mark.skipif(
        multiprocessing.get_start_method() != "fork",
        reason="the slow reader is patched in; only forked workers inherit it")),
], ids=["one-process", "pool"])
def test_a_file_over_its_time_is_skipped_and_reported(tmp_path, make_tune_folder, monkeypatch,
                                                      jobs):
    folder = make_tune_folder(tmp_path, n=3)
    real = sources.read_scores
    monkeypatch.setattr(sources, "read_scores", _slow_for("tune01.mid"))
    out = tmp_path / "ds"
    report = build.prepare([str(folder)], out, progress=False, jobs=jobs, file_seconds=0.2)
    reason = report.skipped_files[str(folder / "tune01.mid")]
    assert reason.startswith("timed out: reading it took over 0.2 s, the limit per file; "
                             "raise it with --file-timeout or MELODYRNN_PREPARE_FILE_SECONDS")
    assert sum(report.melodies.values()) == 2 and "timed out 1" in report.summary()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_files"] == {str(folder / "tune01.mid"): reason}
    assert manifest["file_seconds"] == 0.2
    # a timed-out file is not cached, and more time means a rebuild, not "up to date"
    monkeypatch.setattr(sources, "read_scores", real)
    again = build.prepare([str(folder)], out, progress=False, jobs=jobs, file_seconds=30)
    assert not again.up_to_date and again.skipped_files == {}
    assert sum(again.melodies.values()) == 3


def test_the_limit_comes_from_the_environment(tmp_path, make_tune_folder, monkeypatch):
    folder = make_tune_folder(tmp_path, n=2)
    monkeypatch.setattr(sources, "read_scores", _slow_for("tune00.mid"))
    monkeypatch.setenv("MELODYRNN_PREPARE_FILE_SECONDS", "1")
    report = build.prepare([str(folder)], tmp_path / "ds", progress=False, jobs=1)
    (reason,) = report.skipped_files.values()
    assert reason.startswith("timed out: reading it took over 1 s")


def test_a_worker_whose_parent_is_gone_exits(monkeypatch) -> None:
    monkeypatch.setattr(workers.os, "getppid", lambda: 1)

    def exit_(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(workers.os, "_exit", exit_)
    with pytest.raises(SystemExit):
        workers.die_with_parent(os.getpid())
    with pytest.raises(SystemExit):
        workers._watch_parent(os.getpid())


def _children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


PREPARE_WITH_SLOW_WORKERS = """
import sys, time
from melodyrnn.prepare import sources
sources.read_scores = lambda *args, **kwargs: time.sleep(120)
from melodyrnn.cli import main
sys.exit(main(["prepare", sys.argv[1], "--out", sys.argv[2], "--jobs", "2", "--quiet"]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists()
                    or multiprocessing.get_start_method() != "fork",
                    reason="reads /proc; the slow reader is inherited by forked workers only")
def test_killing_prepare_kills_its_workers(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-c", PREPARE_WITH_SLOW_WORKERS, str(folder),
                               str(tmp_path / "ds")], env=env)
    try:
        kids: list[int] = []
        for _ in range(600):  # until both workers are there (imports take a while)
            kids = _children(parent.pid)
            if len(kids) >= 2 or parent.poll() is not None:
                break
            time.sleep(0.1)
        assert len(kids) >= 2, "prepare started no worker processes"
    finally:
        parent.kill()
        parent.wait()
    for _ in range(300):  # they go at once (PR_SET_PDEATHSIG) or within a watchdog period
        if not any(_running(k) for k in kids):
            break
        time.sleep(0.1)
    survivors = [k for k in kids if _running(k)]
    for pid in survivors:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
