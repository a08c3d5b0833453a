"""A studio generate request against `melodyrnn generate` of the same tune.

The studio's side is one POST /api/generate over HTTP to a `melodyrnn studio` started for
the run (the server, its JSON parsing, the worker thread, and the .mid, .svg and .wav it
writes); the command's side is `melodyrnn generate` in this process with the same settings
and `--formats mid,svg,wav` (it loads the model each run, as a command does; the studio loads
it once, and is timed warm). Two processes, because verovio lays out scores in one thread
of a process only.
Both write the same tune with the same seed. Sides alternate and the best round of each
counts; the ratio is studio / command (goal: at most 1.5).

    python benchmarks/studio_speed.py                    # 8 bars of 6/8, 3 rounds
    python benchmarks/studio_speed.py --bars 32 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from melodyrnn.cli import main


def studio_seconds(address: str, form: dict) -> float:
    request = urllib.request.Request(f"{address}/api/generate", json.dumps(form).encode(),
                                     {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()
    return time.perf_counter() - start


def start_studio() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "melodyrnn", "studio", "--port",
                               str(port)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()  # "melodyrnn studio: open http://..." once it is ready
    assert "open http" in line, line
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=5).read()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def command_seconds(out: Path, form: dict) -> float:
    args = ["generate", "--meter", form["meter"], "--key", form["key"], "--primer",
            form["primer"], "--bars", str(form["bars"]), "--seed", str(form["seed"]),
            "--temperature", str(form["temperature"]), "--formats", "mid,svg,wav",
            "--out", str(out), "--force", "--quiet"]
    start = time.perf_counter()
    with redirect_stdout(StringIO()):
        code = main(args)
    seconds = time.perf_counter() - start
    assert code == 0
    return seconds


def run(bars: int, rounds: int) -> None:
    form = {"meter": "6/8", "key": "D:dorian", "primer": "D4 E4 F4 A4:2", "bars": bars,
            "seed": 7, "temperature": 1.0}
    server, address = start_studio()
    try:
        with tempfile.TemporaryDirectory() as folder:
            studio_seconds(address, form)  # warm: imports, verovio's fonts, fluidsynth
            command_seconds(Path(folder), form)
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(studio_seconds(address, form))
                theirs.append(command_seconds(Path(folder), form))
    finally:
        server.terminate()
        server.wait(30)
    best_studio, best_command = min(ours), min(theirs)
    print(f"{bars} bars of 6/8, mid+svg+wav, best of {rounds}: studio request "
          f"{best_studio:.2f} s, melodyrnn generate {best_command:.2f} s; ratio "
          f"{best_studio / best_command:.2f}x (goal: at most 1.5x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    run(options.bars, options.rounds)
