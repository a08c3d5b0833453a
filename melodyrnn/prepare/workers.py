"""The worker processes of `prepare` and the time each file gets.

Workers die with the process that started them, however it ends (a SIGKILL included): on
Linux the kernel sends them SIGKILL when their parent goes (PR_SET_PDEATHSIG), and everywhere a
watchdog thread exits when the parent pid changes. A file gets at most `seconds` of reading and
extraction (`time_limit`): a timer interrupts the Python code reading it, in a worker or in the
main process alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from melodyrnn.core.limits import LIMITS

TIMED_OUT = "timed out"  # the reason a file over its time is skipped with
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_SECONDS = 1.0  # how often a worker checks that its parent is there


class FileTimeout(BaseException):
    """A file ran past its time; a BaseException so that no reader's `except Exception`
    swallows it."""


def timed_out_reason(seconds: float) -> str:
    """The skip reason of a file that took longer than `seconds`."""
    return (f"{TIMED_OUT}: reading it took over {seconds:g} s, the limit per file; raise it "
            f"with --file-timeout or {LIMITS['prepare_file_seconds'].env}")


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise FileTimeout inside the block after `seconds`; no limit where timers are not
    available (outside the main thread, or on Windows)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    assert seconds is not None

    def expire(signum: int, frame: Any) -> None:
        raise FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when `parent_pid` goes, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="melodyrnn-watchdog").start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)  # orphaned: nobody will read our results
