"""The project reads no library's private names: they change without notice between releases.

Every .py file under src/, serving/ and pipelines/ is parsed, and three things fail the test:
importing a module path with a private component (``sklearn._loss``), importing a private
name (``from sklearn.calibration import _SigmoidCalibration``), and reading an attribute whose
name starts with one underscore on anything but ``self``, ``cls`` or a name the file itself
defines (``model._predictors`` fails; ``self._row`` and a module-level ``_helper`` do not).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PLACES = ("src", "serving", "pipelines")
OWN = {"self", "cls"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_modules(tree: ast.Module) -> set[str]:
    """Names bound in the file to the project's own modules (``from loanrisk import x``):
    their private helpers are the project's, not a library's."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in ("loanrisk", "serving", "pipelines"):
                own |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            own |= {a.asname or a.name for a in node.names}
    return own


def problems(
    source: str, where: str = "<snippet>", beside: frozenset[str] = frozenset()
) -> list[str]:
    """Each private name ``source`` reads, as ``where:line: what``; ``beside`` names the
    project's modules next to the file (``pipelines/_installed.py``), which it may import."""
    tree = ast.parse(source)
    own = OWN | _own_modules(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in beside:
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"{where}:{node.lineno}: import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            project = node.module.split(".")[0] in ("loanrisk", "serving", "pipelines", *beside)
            if not project and any(_private(part) for part in node.module.split(".")):
                found.append((node.lineno, f"{where}:{node.lineno}: from {node.module} import ..."))
            elif not project:
                for alias in node.names:
                    if _private(alias.name):
                        found.append(
                            (
                                node.lineno,
                                f"{where}:{node.lineno}: from {node.module} import {alias.name}",
                            )
                        )
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in own:
                continue
            found.append((node.lineno, f"{where}:{node.lineno}: {ast.unparse(node)}"))
    return [text for _, text in sorted(found)]


def _beside(path: Path) -> frozenset[str]:
    return frozenset(p.stem for p in path.parent.glob("*.py"))


def files() -> list[Path]:
    return sorted(p for place in PLACES for p in (ROOT / place).rglob("*.py"))


def test_no_file_reads_a_private_name() -> None:
    checked = files()
    assert len(checked) > 30, "the check found next to nothing to read"
    found = [
        problem
        for path in checked
        for problem in problems(path.read_text(), str(path.relative_to(ROOT)), _beside(path))
    ]
    assert found == []


def test_the_check_sees_a_private_attribute_and_a_private_module() -> None:
    snippet = "\n".join(
        [
            "import sklearn._loss",
            "from sklearn._loss.loss import HalfBinomialLoss",
            "from sklearn.calibration import _SigmoidCalibration",
            "trees = model._predictors",
            "baseline = model.steps[-1][1]._baseline_prediction",
        ]
    )
    assert problems(snippet) == [
        "<snippet>:1: import sklearn._loss",
        "<snippet>:2: from sklearn._loss.loss import ...",
        "<snippet>:3: from sklearn.calibration import _SigmoidCalibration",
        "<snippet>:4: model._predictors",
        "<snippet>:5: model.steps[-1][1]._baseline_prediction",
    ]


def test_the_projects_own_private_helpers_pass() -> None:
    snippet = "\n".join(
        [
            "from loanrisk.fastpath import _compile",
            "from loanrisk import tracking",
            "import _installed",
            "class A:",
            "    def f(self):",
            "        return self._row, type(self).__name__, tracking._helper()",
            "    @classmethod",
            "    def g(cls):",
            "        return cls._made",
            "def _helper():",
            "    return _helper",
        ]
    )
    assert problems(snippet, beside=frozenset({"_installed"})) == []
