"""The continuous-training DAG (`orchestration/airflow/dags/loanrisk_ct.py`) runs only what the
project has: every `make X` a Makefile target, every `dvc repro <stage>` a stage of dvc.yaml,
every pipeline file it reads a name of `loanrisk.paths`. Read with ast, never imported:
Airflow lives in its own venv (`make airflow-test` runs the DAG itself), and the DAG imports
nothing from the project."""

from __future__ import annotations

import ast
import re
import shlex

import pytest
import yaml

from loanrisk import paths
from tests.helpers import ROOT

DAG = ROOT / "orchestration" / "airflow" / "dags" / "loanrisk_ct.py"

PREFIXES = ("data/", "reports/", "models/", f"{paths.MODEL_CARDS}/", f"{paths.DATASHEETS}/")
"""Where the pipeline's files live (as in tests/code/test_paths.py)."""
NAMES = {value for value in vars(paths).values() if isinstance(value, str)}
"""Every path `loanrisk.paths` names."""
PUBLIC_AIRFLOW = ("airflow.sdk", "airflow.providers.")
"""Airflow 3's public API: the task SDK and the providers (not airflow.models, ...)."""


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z_-]+):", (ROOT / "Makefile").read_text(), re.M))


def dvc_stages() -> set[str]:
    return set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def strings(tree: ast.Module) -> list[str]:
    """The string constants of the module, its docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def commands(texts: list[str]) -> list[list[str]]:
    """Each simple shell command in ``texts`` that runs make or `dvc repro`, as its words."""
    found = []
    for text in texts:
        for part in re.split(r"&&|\|\||[;|\n]", text):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            if words[:1] == ["make"] or words[:2] == ["dvc", "repro"]:
                found.append(words)
    return found


def problems(source: str) -> list[str]:
    """What in the DAG's ``source`` the project does not have, one line each."""
    tree = ast.parse(source)
    texts = strings(tree)
    found: list[str] = []
    ran: set[str] = set()
    for words in commands(texts):
        if words[0] == "make":
            tool, named = "make", [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            unknown, known = "Makefile target", make_targets()
        else:
            tool, named = "dvc repro", [w for w in words[2:] if not w.startswith("-")]
            unknown, known = "dvc.yaml stage", dvc_stages()
        ran |= {f"{tool} {name}" for name in named}
        found += [
            f"{' '.join(words)}: no {unknown} {name!r}" for name in named if name not in known
        ]
    if not {"make retrain", "dvc repro monitor"} <= ran:
        found.append(f"the DAG does not run `dvc repro monitor` and `make retrain` (it runs {ran})")
    typed = [text for text in texts if text.startswith(PREFIXES)]
    found += [f"{text!r} is not a path of loanrisk.paths" for text in typed if text not in NAMES]
    if paths.DRIFT not in typed:
        found.append(f"the DAG does not read the monitor's decision ({paths.DRIFT})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            modules += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for module in modules:
                top = module.split(".")[0]
                if top in {"loanrisk", "serving", "pipelines", "tests"}:
                    found.append(f"imports {module}: the Airflow venv does not have the project")
                if top == "airflow" and not module.startswith(PUBLIC_AIRFLOW):
                    found.append(f"imports {module}: not Airflow 3's public API {PUBLIC_AIRFLOW}")
    return found


def test_the_dag_runs_only_the_projects_targets_stages_and_paths() -> None:
    assert problems(DAG.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('"make retrain"', '"make retrian"', "no Makefile target 'retrian'"),
        ('--single-item monitor"', '--single-item monitr"', "no dvc.yaml stage 'monitr'"),
        ('"reports/monitoring/drift.json"', '"reports/monitoring/drfit.json"', "drfit.json"),
        ("import json\n", "import json\nfrom loanrisk import paths\n", "imports loanrisk"),
        ("from airflow.sdk import", "from airflow.decorators import", "airflow.decorators"),
        ('"make retrain"', '"make test"', "does not run `dvc repro monitor` and `make retrain`"),
    ],
)
def test_a_broken_dag_is_named(old: str, new: str, problem: str) -> None:
    source = DAG.read_text()
    assert old in source
    found = problems(source.replace(old, new, 1))
    assert len(found) >= 1 and any(problem in line for line in found), found


def test_the_dag_names_the_dag_id_that_make_airflow_test_runs() -> None:
    check = (ROOT / "orchestration" / "airflow" / "check_dag.py").read_text()
    assert 'DAG_ID = "loanrisk_ct"' in DAG.read_text() and 'DAG_ID = "loanrisk_ct"' in check
    assert "airflow-test:" in (ROOT / "Makefile").read_text()
