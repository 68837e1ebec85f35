"""Every file the pipeline reads or writes is named once, in `loanrisk.paths`, and `dvc.yaml`
names the same files: the two cannot drift apart, and no module types a path itself."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from loanrisk import paths
from tests.helpers import ROOT

PREFIXES = ("data/", "reports/", "models/", f"{paths.MODEL_CARDS}/", f"{paths.DATASHEETS}/")
"""Where the pipeline's files live; a string starting so is a path typed by hand."""
EXACT = {paths.PROBLEM, paths.CAPTURES, paths.MODEL_CARDS, paths.DATASHEETS}


def dvc_outputs(stages: dict[str, Any]) -> dict[str, set[str]]:
    """Stage -> the paths it declares as outs, metrics and plots."""
    found = {}
    for name, stage in stages.items():
        entries = [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]
        found[name] = {e if isinstance(e, str) else next(iter(e)) for e in entries}
    return found


def disagreements(stages: dict[str, Any]) -> list[str]:
    """Where `dvc.yaml`'s stages and `paths.OUTPUTS` differ, one line each."""
    declared = dvc_outputs(stages)
    problems = []
    if list(declared) != list(paths.OUTPUTS):
        problems.append(f"stages: dvc.yaml {list(declared)} != paths {list(paths.OUTPUTS)}")
    for name in declared.keys() & paths.OUTPUTS.keys():
        if declared[name] != set(paths.OUTPUTS[name]):
            problems.append(
                f"{name}: dvc.yaml {sorted(declared[name])} != paths {paths.OUTPUTS[name]}"
            )
    return problems


def typed_paths(source: str) -> list[str]:
    """The string constants in ``source`` that are one of the pipeline's paths (or start
    like one): each should have been a name from `loanrisk.paths`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.startswith(PREFIXES) or text in EXACT:
                found.append(text)
    return found


def stages() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def test_dvc_yaml_and_the_paths_module_name_the_same_outputs() -> None:
    assert disagreements(stages()) == []


def unmade_deps(stages: dict[str, Any]) -> list[str]:
    """The data files a stage reads that no earlier stage writes, as `stage: path`."""
    made: set[str] = set()
    unknown = []
    for name, stage in stages.items():
        for dep in stage["deps"]:
            code = dep.startswith(("src/", "pipelines/", "${", f"{paths.TEMPLATES}"))
            if not code and dep not in made:
                unknown.append(f"{name}: {dep}")
        made |= set(paths.OUTPUTS.get(name, ()))
    return unknown


def test_every_file_a_stage_reads_is_an_output_of_an_earlier_stage() -> None:
    assert unmade_deps(stages()) == []


def test_no_module_types_a_pipeline_path() -> None:
    modules = [
        *ROOT.glob("pipelines/*.py"),
        *ROOT.glob("src/**/*.py"),
        *ROOT.glob("serving/**/*.py"),
    ]
    typed = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if path.name != "paths.py" and (found := typed_paths(path.read_text()))
    }
    assert typed == {}


def test_the_checks_fail_on_a_renamed_output_and_a_typed_path() -> None:
    changed = stages()
    changed["split"]["outs"][0] = "data/splits/training.parquet"
    assert disagreements(changed) == [
        "split: dvc.yaml ['data/splits/test.parquet', 'data/splits/training.parquet', "
        "'data/splits/valid.parquet', 'reports/split.json'] != paths "
        "('data/splits/train.parquet', 'data/splits/valid.parquet', "
        "'data/splits/test.parquet', 'reports/split.json')"
    ]
    early = stages()
    early["evaluate"]["deps"].append(paths.VERDICT)  # made later, by verdict
    assert unmade_deps(early) == [f"evaluate: {paths.VERDICT}"]
    snippet = 'METRICS = "reports/metrics.json"\nprint(f"{METRICS}")\n'
    assert typed_paths(snippet) == ["reports/metrics.json"]


def test_the_paths_module_imports_nothing_of_the_project() -> None:
    tree = ast.parse(Path(paths.__file__).read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = {getattr(n, "module", None) or n.names[0].name for n in imported}
    assert modules <= {"__future__", "pathlib"}
