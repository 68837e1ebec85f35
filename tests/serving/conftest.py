"""A tiny MLflow store with a champion and a challenger, exported as serving bundles.

The models are the project's own (the candidate and the logistic baseline), fitted on the
generated splits with the loan declaration, logged, registered and exported exactly as the
promote stage does, so the service is tested on what it will really serve.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from loanrisk import tracking
from loanrisk.config import Params
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.evaluation.policy import choose_policy
from loanrisk.models.train import fit_model
from loanrisk.monitoring.profile import build_profile
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_bundle, provenance_for
from loanrisk.scoring import features, score
from tests.conftest import LOANS, ROOT

NAME = "loan-default-risk"


@dataclass(frozen=True)
class Store:
    root: Path
    uri: str
    champion: Path
    challenger: Path
    champion_model: object
    challenger_model: object


def _register(model: object, splits: dict[str, pd.DataFrame], run_name: str) -> str:
    example = features(splits["train"].head(5), LOANS)
    policy = choose_policy(score(model, splits["valid"], LOANS), 5.0, 1.0, 0.1).as_dict()
    profile = build_profile(splits["train"], LOANS, score(model, splits["train"], LOANS))
    with mlflow.start_run(run_name=run_name):
        info = mlflow.sklearn.log_model(
            model, name="model", **tracking.serialisation(model, example)
        )
        mlflow.log_text(profile.to_json(), "profile.json")
    version = registry.register_challenger(
        NAME, info.model_uri, {"policy": policy, "git_commit": "test", "fingerprint": run_name}
    )
    return str(version.version)


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
        v1 = _register(champion_model, splits, "candidate")
        registry.promote(NAME, v1, None, "test")
        v2 = _register(challenger_model, splits, "logistic")
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


DECLARATION = str(ROOT / "datasets" / "loans.yaml")
