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


SERVING = SRC.parent / "serving"


def serving_imports() -> dict[str, set[str]]:
    """Module of serving/ -> the serving modules it imports (at any depth in the file)."""
    modules = {
        ".".join(p.relative_to(SERVING.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in SERVING.rglob("*.py")
    }
    found: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            found[name] |= {t for t in targets if t in modules and t != name}
    return found


def test_serving_has_no_import_cycle() -> None:
    graph = serving_imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_service_object_knows_no_web_framework() -> None:
    """Everything under `serving.routes` and the app speak HTTP; the data plane does not."""
    web = ("fastapi", "starlette")
    for name in ("service", "scoring", "validation", "errors", "model", "monitor", "capture"):
        tree = ast.parse((SERVING / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(web), f"serving/{name}.py imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(web), f"serving/{name}.py imports it"


def test_the_serving_process_never_writes_to_the_registry() -> None:
    """Least privilege: serving reads models (a bundle, or `models:/name@alias`); moving an
    alias, registering or exporting is the pipeline's and the CLI's."""
    writes = {
        "promote",
        "rollback",
        "register_challenger",
        "export_version",
        "export_bundle",
        "set_registered_model_alias",
        "delete_registered_model_alias",
        "set_model_version_tag",
        "create_model_version",
        "transition_model_version_stage",
    }
    for path in SERVING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if isinstance(node, ast.alias):
                name = node.name
            assert name not in writes, f"{path.relative_to(SERVING.parent)} uses {name}"
