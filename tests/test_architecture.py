"""The package's layers (docs/architecture.md): import-linter's contracts hold and no module imports itself back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

grimp = pytest.importorskip("grimp", reason="install the test extra (import-linter)")


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def import_cycles(package: str = "sentiment") -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly connected
    components over the package's import graph; imports of the package root itself are left out)."""
    graph = grimp.build_graph(package)
    edges = {
        m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x.startswith(f"{package}."))
        for m in graph.modules
        if m.startswith(package)
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = [stack.pop()]
            while group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    assert import_cycles() == []


def test_top_level_stays_small():
    top = sorted(p.stem for p in (ROOT / "sentiment").glob("*.py"))
    assert len(top) <= 8, top


def test_every_module_is_described_in_the_architecture_page():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "sentiment").rglob("*.py"))
        if p.name != "__init__.py" or p.parent.name == "sentiment"
    ]
    missing = [m for m in modules if f"`{m}`" not in page]
    assert not missing, f"add these modules to docs/architecture.md's table: {missing}"


def test_every_module_says_its_job():
    import ast

    silent = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "sentiment").rglob("*.py"))
        if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not silent, f"give these modules a one-line docstring: {silent}"
