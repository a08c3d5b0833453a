"""`melodyrnn evaluate` loads torch only when it scores a model, so every other command (and
`--help`) starts without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_line_parses_evaluate_without_torch():
    code = ("import sys\n"
            "from melodyrnn.cli import build_parser\n"
            "args = build_parser().parse_args(['evaluate', '--data', 'd', '--quiet'])\n"
            "assert args.quiet and args.func.__module__ == 'melodyrnn.cli.evaluate'\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
