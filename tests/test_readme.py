"""The README is a contract: every ```bash and ```python block in it works as written.

The slow tests run the blocks in order in one temporary folder that holds a copy of configs/,
with `melodyrnn` and `python` on PATH meaning this interpreter (`sys.executable -m melodyrnn`,
`sys.executable`). A block right after `<!-- readme-test: parse-only -->` (the set-up line, the
test command, the big corpora, the folk training, the benchmarks) is only parsed, by the quick
test: each `melodyrnn` command by that command's own parser (`--print_config` for `fit`), each
`python benchmarks/...` command against the flags of its script, and every block by `bash -n`
or `ast.parse`.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PARSE_ONLY = "<!-- readme-test: parse-only -->"
# Commands that start melodyrnn on a cluster: the melodyrnn command line after them is checked.
LAUNCHERS = ("torchrun", "srun")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    parse_only: bool

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{self.lang}"


def read_blocks(text: str) -> list[Block]:
    """Every fenced block, with its language and whether a parse-only marker precedes it."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()),
                      "")
        blocks.append(Block(match.group(1), "\n".join(body) + "\n", start + 1,
                            before == PARSE_ONLY))
        i += 1
    return blocks


BLOCKS = [b for b in read_blocks(README.read_text(encoding="utf-8"))
          if b.lang in ("bash", "python")]


def commands(code: str) -> list[list[str]]:
    """The simple commands of a bash block: continued lines joined, comments dropped, && split."""
    joined = re.sub(r"\\\n", " ", code)
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            found.append(words[:cut])
            words = words[cut + 1:]
    return [c for c in found if c]


# --- the quick test: the shape of the README and every command parses ----------------------

def test_readme_has_runnable_and_parse_only_blocks() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(PARSE_ONLY) == sum(b.parse_only for b in read_blocks(text)), \
        "a parse-only marker must stand right before a fenced block"
    for lang in ("bash", "python"):
        assert any(b.lang == lang and not b.parse_only for b in BLOCKS), lang
    # the set-up stays two commands at the top: install + generate, then the tests
    first, second = BLOCKS[0], BLOCKS[1]
    assert "pip install" in first.code and "melodyrnn generate" in first.code
    assert commands(second.code) == [["python", "-m", "pytest", "-q"]]


def _parse_melodyrnn(argv: list[str]) -> None:
    """Parse a `melodyrnn ...` command line with the command's own parser, running nothing."""
    from melodyrnn.cli import build_parser
    from melodyrnn.cli.fit import COMMANDS

    if argv and argv[0] in COMMANDS:
        from melodyrnn.fit.cli import make_cli

        out = io.StringIO()
        with pytest.raises(SystemExit) as exc, contextlib.redirect_stdout(out):
            make_cli([*argv, "--print_config"])
        assert exc.value.code in (0, None), f"melodyrnn {shlex.join(argv)}: exit {exc.value.code}"
        assert "trainer:" in out.getvalue()
        return
    if argv[:1] == ["lab"]:  # its flags come from the experiments (cli/lab.py)
        from melodyrnn.cli.lab import build_parser as build_lab_parser

        try:
            assert build_lab_parser().parse_args(argv[1:]).experiment
        except SystemExit as exc:
            raise AssertionError(f"melodyrnn {shlex.join(argv)} does not parse "
                                 f"(exit {exc.code})") from None
        return
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"melodyrnn {shlex.join(argv)} does not parse "
                             f"(exit {exc.code})") from None
    assert args.command is not None


def _parse_python(argv: list[str]) -> None:
    """`python -m MODULE ...` names an importable module; `python SCRIPT ...` its own flags."""
    if argv[:1] == ["-m"]:
        assert importlib.util.find_spec(argv[1]) is not None, argv[1]
        return
    script = ROOT / argv[0]
    assert script.is_file(), f"{argv[0]} does not exist"
    source = script.read_text(encoding="utf-8")
    ast.parse(source)
    for flag in (a.split("=")[0] for a in argv[1:] if a.startswith("--")):
        assert f'"{flag}"' in source, f"{argv[0]} has no flag {flag}"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_parses(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.lang == "python":
        ast.parse(block.code, filename=block.id)
        return
    result = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    monkeypatch.chdir(ROOT)  # configs/ and benchmarks/ as a fresh clone has them
    for argv in commands(block.code):
        if argv[0] in LAUNCHERS and "melodyrnn" in argv:  # torchrun/srun [python] -m melodyrnn
            argv = argv[argv.index("melodyrnn"):]
        if argv[0] == "melodyrnn":
            _parse_melodyrnn(argv[1:])
        elif argv[0] == "python" and len(argv) > 1:
            _parse_python(argv[1:])


def test_prepare_list_runs_alone_and_a_missing_source_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    from melodyrnn.cli import main

    assert main(["prepare", "--list"]) == 0  # as the README writes it: no source needed
    assert "essen-kinder" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "--out", "corpora/x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodyrnn prepare: error:") and "SOURCE" in err
    assert len(err.splitlines()) == 1


# --- the slow tests: run every runnable block, in order, in one folder ---------------------

class Workspace:
    """A temporary folder laid out like a fresh clone's working directory, and its PATH."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.copytree(ROOT / "configs", folder / "configs")
        bin_dir = folder.parent / "bin"
        bin_dir.mkdir()
        for name, line in (("melodyrnn", f'exec "{sys.executable}" -m melodyrnn "$@"'),
                           ("python", f'exec "{sys.executable}" "$@"')):
            shim = bin_dir / name
            shim.write_text(f"#!/bin/sh\n{line}\n")
            shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
        self.env = {**os.environ,
                    "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                    "PYTHONPATH": os.pathsep.join(
                        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
                    "MELODYRNN_CACHE": str(folder.parent / "cache")}
        self.done: dict[int, str] = {}  # block index -> "" when it passed, else why it failed

    def run(self, index: int) -> None:
        block = BLOCKS[index]
        if block.lang == "python":
            script = self.folder.parent / f"block-{block.line}.py"
            script.write_text(block.code)
            argv = [sys.executable, str(script)]
        else:
            argv = ["bash", "-euo", "pipefail", "-c", block.code]
        result = subprocess.run(argv, cwd=self.folder, env=self.env, capture_output=True,
                                text=True, timeout=900, check=False)
        output = (result.stdout + result.stderr)[-3000:]
        self.done[index] = "" if result.returncode == 0 else \
            f"{block.id} exited {result.returncode}:\n{output}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("readme") / "clone")


RUNNABLE = [i for i, b in enumerate(BLOCKS) if not b.parse_only]


@pytest.mark.slow
@pytest.mark.parametrize("index", RUNNABLE, ids=[BLOCKS[i].id for i in RUNNABLE])
def test_readme_block_runs(index: int, workspace: Workspace) -> None:
    for earlier in (i for i in RUNNABLE if i < index and i not in workspace.done):
        workspace.run(earlier)  # a block may use what the blocks before it wrote
    failed = [why for i, why in workspace.done.items() if why and i < index]
    if failed:
        pytest.skip(f"an earlier block failed: {failed[0].splitlines()[0]}")
    workspace.run(index)
    assert not workspace.done[index], workspace.done[index]


@pytest.mark.slow
def test_readme_blocks_wrote_what_they_say(workspace: Workspace) -> None:
    for index in (i for i in RUNNABLE if i not in workspace.done):
        workspace.run(index)
    assert not any(workspace.done.values())
    folder = workspace.folder
    assert (folder / "outputs" / "melody-7.mid").is_file()
    assert {p.suffix for p in (folder / "scores").iterdir()} == {".png", ".wav"}
    assert (folder / "tune.mid").is_file()
    assert (folder / "corpora" / "essen-kinder" / "manifest.json").is_file()
    assert (folder / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt").is_file()
    assert (folder / "my-model" / "model.safetensors").is_file()
