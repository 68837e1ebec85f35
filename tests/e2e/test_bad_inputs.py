"""Bad inputs through the real stage commands: malformed `params.yaml` against every stage, and
bad data files through ingest and validate under `dvc repro`.

Each must stop with one readable line on stderr (no traceback), a non-zero exit, and nothing
written that a later stage could take for good output. The parsing itself is tested in
tests/code/test_config.py and tests/data/test_contract.py; here the stages are run as a user
runs them, in a copy of the project that has no outputs yet.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.helpers import AS_OF, ROOT, clean_env, copy_project, dvc, small_params

pytestmark = pytest.mark.slow

STAGES = sorted(p.stem for p in (ROOT / "pipelines").glob("[!_]*.py"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bad-inputs")
    copy_project(target)
    small_params(target)
    return target


def files(project: Path) -> set[str]:
    """Every file of the project but Python's bytecode caches, git's and DVC's own."""
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.relative_to(project).parts[0] != ".git"
        and p.relative_to(project).parts[:2] != (".dvc", "tmp")
    }


def run_stage(project: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"pipelines/{name}.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


BROKEN_PARAMS = {
    "a wrong type": (
        lambda text: text.replace("seed: 42", "seed: forty-two", 1),
        "error: params.yaml: seed: input should be a valid integer, got 'forty-two'",
    ),
    "an unknown key": (
        lambda text: text + "extra_knob: 3\n",
        "error: params.yaml: extra_knob: unknown key (remove it or check its spelling)",
    ),
    "a YAML syntax error": (
        lambda text: text.replace("seed: 42", "seed: [42", 1),
        "error: params.yaml: not valid YAML at line 2, column 8: expected ',' or ']', but got ':'",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_PARAMS))
def test_malformed_params_stop_every_stage_in_one_line(project: Path, case: str) -> None:
    """Each case against three of the nine stage scripts (together, every stage sees a
    malformed file: each script costs seconds of imports before it reads its params) and
    under `dvc repro`."""
    params = project / "params.yaml"
    original = params.read_text()
    assert original.startswith("seed: 42\n")
    edit, expected = BROKEN_PARAMS[case]
    stages = STAGES[list(BROKEN_PARAMS).index(case) :: len(BROKEN_PARAMS)]
    params.write_text(edit(original))
    before = files(project)
    try:
        with ThreadPoolExecutor(2) as pool:
            results = dict(
                zip(stages, pool.map(lambda s: run_stage(project, s), stages), strict=True)
            )
        under_dvc = dvc(project, "repro")
    finally:
        params.write_text(original)
    for name, result in results.items():
        assert result.returncode == 1, (name, result.stdout + result.stderr)
        assert result.stderr.splitlines() == [expected], (name, result.stderr)
    assert under_dvc.returncode != 0
    if case == "a YAML syntax error":
        # DVC reads params.yaml before any stage runs, and says so itself, with the place.
        assert "ERROR: unable to read: 'params.yaml', YAML file structure is corrupted" in (
            under_dvc.stderr
        )
        assert "line 2, column 8" in under_dvc.stderr
    else:
        assert expected in under_dvc.stderr.splitlines()
    assert "Traceback" not in under_dvc.stdout + under_dvc.stderr
    assert files(project) == before  # no stage wrote anything


def _wrong_type(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.assign(income="lots")  # ("n/a" would be read as missing)


BAD_DATA: dict[str, tuple[Any, dict[str, str], str, bool]] = {
    # case: (what is written, params.data changes, the error line starts with, ingest refuses)
    "a column of the wrong type": (
        _wrong_type,
        {},
        "error: the batch breaks the contract of datasets/loans.yaml as a whole: column "
        "'income' cannot be read",
        False,
    ),
    "an empty file": ("", {}, "error: {csv}: could not be read as csv", True),
    "a header and no rows": (lambda b: b.iloc[:0], {}, "error: {csv}: no rows", True),
    "a batch entirely quarantined": (
        lambda b: b.assign(sex="unknown"),
        {},
        "error: 4000 of 4000 rows quarantined (100.0% > 2.0% allowed by "
        "contract.max_quarantine_share)",
        False,
    ),
    "stale data": (
        lambda b: b,
        {"as_of": "2025-06-01"},
        "error: the batch breaks the contract of datasets/loans.yaml as a whole: "
        "newest_row_within_45_days",
        False,
    ),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_stops_ingest_or_validate_in_one_line_leaving_no_batch(
    project: Path, tmp_path: Path, batch: pd.DataFrame, case: str
) -> None:
    make, changes, expected, at_ingest = BAD_DATA[case]
    for earlier in ("data", "reports"):  # what an earlier case left: this one's alone counts
        shutil.rmtree(project / earlier, ignore_errors=True)
    csv = tmp_path / "applications.csv"
    if isinstance(make, str):
        csv.write_text(make)
    else:
        make(batch).to_csv(csv, index=False)
    params = project / "params.yaml"
    original = params.read_text()
    raw = yaml.safe_load(original)
    raw["data"].update({"source": str(csv), "as_of": AS_OF.isoformat(), **changes})
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        result = dvc(project, "repro", "validate")
    finally:
        params.write_text(original)
    output = result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode != 0
    assert len(errors) == 1 and errors[0].startswith(expected.format(csv=csv)), output
    assert "Traceback" not in output
    failed = "ingest" if at_ingest else "validate"
    assert f"ERROR: failed to reproduce '{failed}'" in result.stderr
    # Nothing a later stage could read as a good batch: no validated rows, and no raw batch
    # at all when ingest refused the file.
    assert not (project / "data/validated/applications.parquet").exists()
    assert (project / "data/raw/applications.parquet").exists() is not at_ingest
    if not at_ingest:
        assert (project / "reports/validation.json").exists()  # the reasons, for the user
