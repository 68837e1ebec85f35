"""The release as a library function, on a temporary SQLite store, without DVC: it registers a
model once, moves the champion only under the gate's mode and never under an experiment,
and exports the champion's bundle with its card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import mlflow
import pandas as pd
import pytest

from loanrisk import paths, tracking
from loanrisk.config import Params
from loanrisk.errors import StoreError
from loanrisk.evaluation.report import evaluate_model
from loanrisk.models.estimators import build_logistic
from loanrisk.models.train import features, labels
from loanrisk.project import Project
from loanrisk.registry import registry
from loanrisk.registry.bundle import read_provenance, verify_bundle
from loanrisk.registry.release import Candidate, export_champion, offered, release
from tests.helpers import LOANS

NAME = "release-test"


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty store, and the card and datasheet the document stage would have written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    for path in documents():
        path_ = Path(path)
        path_.parent.mkdir(parents=True, exist_ok=True)
        path_.write_text(f"the {path_.name} of the model\n")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def documents() -> tuple[PurePosixPath, ...]:
    return paths.documents(NAME, LOANS.name)


def project(params: Params, **gate: Any) -> Project:
    """The loan example's project under its own model name, with ``gate`` overridden."""
    changed = params.model_copy(
        update={
            "mlflow": params.mlflow.model_copy(update={"registered_model": NAME}),
            "gate": params.gate.model_copy(update={"fairness_attributes": ["sex"], **gate}),
        }
    )
    return Project(changed, LOANS)


EASY = {"min_roc_auc": 0.5, "min_uplift_over_logistic": -1.0, "max_ece": 1.0}
"""Thresholds any sensible logistic model passes: the tests below are about the release."""


def candidate(splits: dict[str, pd.DataFrame], params: Params, C: float) -> Candidate:
    """A logistic model fitted and evaluated for real, logged as train logs the candidate."""
    train = splits["train"]
    X = features(train, LOANS)
    model = build_logistic(params.train.logistic.model_copy(update={"C": C}), LOANS)
    model.fit(X, labels(train, LOANS))
    report = evaluate_model(model, splits["valid"], splits["test"], params, LOANS).report
    fp = f"fingerprint-C{C}"
    tracking.configure(project(params).experiment)
    with mlflow.start_run(run_name="candidate"):
        mlflow.set_tags({"model": "candidate", "fingerprint": fp, "git_commit": "abc"})
        info = mlflow.sklearn.log_model(
            model, name="model", **tracking.serialisation(model, X.head(3))
        )
        mlflow.set_tag("model_uri", info.model_uri)
    return Candidate(model, fp, report, report)


def test_the_first_release_registers_promotes_and_exports_the_card(
    store: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    first = candidate(splits, params, 1.0)
    record = release(project(params, **EASY), first, splits["test"], documents=documents())
    assert record["registered_now"] and record["promoted"] and record["passed"]
    assert (record["champion_before"], str(record["champion_after"])) == (None, "1")
    bundle = store / paths.CHAMPION
    assert verify_bundle(bundle)["fingerprint"] == first.fingerprint
    assert (
        bundle / paths.MODEL_CARDS / f"{NAME}.md"
    ).read_text() == f"the {NAME}.md of the model\n"
    logged = registry.client().list_artifacts(registry.version_by_alias(NAME, "champion").run_id)
    assert {a.path for a in logged} >= {paths.MODEL_CARDS, paths.DATASHEETS}


def test_the_same_model_is_never_registered_twice(
    store: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    first = candidate(splits, params, 1.0)
    release(project(params, **EASY), first, splits["test"], documents=documents())
    again = release(project(params, **EASY), first, splits["test"], documents=documents())
    assert again["registered_now"] is False and again["passed"] is None
    assert again["reason"].startswith("the candidate is the champion already")
    assert len(registry.versions(NAME)) == 1


def test_an_experiment_registers_but_never_moves_the_champion(
    store: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    release(project(params, **EASY), candidate(splits, params, 1.0), splits["test"])
    tried = candidate(splits, params, 0.3)
    record = release(project(params, **EASY), tried, splits["test"], experiment="smaller-c")
    assert record["registered_now"] and record["promoted"] is False
    assert record["reason"] == "experiment smaller-c: an experiment never moves the champion"
    assert str(record["champion_after"]) == "1"
    version = registry.version_with_fingerprint(NAME, tried.fingerprint)
    assert version is not None and version.tags["experiment"] == "smaller-c"
    challenger = registry.version_by_alias(NAME, registry.CHALLENGER)
    assert challenger is not None and str(challenger.version) == "1"


@pytest.mark.parametrize(
    ("gate", "promoted"),
    [
        ({"min_roc_auc": 0.99}, False),
        ({"mode": "dry_run"}, False),
        ({"mode": "off", "min_roc_auc": 0.99}, True),
    ],
    ids=["a failed gate keeps the champion", "dry_run judges only", "off promotes anyway"],
)
def test_the_champion_moves_only_as_the_gates_mode_says(
    store: Path,
    splits: dict[str, pd.DataFrame],
    params: Params,
    gate: dict[str, Any],
    promoted: bool,
) -> None:
    release(project(params, **EASY), candidate(splits, params, 1.0), splits["test"])
    challenger = candidate(splits, params, 0.3)
    record = release(project(params, **{**EASY, **gate}), challenger, splits["test"])
    assert record["comparison"]["version"] == "1"
    assert record["promoted"] is promoted
    assert str(record["champion_after"]) == ("2" if promoted else "1")
    tags = registry.client().get_model_version(NAME, "2").tags
    assert tags["gate_mode"] == record["mode"] and tags["gate_passed"] == str(record["passed"])
    assert str(read_provenance(store / paths.CHAMPION)["version"]) == str(record["champion_after"])


def test_export_champion_writes_an_empty_bundle_before_any_release(
    store: Path, params: Params
) -> None:
    assert export_champion(project(params), store / "bundle") is None
    assert read_provenance(store / "bundle")["version"] is None


def test_what_was_offered_depends_on_the_files_alone(
    store: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    first = candidate(splits, params, 1.0)
    assert offered(first, documents()) == offered(first, documents())
    Path(documents()[0]).write_text("a card edited by hand\n")
    before = offered(first, documents())["documents"][str(documents()[0])]
    Path(documents()[0]).write_text("edited again\n")
    assert offered(first, documents())["documents"][str(documents()[0])] != before


def test_a_candidate_the_store_never_saw_is_refused_with_what_to_do(
    store: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    known = candidate(splits, params, 1.0)
    unknown = Candidate(known.model, "0" * 64, known.report, known.baseline)
    with pytest.raises(StoreError, match=r"no run holds the candidate.*dvc repro -f train"):
        release(project(params, **EASY), unknown, splits["test"])
    assert registry.versions(NAME) == []


def test_a_read_only_store_refuses_the_release_in_one_line_and_changes_nothing(
    store: Path,
    splits: dict[str, pd.DataFrame],
    params: Params,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    release(project(params, **EASY), candidate(splits, params, 1.0), splits["test"])
    challenger = candidate(splits, params, 0.3)
    bundle = {p: p.read_bytes() for p in (store / paths.CHAMPION).rglob("*") if p.is_file()}
    capfd.readouterr()
    read_only = f"sqlite:///file:{store / 'mlflow.db'}?mode=ro&uri=true"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", read_only)
    with pytest.raises(StoreError) as raised:
        release(project(params, **EASY), challenger, splits["test"])
    assert str(raised.value).endswith("attempt to write a readonly database")
    assert "\n" not in str(raised.value) and "INSERT" not in str(raised.value)
    assert "Traceback" not in capfd.readouterr().err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    tracking.configure(project(params).experiment)
    assert [str(v.version) for v in registry.versions(NAME)] == ["1"]  # nothing half-made
    champion = registry.version_by_alias(NAME, registry.CHAMPION)
    assert champion is not None and str(champion.version) == "1"
    assert {p: p.read_bytes() for p in bundle} == bundle
