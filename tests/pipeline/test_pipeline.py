"""The DVC pipeline end to end, at the small size, in a temporary copy of the project.

`dvc repro` runs every stage for real (generator, contract, split, training with MLflow on a
fresh SQLite store); a second run does nothing; a forced run reproduces the metrics exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("src", "pipelines", "dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config")
METRIC_FILES = ("reports/validation.json", "reports/split.json", "reports/train_metrics.json")

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def dvc(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    dvc_bin = Path(sys.executable).parent / "dvc"
    return subprocess.run(
        [str(dvc_bin), *args], cwd=project, env=_env(), capture_output=True, text=True, timeout=600
    )


def read_metrics(project: Path) -> dict[str, object]:
    return {name: json.loads((project / name).read_text()) for name in METRIC_FILES}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project, set to the small size, after one `dvc repro`."""
    target = tmp_path_factory.mktemp("project")
    for name in COPIED:
        source = ROOT / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    params = yaml.safe_load((target / "params.yaml").read_text())
    params["data"]["size"] = "small"
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    result = dvc(target, "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_the_pipeline_accounts_for_every_row(project: Path) -> None:
    report = json.loads((project / "reports/validation.json").read_text())
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"]
    assert report["rows_in"] == 6000


def test_the_pipeline_trains_and_tracks_every_model(project: Path) -> None:
    import mlflow

    runs = json.loads((project / "models/runs.json").read_text())
    metrics = json.loads((project / "reports/train_metrics.json").read_text())
    assert set(runs) == set(metrics) == {"rule", "logistic", "candidate"}
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    for name, record in runs.items():
        run = client.get_run(record["run_id"])
        assert run.data.tags["model"] == name
        assert run.data.tags["git_commit"]
        assert run.data.tags["data_md5"] == record["data_md5"]
        assert run.data.metrics["test.roc_auc"] == pytest.approx(metrics[name]["test"]["roc_auc"])
        assert {"valid.brier", "test.pr_auc"} <= set(run.data.metrics)
        (dataset_input,) = run.inputs.dataset_inputs
        assert dataset_input.dataset.name == "train" and dataset_input.dataset.digest
        assert (project / "models" / name / "MLmodel").is_file()


def test_a_second_repro_does_nothing(project: Path) -> None:
    result = dvc(project, "repro")
    assert result.returncode == 0
    assert "Running stage" not in result.stdout
    status = dvc(project, "status")
    assert "up to date" in status.stdout


def test_a_forced_repro_reproduces_the_metrics_to_the_last_digit(project: Path) -> None:
    before = read_metrics(project)
    result = dvc(project, "repro", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_metrics(project) == before


def test_a_broken_batch_stops_the_pipeline_with_one_line(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["scenario"] = "null_feed"
    params["data"]["scenario_start"] = "2023-01-01"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = dvc(project, "repro", "validate")
    assert result.returncode != 0
    assert "error: " in result.stderr + result.stdout
    assert "not_nullable" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    report = json.loads((project / "reports/validation.json").read_text())
    assert report["rows_quarantined"] > 0
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"]
