"""Cold start of `melodyrnn generate` (one 16-bar melody, .mid only) against `import torch`.

Each side is a fresh subprocess of this venv's Python, timed alternately, best of `--rounds`:

    python -m melodyrnn generate --num 1 --bars 16 --formats mid --seed 1 --out TMP/N [--model M]
    python -c "import torch"

The tune has a fixed length (16 bars) so that the figure does not move with the tune a seed
happens to draw: a tune the model ends itself is anything from 8 to 60 bars long.

The ratio of the two is the goal (<= 1.2x): torch is the one import generate cannot avoid, so
everything above it is ours. A third side runs generate with OMP_NUM_THREADS=1: on a machine
whose cores are busy, torch's two OpenMP threads wait on each other at every op, and a
one-melody step (batch 1) costs tens of milliseconds instead of a fraction of one.

Then the slowest imports (`python -X importtime`) of `generate --help` and of the generate
run itself, and which heavy optional modules a .mid-only generate imports: music21, verovio,
cairosvg, the audio stack (pretty_midi, which loads pyfluidsynth; soundfile), Lightning and
torch's compiler (torch._dynamo, which costs as much again as torch) should not be.

With no `--model` and no bundled model, a bundle of the folk model's shape with random weights
is written to a temporary folder and passed as `--model`. Loading and per-step sampling then
cost what the real model's would, but the melody's length differs (a random model ends at a
random EOS, at most 512 tokens); the generate line printed below says how long it was.

    /work/venv/bin/python benchmarks/cold_start.py                # best of 5
    /work/venv/bin/python benchmarks/cold_start.py --model runs/folk/version_0 --rounds 7
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOLK_TOKENIZER = Path(__file__).resolve().parents[1] / "corpora" / "folk" / "tokenizer.json"
MUST_NOT_IMPORT = {"music21", "verovio", "cairosvg", "fluidsynth", "pretty_midi", "soundfile",
                   "lightning", "pytorch_lightning", "lightning_fabric", "torch._dynamo"}
ALSO_REPORT = {"mido", "symusic", "numpy", "scipy", "safetensors", "yaml",
               "jsonargparse", "torchmetrics", "tensorboard", "matplotlib", "pandas", "PIL",
               "miditok", "lightning_utilities"}
# Runs the CLI in-process and, at exit, prints the top-level packages of interest it imported.
CHECK_SCRIPT = """
import atexit, json, runpy, sys
names = {names!r}
atexit.register(lambda: print("IMPORTED " + json.dumps(sorted(
    ({{m.split(".")[0] for m in sys.modules}} | set(sys.modules)) & names))))
sys.argv = {argv!r}
runpy.run_module("melodyrnn.cli", run_name="__main__", alter_sys=True)
"""


def write_random_bundle(folder: Path) -> Path:
    """A bundle of the folk model's shape (LSTM 2x256, embedding 128) with random weights."""
    import torch
    from safetensors.torch import save_file

    from melodyrnn.models.bundle import BUNDLE_FORMAT, FORMAT_VERSION, META_FILE, WEIGHTS_FILE
    from melodyrnn.models.network import MelodyLSTM

    tokenizer = json.loads(FOLK_TOKENIZER.read_text(encoding="utf-8"))
    torch.manual_seed(0)
    network = MelodyLSTM(vocab_size=len(tokenizer["vocab"]), cell="lstm", embedding_dim=128,
                         hidden_size=256, num_layers=2)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_FILE
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(weights))
    meta = {"format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION,
            "network": network.options(), "tokenizer": tokenizer,
            "weights": {"file": WEIGHTS_FILE,
                        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}}
    (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return folder


def generate_argv(out: Path, model: str | None) -> list[str]:
    """The generate command line, writing one .mid into `out`."""
    argv = ["generate", "--num", "1", "--bars", "16", "--formats", "mid", "--seed", "1",
            "--out", str(out)]
    return argv + (["--model", model] if model else [])


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of a subprocess, and its stdout; exits if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr.strip()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout.strip()


def time_cold_starts(tmp: Path, model: str | None,
                     rounds: int) -> tuple[dict[str, tuple[float, float]], str]:
    """Best (wall, CPU) seconds of each side, alternating the order; and generate's output."""
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}
    best: dict[str, tuple[float, float]] = {}
    said = ""
    generate = [sys.executable, "-m", "melodyrnn"]
    for round_ in range(rounds):
        # a fresh --out folder each time: generate refuses to overwrite
        sides = [("generate", generate + generate_argv(tmp / f"a-{round_}", model), None),
                 ("torch", [sys.executable, "-c", "import torch"], None),
                 ("generate, 1 thread", generate + generate_argv(tmp / f"b-{round_}", model),
                  one_thread)]
        for name, cmd, env in sides[::-1] if round_ % 2 else sides:
            wall, cpu, stdout = timed(cmd, env)
            old = best.get(name, (wall, cpu))
            best[name] = (min(wall, old[0]), min(cpu, old[1]))
            said = stdout if name == "generate" else said
            print(f"  round {round_ + 1}: {name:<19} {wall:6.2f} s wall {cpu:6.2f} s CPU",
                  flush=True)
    return best, said


def import_times(argv: list[str]) -> list[tuple[int, int, str]]:
    """(cumulative us, depth, module) per line of `python -X importtime -m melodyrnn.cli ...`,
    in the order Python prints them (a module's own imports come just before it)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "melodyrnn", *argv],
                          capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((int(cumulative), depth, name.strip()))
    return rows


def print_import_times(title: str, rows: list[tuple[int, int, str]], top: int) -> None:
    """The slowest top-level imports, and where each watched module came in from."""
    total = sum(us for us, depth, _ in rows if depth == 0)
    print(f"\n{title}: {total / 1e6:.2f} s of imports; slowest (cumulative, top two levels):")
    for us, depth, name in sorted((r for r in rows if r[1] <= 1), reverse=True)[:top]:
        print(f"  {us / 1e3:8.0f} ms  {'  ' * depth}{name}")
    for i, (us, depth, name) in enumerate(rows):
        if name in MUST_NOT_IMPORT | {"pretty_midi", "symusic"}:
            chain, level = [name], depth
            for _, d, parent in rows[i + 1:]:  # the importer is the next line less indented
                if d < level:
                    chain.append(parent)
                    level = d
            print(f"  {us / 1e3:8.0f} ms  {name}, imported via {' <- '.join(chain[1:]) or '-'}")


def imported_modules(out: Path, model: str | None) -> list[str]:
    """Top-level packages of interest that a .mid-only generate run has imported at exit."""
    code = CHECK_SCRIPT.format(names=MUST_NOT_IMPORT | ALSO_REPORT,
                               argv=["melodyrnn", *generate_argv(out, model)])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("IMPORTED ")), None)
    if line is None:
        raise SystemExit(f"the import check failed ({done.returncode}):\n{done.stderr.strip()}")
    return json.loads(line.removeprefix("IMPORTED "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="bundle or checkpoint passed to generate (default: the "
                        "bundled model, else a random-weight bundle of its shape)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; best counts")
    parser.add_argument("--top", type=int, default=8, help="slowest imports to list")
    args = parser.parse_args()
    from melodyrnn.generate.model import DEFAULT_MODEL

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = args.model
        if model is None and not (DEFAULT_MODEL / "bundle.json").is_file():
            model = str(write_random_bundle(tmp / "random-folk"))
            print(f"no bundled model at {DEFAULT_MODEL}: using a random-weight bundle of its "
                  f"shape, {model}")
        print(f"python {sys.executable}; alternating, best of {args.rounds}:", flush=True)
        best, said = time_cold_starts(tmp, model, args.rounds)
        print(f"\ngenerate said: {said}")
        commands = {"generate": "melodyrnn generate --num 1 --formats mid",
                    "generate, 1 thread": "the same with OMP_NUM_THREADS=1",
                    "torch": 'python -c "import torch"'}
        for name, command in commands.items():
            print(f"{command:<42} {best[name][0]:6.2f} s wall {best[name][1]:6.2f} s CPU")
        torch_s = best["torch"][0]
        print(f"ratio generate / import torch: {best['generate'][0] / torch_s:.2f}x wall "
              f"(goal <= 1.2x); with one thread {best['generate, 1 thread'][0] / torch_s:.2f}x")

        print_import_times("python -X importtime -m melodyrnn generate --help",
                           import_times(["generate", "--help"]), args.top)
        print_import_times("python -X importtime -m melodyrnn generate (.mid only)",
                           import_times(generate_argv(tmp / "importtime", model)), args.top)

        found = imported_modules(tmp / "check", model)
        bad = [m for m in found if m in MUST_NOT_IMPORT]
        print(f"\nimported by a .mid-only generate, of {', '.join(sorted(MUST_NOT_IMPORT))}: "
              f"{', '.join(bad) or 'none'}  ({'FAIL' if bad else 'ok'})")
        print(f"other heavy-ish packages it imported: "
              f"{', '.join(m for m in found if m not in MUST_NOT_IMPORT) or 'none'}")


if __name__ == "__main__":
    main()
