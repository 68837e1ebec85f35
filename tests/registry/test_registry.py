"""Registry, bundle and rollback against a real MLflow store (SQLite in a temporary folder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from loanrisk import tracking
from loanrisk.config import Params
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.errors import BundleError, RegistryError
from loanrisk.models.estimators import build_logistic
from loanrisk.models.train import features
from loanrisk.registry import registry
from loanrisk.registry.bundle import (
    POLICY,
    export_bundle,
    load_bundle,
    provenance_for,
    verify_bundle,
)
from tests.helpers import LOANS

NAME = "loan-default-risk-test"
POLICY_VALUES = {"threshold": 0.2, "refer_from": 0.15, "reject_from": 0.25}


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure("registry-test")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def log_model(batch: pd.DataFrame, params: Params, C: float) -> str:
    label = LOANS.label.column
    labelled = batch.assign(**{label: (batch["past_delinquencies"] > 0).astype(int)})
    X, y = features(labelled, LOANS), labelled[label].to_numpy()
    config = params.train.logistic.model_copy(update={"C": C})
    model = build_logistic(config, LOANS).fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model, name="model", **tracking.serialisation(model, X.head(3))
        )
    return str(info.model_uri)


def register(uri: str, fingerprint: str = "") -> str:
    tags = {"policy": POLICY_VALUES, "git_commit": "abc", registry.FINGERPRINT: fingerprint or uri}
    version = registry.register_challenger(NAME, uri, tags)
    return str(version.version)


def test_promotion_and_rollback_walk_the_champion_chain(
    store: Path, batch: pd.DataFrame, params: Params
) -> None:
    v1 = register(log_model(batch, params, 1.0), "fp-1")
    assert str(registry.version_by_alias(NAME, registry.CHALLENGER).version) == v1
    assert registry.version_by_alias(NAME, registry.CHAMPION) is None
    registry.promote(NAME, v1, None, "first")
    v2 = register(log_model(batch, params, 0.5), "fp-2")
    registry.promote(NAME, v2, v1, "better")
    assert str(registry.version_by_alias(NAME, registry.CHAMPION).version) == v2

    moved = registry.rollback(NAME, by="alice", reason="approvals fell")
    assert (moved.from_version, moved.to_version) == (v2, v1)
    assert str(registry.version_by_alias(NAME, registry.CHAMPION).version) == v1
    rolled = registry.client().get_model_version(NAME, v2)
    assert rolled.tags["rolled_back_by"] == "alice"
    assert rolled.tags["rollback_reason"] == "approvals fell"
    assert rolled.tags["rolled_back_at"]
    assert registry.client().get_model_version(NAME, v1).tags["restored_by"] == "alice"

    assert registry.rolled_back_fingerprints(NAME) == {"fp-2"}
    assert str(registry.version_with_fingerprint(NAME, "fp-1").version) == v1
    assert registry.version_with_fingerprint(NAME, "fp-3") is None
    # The same model with another decision policy (new costs) is another release.
    assert str(registry.version_with_fingerprint(NAME, "fp-1", POLICY_VALUES).version) == v1
    cheaper = {**POLICY_VALUES, "threshold": 0.25}
    assert registry.version_with_fingerprint(NAME, "fp-1", cheaper) is None

    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback(NAME, by="alice", reason="again")


def test_a_version_names_the_logged_model_it_comes_from(
    store: Path, batch: pd.DataFrame, params: Params
) -> None:
    # A tracking server refuses a `models:/<model id>` source whose model is not named
    # (tests/e2e/test_team_store.py registers through one).
    uri = log_model(batch, params, 1.0)
    assert registry.logged_model_id(uri) == uri.removeprefix("models:/")
    assert registry.logged_model_id(uri).startswith("m-")
    version = registry.register_challenger(NAME, uri, {"policy": POLICY_VALUES})
    assert version.source == uri
    assert registry.logged_model_id(f"models:/{NAME}/1") is None
    assert registry.logged_model_id(f"models:/{NAME}@champion") is None
    assert registry.logged_model_id("runs:/abc/model") is None


def test_rollback_without_a_champion_is_a_clear_error(store: Path) -> None:
    with pytest.raises(RegistryError, match="no champion"):
        registry.rollback("never-registered", by="bob", reason="test")


def test_the_bundle_serves_without_a_tracking_server_and_refuses_tampering(
    store: Path, batch: pd.DataFrame, params: Params
) -> None:
    v1 = register(log_model(batch, params, 1.0))
    registry.promote(NAME, v1, None, "first")
    version = registry.client().get_model_version(NAME, v1)
    contract = contract_json_schema(build_contract(LOANS))
    export_bundle(
        "bundle", f"models:/{NAME}/{v1}", POLICY_VALUES, provenance_for(NAME, version), contract
    )

    mlflow.set_tracking_uri("sqlite:////nonexistent/store.db")  # no store needed from here on
    bundle = load_bundle("bundle")
    p = bundle.model.predict_proba(features(batch.head(5), LOANS))[:, 1]
    assert np.all((p > 0) & (p < 1))
    assert bundle.policy == POLICY_VALUES
    assert str(bundle.provenance["version"]) == v1 and bundle.provenance["git_commit"] == "abc"
    assert json.loads((store / "bundle" / "contract.schema.json").read_text()) == contract

    (store / "bundle" / POLICY).write_text(json.dumps({**POLICY_VALUES, "threshold": 0.9}))
    with pytest.raises(BundleError, match="SHA-256 mismatch"):
        load_bundle("bundle")


def test_a_bundle_without_a_champion_is_refused(store: Path) -> None:
    export_bundle("bundle", None, None, {"version": None, "reason": "no champion yet"}, {})
    with pytest.raises(BundleError, match="no champion"):
        verify_bundle("bundle")
    with pytest.raises(BundleError, match="provenance"):
        verify_bundle("elsewhere")
