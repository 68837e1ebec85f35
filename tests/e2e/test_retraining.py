"""The retraining loop end to end: a recession raises the alarm, `make retrain` answers it.

In a copy of the project at the small size with ``data.scenario: recession`` from
2025-07: `dvc repro` trains and promotes a champion on data from before the shift, and its
monitor stage replays 2025-2026 through it and recommends retraining (drift on the
features the recession moves, calibration off once outcomes mature). `pipelines/retrain.py`
(what `make retrain` runs) then trains on the recent matured months, and the gate compares
the challenger with the champion on the same recent rows: the challenger costs less per
decision and becomes the champion, and the serving bundle follows it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import (
    champion_version,
    clean_env,
    copy_project,
    read,
    repro,
    small_project,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project at the small size, the recession on, after one `dvc repro`."""
    target = small_project(tmp_path_factory.mktemp("retraining"), run=False)
    params = yaml.safe_load((target / "params.yaml").read_text())
    params["data"].update(scenario="recession", scenario_start="2025-07-01")
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro(target)
    return target


def retrain(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "pipelines/retrain.py", *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_recession_raises_the_alarm_and_retraining_replaces_the_champion(
    project: Path,
) -> None:
    old = champion_version(project)
    monitoring = read(project, "reports/monitoring/drift.json")
    decision = monitoring["decision"]
    assert decision["retrain"]
    drift_reason = next(r for r in decision["reasons"] if r.startswith("drift"))
    assert "from 2025-07" in drift_reason and "income" in drift_reason
    assert any("calibration" in r for r in decision["reasons"])
    assert decision["first_drift_month"] == "2025-07"

    result = retrain(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "retrain: because drift" in result.stdout

    # Trained, validated and tested on the recent matured months of the window.
    split = read(project, "reports/split.json")
    assert split["train"]["first_timestamp"].startswith("2025-01")
    assert split["test"]["window"]["applications_from"] == "2025-10-01"
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["source"] == "data/monitoring/retrain.parquet"

    # The gate compared both on those rows; the challenger costs less and took over.
    gate = read(project, "reports/gate.json")
    assert gate["passed"] and gate["promoted"], gate["criteria"]
    assert str(gate["champion_before"]) == old != str(gate["champion_after"])
    assert champion_version(project) == str(gate["champion_after"])
    assert gate["comparison"]["version"] == old
    assert gate["comparison"]["cost"]["high"] < 0
    metrics = read(project, "reports/metrics.json")
    assert metrics["candidate"]["test"]["ece"] < decision["recent_quality"]["ece"]
    provenance = read(project, "models/champion/provenance.json")
    assert str(provenance["version"]) == champion_version(project)


def test_without_a_recommendation_retraining_needs_force(tmp_path: Path) -> None:
    copy_project(tmp_path)
    before = (tmp_path / "params.yaml").read_text()
    (tmp_path / "reports/monitoring").mkdir(parents=True)
    (tmp_path / "reports/monitoring/drift.json").write_text(
        '{"source": "generator", "as_of": "2027-01-01", "months": [],'
        ' "decision": {"retrain": false, "reasons": []}}'
    )
    result = retrain(tmp_path)
    assert result.returncode == 0 and "does not recommend retraining" in result.stdout
    assert (tmp_path / "params.yaml").read_text() == before
    forced = retrain(tmp_path, "--force")
    assert forced.returncode == 1  # no window: the monitor stage has not run
    assert forced.stderr.strip().count("\n") == 0 and "make repro" in forced.stderr
    # A window whose outcomes are all younger than the label horizon: nothing to learn from.
    young = pd.DataFrame(
        {"applied_at": pd.to_datetime(["2026-03-05", "2026-11-20"]), "defaulted": [0, 1]}
    )
    (tmp_path / "data/monitoring").mkdir(parents=True)
    young.to_parquet(tmp_path / "data/monitoring/window.parquet")
    forced = retrain(tmp_path, "--force")
    assert forced.returncode == 1
    assert forced.stderr.strip().count("\n") == 0 and "0 month(s) of matured" in forced.stderr
    assert (tmp_path / "params.yaml").read_text() == before
