"""`make airflow-test`'s check fails on a DAG that gets the decision wrong.

A copy of the continuous-training DAG that always follows the ``retrain`` branch is run
by `orchestration/airflow/check_dag.py` (what `make airflow-test` runs on the real DAG): on
the embedded defaults the monitor recommends nothing, so the check must stop at its first
run, in one line naming the task. Needs Airflow's own venv (`make airflow-setup`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, clean_env

pytestmark = pytest.mark.slow

AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
DAG = ROOT / "orchestration" / "airflow" / "dags" / "loanrisk_ct.py"
DECISION = 'return "retrain" if decision["retrain"] else "keep_champion"'


def test_a_dag_that_retrains_without_a_recommendation_fails_the_check(tmp_path: Path) -> None:
    if not AIRFLOW.is_file():
        pytest.skip("Airflow's venv is absent: `make airflow-setup` creates .venv-airflow")
    source = DAG.read_text()
    assert DECISION in source
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / DAG.name).write_text(source.replace(DECISION, 'return "retrain"'))
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "orchestration" / "airflow" / "check_dag.py"),
            "--airflow",
            str(AIRFLOW),
            "--dags-folder",
            str(dags),
            "--tmp",
            str(tmp_path),
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "run1 (no drift): task retrain is success, expected skipped" in result.stderr
