"""The DVC pipeline end to end, at the small size, in temporary copies of the project.

`dvc repro` runs every stage for real (generator, contract, split, training with MLflow on a
fresh SQLite store, evaluation, the gate and the registry). A second run does nothing; a run
into a second store reproduces every tracked file to the byte; a forced run registers
nothing new; an experiment never moves the champion. Each test that changes the project
puts its params back and starts from the baseline (`baseline()`), so the order of the tests
does not matter.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import (
    NAME,
    champion_version,
    clean_env,
    copy_project,
    dvc,
    project_client,
    read,
    repro,
    small_project,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project, set to the small size, after one `dvc repro`."""
    return small_project(tmp_path_factory.mktemp("project"))


def baseline(project: Path) -> None:
    """Back to the module's params and their outputs (a no-op when nothing changed)."""
    repro(project)


def versions(project: Path) -> list[Any]:
    return list(project_client(project).search_model_versions(f"name = '{NAME}'"))


@contextmanager
def changed_params(project: Path, **changes: dict[str, Any]) -> Iterator[None]:
    """``params.yaml`` with ``changes`` (section -> values) for the block, then restored."""
    path = project / "params.yaml"
    original = path.read_text()
    params = yaml.safe_load(original)
    for section, values in changes.items():
        node = params
        for key in section.split("."):
            node = node[key]
        node.update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        yield
    finally:
        path.write_text(original)


def test_the_pipeline_accounts_for_every_row(project: Path) -> None:
    report = read(project, "reports/validation.json")
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"] == 48000


def test_the_split_is_a_deployment_faithful_backtest(project: Path) -> None:
    split = read(project, "reports/split.json")
    train, valid, test = (split[p]["window"] for p in ("train", "valid", "test"))
    # What a part was fitted or chosen on was known before the next part began.
    assert train["outcomes_known_by"] <= valid["applications_from"]
    assert valid["outcomes_known_by"] <= test["applications_from"]
    assert split["train"]["last_timestamp"] < train["applications_before"]
    assert split["boundaries"]["gap_months"] == 12
    assert min(split[p]["rows"] for p in ("train", "valid", "test")) >= 1500


def test_training_tracks_every_model_with_validation_figures_only(project: Path) -> None:
    metrics = read(project, "reports/train_metrics.json")
    assert set(metrics) == {"rule", "logistic", "candidate"}
    store = project_client(project)
    experiment = store.get_experiment_by_name("loan-default")
    for name in metrics:
        assert set(metrics[name]) - {"calibration", "cross_fitted_ece"} == {"valid"}
        (run,) = store.search_runs(
            [experiment.experiment_id], f"tags.model = '{name}'", max_results=1
        )
        assert run.data.tags["fingerprint"] and run.data.tags["git_commit"]
        assert run.data.metrics["valid.roc_auc"] == pytest.approx(metrics[name]["valid"]["roc_auc"])
        assert not any(key.startswith("test.") for key in run.data.metrics)
        (dataset_input,) = run.inputs.dataset_inputs
        assert dataset_input.dataset.name == "train" and dataset_input.dataset.digest


def test_a_second_repro_does_nothing(project: Path) -> None:
    baseline(project)
    result = repro(project)
    assert "Running stage" not in result.stdout
    assert "up to date" in dvc(project, "status").stdout


def test_the_evaluation_compares_all_three_models(project: Path) -> None:
    metrics = read(project, "reports/metrics.json")
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


def test_dvc_shows_validation_figures_beside_the_params_never_test_ones(project: Path) -> None:
    shown = dvc(project, "metrics", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "train_metrics.json" in shown.stdout
    assert "reports/metrics.json" not in shown.stdout and "verdict.json" not in shown.stdout


def test_the_first_champion_is_promoted_and_exported(project: Path) -> None:
    baseline(project)
    gate = read(project, "reports/gate.json")
    assert str(gate["champion_after"]) == champion_version(project)
    assert {c["name"] for c in gate["criteria"]} >= {
        "min_roc_auc",
        "min_uplift_over_logistic",
        "max_ece",
        "min_four_fifths_ratio.sex",
        "behavioural_tests",
        "not_worse_than_champion",
    }
    verdict = read(project, "reports/verdict.json")
    assert verdict["passed"] and verdict["fingerprint"] == gate["fingerprint"]
    provenance = read(project, "models/champion/provenance.json")
    assert str(provenance["version"]) == champion_version(project)
    card = f"model_cards/{NAME}.md"  # the card, rendered after promote, joined the bundle
    assert card in provenance["files_sha256"]
    served = (project / "models/champion" / card).read_text()
    stamp = f"registered_version: '{champion_version(project)}'\n"
    assert stamp in served.split("\n---\n", 1)[0] + "\n"  # only the bundle knows its version
    assert served.replace(stamp, "", 1) == (project / card).read_text()
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    split_outs = {o["path"]: o["md5"] for o in lock["stages"]["split"]["outs"]}
    assert provenance["data_md5"] == split_outs["data/splits/train.parquet"]


def tracked_files(project: Path) -> dict[str, bytes]:
    """dvc.lock and every report git would commit (gate.json belongs to one store)."""
    names = ["dvc.lock", *(str(p.relative_to(project)) for p in (project / "reports").rglob("*"))]
    return {
        n: (project / n).read_bytes()
        for n in sorted(names)
        if (project / n).is_file() and not n.endswith(("gate.json", ".gitignore"))
    }


def test_a_second_store_reproduces_every_tracked_file_to_the_byte(
    project: Path, tmp_path: Path
) -> None:
    baseline(project)
    other = tmp_path / "clone"
    other.mkdir()
    copy_project(other)
    shutil.copy(project / "params.yaml", other / "params.yaml")
    repro(other)
    assert tracked_files(other).keys() == tracked_files(project).keys()
    for name, content in tracked_files(project).items():
        assert tracked_files(other)[name] == content, f"{name} differs between two stores"
    for path in [*(other / "reports").rglob("*.json"), *(other / "models").rglob("*")]:
        expected = 0o755 if path.is_dir() else 0o644
        assert path.stat().st_mode & 0o777 == expected, path


def test_a_forced_repro_registers_nothing_new(project: Path) -> None:
    baseline(project)
    lock = (project / "dvc.lock").read_bytes()
    champion, count = champion_version(project), len(versions(project))
    repro(project, "--force")
    assert (project / "dvc.lock").read_bytes() == lock
    assert champion_version(project) == champion and len(versions(project)) == count
    gate = read(project, "reports/gate.json")
    assert gate["registered_now"] is False and gate["promoted"] is False


def test_a_worse_candidate_leaves_the_champion_in_place(project: Path) -> None:
    baseline(project)
    champion = champion_version(project)
    with changed_params(project, **{"train.candidate": {"max_iter": 1, "learning_rate": 0.01}}):
        result = repro(project)
    gate = read(project, "reports/gate.json")
    assert not gate["passed"] and not gate["promoted"]
    assert champion_version(project) == champion == str(gate["champion_after"])
    failed = {c["name"] for c in gate["criteria"] if not c["passed"]}
    assert "not_worse_than_champion" in failed and "min_uplift_over_logistic" in failed
    cost, auc = gate["comparison"]["cost"], gate["comparison"]["roc_auc"]
    assert 0 < cost["low"] <= cost["difference"] <= cost["high"]  # costs more, surely
    assert auc["low"] <= auc["difference"] <= auc["high"] < 0
    assert "gate: " in result.stdout


def test_an_experiment_never_moves_the_champion(project: Path) -> None:
    baseline(project)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=clean_env())
    subprocess.run(["git", "commit", "-qm", "baseline"], cwd=project, check=True, env=clean_env())
    champion = champion_version(project)
    result = dvc(project, "exp", "run", "-n", "faster", "-S", "train.candidate.learning_rate=0.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert champion_version(project) == champion
    gate = read(project, "reports/gate.json")
    assert gate["experiment"] == "faster" and gate["promoted"] is False
    tagged = [v for v in versions(project) if v.tags.get("experiment") == "faster"]
    assert [str(v.version) for v in tagged] == [str(gate["challenger_version"])]
    subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=project, check=True)


def test_rollback_moves_the_champion_back_and_sticks(project: Path) -> None:
    baseline(project)
    before = champion_version(project)
    with changed_params(project, gate={"mode": "off"}, **{"train.candidate": {"max_iter": 150}}):
        repro(project)
        crowned = champion_version(project)
        assert crowned != before
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "loanrisk"),
                "rollback",
                "--reason",
                "t",
                "--by",
                "ci",
            ],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert champion_version(project) == before
        assert str(read(project, "models/champion/provenance.json")["version"]) == before
    with changed_params(project, **{"train.candidate": {"max_iter": 150}}):
        repro(project, "--force", "release")
        gate = read(project, "reports/gate.json")
        assert champion_version(project) == before  # the same model does not come back
        assert "not_rolled_back" in {c["name"] for c in gate["criteria"] if not c["passed"]}


def test_a_broken_batch_stops_the_pipeline_with_one_line(project: Path) -> None:
    scenario = {"scenario": "null_feed", "scenario_start": "2022-01-01"}
    with changed_params(project, data=scenario):
        result = dvc(project, "repro", "validate")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "error: " in output and "not_nullable" in output
    assert "Traceback" not in output
    report = read(project, "reports/validation.json")
    assert report["rows_quarantined"] > 0
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"]
