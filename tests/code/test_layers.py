"""The package's parts depend on each other one way only: no import cycle between them.

A cycle (`models` importing `evaluation` while `evaluation` imports `models`) means neither
can be read, tested or replaced without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def part(module: str) -> str:
    """``loanrisk.models.train`` -> ``loanrisk.models``; top-level modules stand alone."""
    return ".".join(module.split(".")[:2])


def dependencies() -> dict[str, set[str]]:
    """Part -> the other parts it imports from (anywhere in its files)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("loanrisk.") and part(name) != part(module):
                    target = SRC / Path(*name.split("."))
                    if target.with_suffix(".py").is_file() or target.is_dir():
                        found.setdefault(part(module), set()).add(part(name))
    return found


def test_no_two_parts_import_each_other() -> None:
    graph = dependencies()
    cycles = sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))
    assert cycles == []


def test_the_lowest_layers_import_no_other_part() -> None:
    graph = dependencies()
    assert graph.get("loanrisk.errors", set()) == set()
    assert graph.get("loanrisk.stage", set()) <= {"loanrisk.errors"}
    assert "loanrisk.models" not in graph.get("loanrisk.evaluation", set())
