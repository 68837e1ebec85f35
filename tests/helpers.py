"""What the tests build and share: the generator's declaration, small data specs, the
serving test store's shape, request bodies, a real uvicorn. Test modules import from here
and never from each other (fixtures live in the conftest.py files)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd

from loanrisk import tracking
from loanrisk.data import generator
from loanrisk.data.declaration import load_declaration
from loanrisk.data.generator import GeneratorSpec
from loanrisk.evaluation.policy import choose_policy
from loanrisk.monitoring.profile import build_profile
from loanrisk.registry import registry
from loanrisk.scoring import features, score
from serving.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


AS_OF = dt.date(2025, 1, 1)


LOANS = load_declaration(ROOT / generator.DECLARATION)
"""The declaration of the data the generator makes."""


def small_spec(scenario: str = "none", seed: int = 7, n: int = 4000) -> GeneratorSpec:
    """Twelve months of applications ending at AS_OF, the scenario applied throughout."""
    return GeneratorSpec(
        seed=seed,
        start=dt.date(2024, 1, 1),
        months=12,
        n_applications=n,
        as_of=AS_OF,
        scenario=scenario,
    )


NAME = "loan-default-risk"


DECLARATION = str(ROOT / "datasets" / "loans.yaml")


@dataclass(frozen=True)
class Store:
    root: Path
    uri: str
    champion: Path
    challenger: Path
    champion_model: object
    challenger_model: object


def register_model(model: object, splits: dict[str, pd.DataFrame], run_name: str) -> str:
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


TOKEN = "s3cret-token"


def settings(store: Store, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": str(store.champion),
        "dataset": DECLARATION,
        "capture_dir": tmp_path / "captures",
        "admin_token": TOKEN,
    }
    return Settings(**{**values, **changes})


def application(frame: pd.DataFrame, i: int, **changes: Any) -> dict[str, Any]:
    row = frame.iloc[i]
    body: dict[str, Any] = {"application_id": str(row["application_id"])}
    for name in [*LOANS.features, *LOANS.protected]:
        value = row[name]
        body[name] = value.item() if hasattr(value, "item") else value
    body.update(changes)
    return body


def reference(store: Store, frame: pd.DataFrame) -> np.ndarray:
    p: np.ndarray = store.champion_model.predict_proba(features(frame, LOANS))[:, 1]  # type: ignore[attr-defined]
    return p


class Slow:
    """A model that takes half a second to answer."""

    def __init__(self, model: object) -> None:
        self.model = model

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(0.5)
        p: np.ndarray = self.model.predict_proba(X)  # type: ignore[attr-defined]
        return p


class Broken:
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("a bug in a model")


def registry_state() -> list[tuple[str, dict[str, str], list[str]]]:
    """Every version of the test model with its tags and aliases: what a write would change."""
    client = registry.client()
    found = client.search_model_versions(f"name='{NAME}'")
    return sorted((str(v.version), dict(v.tags), sorted(v.aliases)) for v in found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def uvicorn(
    store: Store, tmp_path: Path, workers: int = 1, model: Path | None = None
) -> Iterator[Server]:
    """`uvicorn --factory serving.app:factory`, as `make serve` runs it, once ready.

    Several workers share one metrics view through ``PROMETHEUS_MULTIPROC_DIR``, as under
    `make serve`; ``model`` is the bundle served (the store's champion by default).
    """
    port = free_port()
    env = {
        **os.environ,
        "LOANRISK_MODEL_URI": str(model or store.champion),
        "LOANRISK_DATASET": DECLARATION,
        "LOANRISK_ADMIN_TOKEN": TOKEN,
        "LOANRISK_CAPTURE_DIR": str(tmp_path / "captures"),
        "LOANRISK_LOG_REQUESTS": "false",
    }
    if workers > 1 or model is not None:
        multiproc = tmp_path / "prometheus"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "--factory",
        "serving.app:factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            server.terminate()
            raise AssertionError(server.communicate(timeout=10)[0].decode()[-3000:])
        yield Server(url, server)
    finally:
        server.terminate()
        server.wait(timeout=20)


PROMETHEUS = ROOT / "serving" / "prometheus"


RULE_FILES = (PROMETHEUS / "rules.yml", PROMETHEUS / "alerts.yml")


DASHBOARD = ROOT / "serving" / "grafana" / "loanrisk.json"


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    nested = [inner for panel in panels for inner in panel.get("panels", [])]
    return [t["expr"] for panel in [*panels, *nested] for t in panel.get("targets", [])]


def plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ["application_id", *LOANS.features, *LOANS.protected]
    return [{c: plain(row[c]) for c in columns} for _, row in frame.iterrows()]


def v2_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(records[0])
    return {"inputs": [{"name": n, "data": [r[n] for r in records]} for n in names]}
