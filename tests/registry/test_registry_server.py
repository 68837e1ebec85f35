"""Registering against an MLflow tracking server (REST), not only a local SQLite store: the
team setup of compose.yaml. A server refuses a version whose source is a logged model's
``models:/m-...`` URI unless the model id comes with it, which a local store never checks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from loanrisk import tracking
from loanrisk.config import Params
from loanrisk.models.estimators import build_logistic
from loanrisk.models.train import features
from loanrisk.registry import registry
from tests.helpers import LOANS, free_port

NAME = "loan-default-risk-server-test"


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`mlflow server` on SQLite with proxied artifacts, as compose.yaml runs it on PostgreSQL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    process = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start on {url}")
            time.sleep(0.3)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        tracking.configure("registry-server-test")
        yield url
    finally:
        mlflow.set_tracking_uri(None)
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.slow  # a tracking server's first start migrates its store: about 30 s
def test_a_logged_model_registers_on_a_tracking_server(
    server: str, batch: pd.DataFrame, params: Params
) -> None:
    label = LOANS.label.column
    labelled = batch.assign(**{label: (batch["past_delinquencies"] > 0).astype(int)})
    X, y = features(labelled, LOANS), labelled[label].to_numpy()
    model = build_logistic(params.train.logistic, LOANS).fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", **tracking.serialisation(model, X.head(3))
        )
    assert str(info.model_uri).startswith("models:/m-")
    tags = {"policy": {"threshold": 0.2}, "git_commit": "abc", "run_id": run.info.run_id}
    version = registry.register_challenger(NAME, str(info.model_uri), tags)
    assert registry.version_by_alias(NAME, registry.CHALLENGER).version == version.version
    loaded = mlflow.sklearn.load_model(f"models:/{NAME}@{registry.CHALLENGER}")
    assert (loaded.predict_proba(X.head(3)) == model.predict_proba(X.head(3))).all()


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        ("models:/m-0123abcd", True),
        ("models:/loan-default-risk/3", False),
        ("models:/loan-default-risk@champion", False),
        ("runs:/abc/model", False),
    ],
)
def test_only_a_logged_models_uri_names_a_model_id(uri: str, logged: bool) -> None:
    assert registry._is_logged_model(uri) is logged
