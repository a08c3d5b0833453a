"""Time `melodyrnn prepare` on a named corpus: cold (empty cache), cached rebuild, up-to-date.

    python benchmarks/prepare_speed.py essen          # about 8,500 tunes
    python benchmarks/prepare_speed.py essen-kinder --jobs 2

Prints wall-clock seconds for each run and the ratios against the cold run. The cache lives in a
temporary folder, so your own cache is left alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    return seconds, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="essen")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MELODYRNN_CACHE": str(Path(tmp) / "cache")}
        base = [sys.executable, "-m", "melodyrnn", "prepare", args.corpus,
                "--out", str(Path(tmp) / "ds"), "--quiet", "--jobs", str(args.jobs)]
        cold, summary = timed(base, env)
        cached, _ = timed([*base, "--force"], env)
        warm, _ = timed(base, env)
    print(summary)
    print(f"\n{'run':<34}{'seconds':>9}{'x cold':>9}")
    for name, sec in (("cold (empty cache)", cold), ("rebuild from cache (--force)", cached),
                      ("warm re-run (up to date)", warm)):
        print(f"{name:<34}{sec:>9.2f}{sec / cold:>9.3f}")
    print(f"\ncores used: {args.jobs}")


if __name__ == "__main__":
    main()
