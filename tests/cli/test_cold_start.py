"""What a command imports: a .mid-only generate loads torch and nothing it does not use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Heavy modules a .mid-only generate has no use for: scores, audio, training, the compiler.
UNUSED_BY_MID_GENERATE = ["music21", "verovio", "cairosvg", "pretty_midi", "fluidsynth",
                          "soundfile", "lightning", "pytorch_lightning", "torch._dynamo"]


def _imported_by(argv: list[str], names: list[str]) -> list[str]:
    """Which of `names` a fresh interpreter running `melodyrnn ARGV` has imported."""
    code = ("import json, sys\nfrom melodyrnn.cli import main\n"
            f"code = main({argv!r})\n"
            f"print(json.dumps([n for n in {names!r} if n in sys.modules]))\n"
            "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mid_only_generate_imports_no_score_audio_or_training_stack(tmp_path: Path) -> None:
    argv = ["generate", "--num", "1", "--formats", "mid", "--seed", "3", "--bars", "4",
            "--out", str(tmp_path)]
    assert _imported_by(argv, UNUSED_BY_MID_GENERATE) == []
    assert [p.suffix for p in tmp_path.iterdir()] == [".mid"]
