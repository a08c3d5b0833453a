"""The package's import graph: no cycles, and late imports only where they buy start-up time.

The layers themselves (cli > evaluate > fit, generate > prepare > models, tokenizers, io >
core > errors) are checked by import-linter (`lint-imports`, configured in pyproject.toml);
these tests add what a layers contract cannot see: cycles among modules of one layer, and
function-local imports used to dodge a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "melodyrnn"
# Third-party libraries that take long to import (or pull in ones that do): a function that
# needs one may import it when called, so `import melodyrnn` and the CLI start fast.
HEAVY = {"torch", "lightning", "music21", "numpy", "matplotlib", "safetensors", "pretty_midi",
         "symusic", "verovio", "cairosvg", "fluidsynth", "tensorboard", "tqdm"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(module imported, line, whether inside a function) for every import of ours or of a
    heavy library in a file, except those under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local_lines = {sub.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                   for sub in ast.walk(node) if isinstance(sub, ast.Import | ast.ImportFrom)}
    typing_only = {sub.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
                   for sub in ast.walk(node) if isinstance(sub, ast.Import | ast.ImportFrom)}
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in typing_only:
            continue  # for the type checker only: never imported at run time
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from melodyrnn.io import inputs` imports the submodule; `import X` the module
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        for name in names:
            if name.split(".")[0] == "melodyrnn" or name.split(".")[0] in HEAVY:
                found.append((name, node.lineno, node.lineno in local_lines))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: {imported for imported, _, _ in _imports(path, known) if imported in known}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_modules() -> None:
    graph = _graph()
    assert len(graph) > 50  # the walk found the package
    assert _cycles(graph) == []


def test_the_data_model_imports_nothing_heavy_and_no_other_stage() -> None:
    known = set(_modules())
    for name, path in _modules().items():
        if name.startswith("melodyrnn.core"):
            for imported, line, _ in _imports(path, known):
                assert imported.startswith(("melodyrnn.core", "melodyrnn.errors")), \
                    f"{path.name}:{line} imports {imported}"


@pytest.mark.parametrize("name", sorted(_modules()), ids=str)
def test_function_local_imports_only_load_heavy_libraries_late(name: str) -> None:
    """A late import is of a heavy library; of our own modules only in cli/, where a command
    loads its stage when it runs, with a comment saying so on the line above."""
    path = _modules()[name]
    lines = path.read_text(encoding="utf-8").splitlines()
    for imported, line, local in _imports(path, set(_modules())):
        if not local:
            continue
        where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported} inside a function"
        if imported.split(".")[0] in HEAVY:
            continue
        assert name.startswith("melodyrnn.cli."), f"{where}; import it at the top"
        assert lines[line - 2].strip().startswith("#"), f"{where} without a comment above"
