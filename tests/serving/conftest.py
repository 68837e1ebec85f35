"""A tiny MLflow store with a champion and a challenger, exported as serving bundles.

The models are the project's own (the candidate and the logistic baseline), fitted on the
generated splits with the loan declaration, logged, registered and exported exactly as the
release stage does, so the service is tested on what it will really serve.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from loanrisk.config import Params
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.models.train import fit_model
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_bundle, provenance_for
from serving.app import create_app
from tests.helpers import LOANS, NAME, Store, register_model, settings


@pytest.fixture(scope="session")
def store(
    tmp_path_factory: pytest.TempPathFactory, params: Params, splits: dict[str, pd.DataFrame]
) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("serving-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        mlflow.set_tracking_uri(uri)
        experiment = mlflow.create_experiment(
            "serving-test", artifact_location=(root / "mlartifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)
        champion_model = fit_model("candidate", params, LOANS, splits).estimator
        challenger_model = fit_model("logistic", params, LOANS, splits).estimator
        v1 = register_model(champion_model, splits, "candidate")
        registry.promote(NAME, v1, None, "test")
        v2 = register_model(challenger_model, splits, "logistic")
        contract = contract_json_schema(build_contract(LOANS))
        for version, folder in ((v1, "champion"), (v2, "challenger")):
            found = registry.client().get_model_version(NAME, version)
            export_bundle(
                root / folder,
                f"models:/{NAME}/{version}",
                registry.tag_json(found, "policy"),
                provenance_for(NAME, found),
                contract,
                run_id=found.run_id,
            )
        yield Store(
            root, uri, root / "champion", root / "challenger", champion_model, challenger_model
        )
    finally:
        mlflow.set_tracking_uri(None)
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(store, tmp_path))) as test_client:
        yield test_client
