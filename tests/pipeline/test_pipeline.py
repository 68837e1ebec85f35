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
COPIED = ("src", "pipelines", "datasets", "dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config")

METRIC_FILES = (
    "reports/validation.json",
    "reports/split.json",
    "reports/train_metrics.json",
    "reports/metrics.json",
)
REGISTERED = "loan-default-risk"

pytestmark = pytest.mark.slow


def copy_project(target: Path) -> None:
    """The files `dvc repro` needs, copied into ``target`` (a git repository of its own)."""
    for name in COPIED:
        source = ROOT / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


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
    copy_project(target)
    params = yaml.safe_load((target / "params.yaml").read_text())
    # The generator and its declaration, whatever dataset the project itself is set to.
    params["data"].update(source="generator", declaration="datasets/loans.yaml", size="small")
    params["mlflow"].update(experiment=None, registered_model=None)
    # A 2,000-row test split cannot resolve the default uplift of 0.005 over the logistic
    # baseline; the gate still has to see the candidate at least match it.
    params["gate"]["min_uplift_over_logistic"] = 0.0
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = dvc(target, "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_the_pipeline_accounts_for_every_row(project: Path) -> None:
    report = json.loads((project / "reports/validation.json").read_text())
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"]
    assert report["rows_in"] == 24000


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


def champion_version(project: Path) -> str:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return str(client.get_model_version_by_alias(REGISTERED, "champion").version)


def set_params(project: Path, section: str, **values: object) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    node = params
    for key in section.split("."):
        node = node[key]
    node.update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_evaluation_compares_all_three_models(project: Path) -> None:
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert set(metrics) == {"rule", "logistic", "candidate"}
    for report in metrics.values():
        assert {"roc_auc", "pr_auc", "brier", "log_loss", "ece"} <= set(report["test"])
        assert report["roc_auc_ci95"]["low"] <= report["test"]["roc_auc"]
        assert {"precision", "recall", "f1", "approval_rate", "referral_rate"} <= set(
            report["decisions"]
        )
        assert {"loan_purpose", "region", "age_band", "sex"} <= set(report["slices"])
        assert {"selection_rate_ratio", "equalized_odds_difference"} <= set(
            report["fairness"]["sex"]
        )
        assert report["behaviour"]
    for plot in ("roc", "precision_recall", "calibration", "confusion"):
        assert (project / f"reports/plots/{plot}/candidate.json").is_file()


def test_the_first_champion_is_promoted_and_exported(project: Path) -> None:
    gate = json.loads((project / "reports/gate.json").read_text())
    assert gate["passed"] and gate["promoted"], gate["failures"]
    assert gate["champion_before"] is None
    assert str(gate["champion_after"]) == champion_version(project)
    assert {c["name"] for c in gate["criteria"]} >= {
        "min_roc_auc",
        "min_uplift_over_logistic",
        "max_ece",
        "min_four_fifths_ratio.sex",
        "behavioural_tests",
    }
    provenance = json.loads((project / "models/champion/provenance.json").read_text())
    assert str(provenance["version"]) == champion_version(project)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    split_outs = {o["path"]: o["md5"] for o in lock["stages"]["split"]["outs"]}
    assert provenance["data_md5"] == split_outs["data/splits/train.parquet"]


def test_a_forced_repro_reproduces_the_metrics_to_the_last_digit(project: Path) -> None:
    before = read_metrics(project)
    champion = champion_version(project)
    result = dvc(project, "repro", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_metrics(project) == before
    # The same model again is not worse than the champion: it takes over.
    assert int(champion_version(project)) == int(champion) + 1


def test_a_worse_candidate_leaves_the_champion_in_place(project: Path) -> None:
    champion = champion_version(project)
    set_params(project, "train.candidate", max_iter=1, learning_rate=0.01)
    result = dvc(project, "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    gate = json.loads((project / "reports/gate.json").read_text())
    assert not gate["passed"] and not gate["promoted"]
    assert champion_version(project) == champion == str(gate["champion_after"])
    failed = {c["name"] for c in gate["criteria"] if not c["passed"]}
    assert "not_worse_than_champion" in failed and "min_uplift_over_logistic" in failed
    assert "gate: " in result.stdout


def test_rollback_moves_the_champion_back_and_re_exports(project: Path) -> None:
    champion = champion_version(project)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "loanrisk"),
            "rollback",
            "--reason",
            "test",
            "--by",
            "ci",
        ],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    restored = champion_version(project)
    assert int(restored) < int(champion)
    provenance = json.loads((project / "models/champion/provenance.json").read_text())
    assert str(provenance["version"]) == restored


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
