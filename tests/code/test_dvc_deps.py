"""Every project module a stage imports is one of its DVC deps, so a change re-runs it.

A stage whose code is not among its deps is silently skipped by `dvc repro` after that code
changes: the outputs then describe code that no longer exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
STAGES: dict[str, dict[str, object]] = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of project module ``name`` (None for a third-party module)."""
    if name != "loanrisk" and not name.startswith("loanrisk."):
        return None
    base = SRC / Path(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def imported_modules(path: Path) -> set[str]:
    """Modules imported anywhere in ``path`` (inside functions too: lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def project_files(script: Path) -> set[Path]:
    """Every project file the script imports, directly or through other project modules."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            found = module_file(name)
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    return seen


def is_empty_package(path: Path) -> bool:
    """An ``__init__.py`` holding only a docstring: importing it changes nothing."""
    body = ast.parse(path.read_text()).body
    return path.name == "__init__.py" and all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_declares_every_project_module_it_imports(name: str) -> None:
    stage = STAGES[name]
    script = ROOT / str(stage["cmd"]).split()[-1]
    deps = [ROOT / str(d) for d in stage["deps"]]  # type: ignore[attr-defined]
    assert script in deps, f"{name}: its own script is not a dep"
    missing = sorted(
        str(f.relative_to(ROOT))
        for f in project_files(script)
        if not is_empty_package(f) and not any(f == d or d in f.parents for d in deps)
    )
    assert missing == [], f"stage {name} imports {missing} without declaring them as deps"


def test_the_check_sees_lazy_imports() -> None:
    files = project_files(ROOT / "pipelines/ingest.py")
    assert SRC / "loanrisk/data/generator.py" in files  # imported inside a function
