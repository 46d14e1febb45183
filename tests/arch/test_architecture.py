"""The package's shape: no import cycle, layers import in one direction, files stay small.

Every import counts, those under ``TYPE_CHECKING`` and inside functions included: a lazy
import hides a cycle from the interpreter, not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "epmm_async"

MAX_LINES = 450
# Files allowed over MAX_LINES; docs/DESIGN.md ("Files over 450 lines") says why for each.
OVER_LIMIT: dict[str, int] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            # The most specific known module the import names.
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph = {m: _imports(m, p, known) for m, p in mods.items()}
    # A package importing its own submodules is how a package exposes them, not a cycle:
    # only the edges from a package to modules outside it count.
    for m, deps in graph.items():
        if mods[m].name == "__init__.py":
            graph[m] = {d for d in deps if not d.startswith(m + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Lower layers never import higher ones (the simulator stands beside the client: neither
# imports the other, so the oracle cannot borrow the client's assumptions).
LAYERS = {
    "epmm_async.core": {"epmm_async.ops", "epmm_async.cli", "epmm_async.api",
                        "epmm_async.client", "epmm_async.transport",
                        "epmm_async.simulator"},
    "epmm_async.transport": {"epmm_async.ops", "epmm_async.cli", "epmm_async.api",
                             "epmm_async.client", "epmm_async.simulator"},
    "epmm_async.api": {"epmm_async.ops", "epmm_async.cli", "epmm_async.client",
                       "epmm_async.simulator"},
    "epmm_async.ops": {"epmm_async.cli", "epmm_async.client", "epmm_async.simulator"},
    "epmm_async.simulator": {"epmm_async.core", "epmm_async.api", "epmm_async.ops",
                             "epmm_async.cli", "epmm_async.client", "epmm_async.transport",
                             "epmm_async.models", "epmm_async.retry",
                             "epmm_async.retrying", "epmm_async.sender"},
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_point_down(layer: str) -> None:
    graph = _graph()
    wrong = sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        if m == layer or m.startswith(layer + ".")
        for d in deps
        for banned in LAYERS[layer]
        if d == banned or d.startswith(banned + ".")
    )
    assert wrong == []


def test_files_stay_small() -> None:
    over = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert {f: n for f, n in over.items() if f not in OVER_LIMIT} == {}
    # An allowance is for a file as long as DESIGN.md says, not a blank cheque.
    assert {f: n for f, n in over.items() if n > OVER_LIMIT.get(f, MAX_LINES)} == {}


def test_design_names_every_file_over_the_limit() -> None:
    design = (PACKAGE.parent / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    assert [f for f in OVER_LIMIT if f not in design] == []
