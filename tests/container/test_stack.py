"""The team stack of compose.yaml, running: `make stack-test` builds its images on the local
Debian base (PostgreSQL and Prometheus from Debian's packages, MLflow with psycopg2, the
serving image) and runs these tests with LOANRISK_STACK=1 and the *_IMAGE variables set.

End to end: the pipeline, run in a temporary copy of the project with MLFLOW_TRACKING_URI at
the composed MLflow server, logs its training runs there and registers the champion; the API
(LOANRISK_MODEL_URI=models:/loan-default-risk@champion) loads it from that server; Prometheus
scrapes the API and evaluates the drift recording rules. Grafana is not started (no Debian
package, no registry here): tests/container/test_grafana.py checks its provisioning.

Without LOANRISK_STACK (a plain `make test`) every test here skips, saying so."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest

from tests.helpers import (
    LOANS,
    ROOT,
    clean_env,
    free_port,
    small_project,
)

COMPOSE = shutil.which("podman-compose") or str(ROOT / ".venv-container" / "bin" / "podman-compose")
pytestmark = pytest.mark.skipif(
    not os.environ.get("LOANRISK_STACK") or not Path(COMPOSE).exists(),
    reason="needs the stack's images and podman-compose: run `make stack-test`",
)
PROJECT = f"loanrisk-stack-test-{os.getpid()}"
NAME = "loan-default-risk"
TOKEN = "stack-test-token-0123456789"


@dataclass(frozen=True)
class Stack:
    mlflow: str
    api: str
    prometheus: str


def compose(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    result = subprocess.run(
        [COMPOSE, "-p", PROJECT, "-f", str(ROOT / "compose.yaml"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"podman-compose {' '.join(args)}: {result.stderr.strip()[-2000:]}")


def wait(url: str, until: float = 180, status: int | None = 200) -> httpx.Response:
    """The first answer of ``url`` with ``status`` (any status: None)."""
    deadline = time.monotonic() + until
    while True:
        try:
            answer = httpx.get(url, timeout=5)
            if status is None or answer.status_code == status:
                return answer
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no answer {status or ''} from {url} in {until:.0f} s")
        time.sleep(1)


def logs(service: str) -> str:
    name = f"{PROJECT}_{service}_1"
    result = subprocess.run(
        ["podman", "logs", "--tail", "15", name], capture_output=True, text=True
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    ports = {name: free_port() for name in ("MLFLOW_PORT", "API_PORT", "PROMETHEUS_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "LOANRISK_ADMIN_TOKEN": TOKEN}
    stack = Stack(*(f"http://127.0.0.1:{port}" for port in ports.values()))
    try:
        # MLflow first: the API's first load of models:/ otherwise waits out the client's
        # retries against a server that is not up yet.
        compose(env, "up", "-d", "--no-build", "postgres", "mlflow")
        wait(f"{stack.mlflow}/health")
        compose(env, "up", "-d", "--no-build", "api", "prometheus")
        wait(f"{stack.api}/health/live")
        yield stack
    finally:
        compose(env, "down", "-v", "-t", "3", timeout=120)


@pytest.fixture(scope="module")
def released(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline at the small size, train..release against the composed MLflow server."""
    project = small_project(tmp_path_factory.mktemp("project"), run=False)
    env = {**clean_env(), "MLFLOW_TRACKING_URI": stack.mlflow}
    dvc = Path(sys.executable).parent / "dvc"
    result = subprocess.run(
        [str(dvc), "repro"], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return project


def plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def applications(project: Path, start: int, n: int) -> dict[str, Any]:
    frame = pd.read_parquet(project / "data" / "splits" / "test.parquet").iloc[start : start + n]
    columns = ["application_id", *LOANS.features, *LOANS.protected]
    rows = [{c: plain(row[c]) for c in columns} for row in frame.to_dict("records")]
    return {"applications": rows}


def test_the_api_is_live_but_waits_for_a_champion(stack: Stack) -> None:
    answer = wait(f"{stack.api}/health/ready", status=None)
    assert answer.status_code == 503, answer.text
    assert "champion" in answer.json()["reason"], answer.text


def test_the_release_registers_the_champion_in_the_composed_server(
    stack: Stack, released: Path
) -> None:
    client = mlflow.MlflowClient(tracking_uri=stack.mlflow, registry_uri=stack.mlflow)
    champion = client.get_model_version_by_alias(NAME, "champion")
    run = client.get_run(champion.run_id)  # training logged its run to the same server
    assert run.info.status == "FINISHED"
    assert run.data.tags.get("mlflow.runName") == "candidate", run.data.tags
    experiment = client.get_experiment(run.info.experiment_id)
    names = {r.info.run_name for r in client.search_runs([experiment.experiment_id])}
    assert {"rule", "logistic", "candidate"} <= names, names
    # The artifacts went through the server (proxied), not to a path on this machine.
    assert champion.source.startswith("models:/") or "mlflow-artifacts:" in champion.source


def test_the_api_serves_the_champion_from_the_composed_server(stack: Stack, released: Path) -> None:
    champion = mlflow.MlflowClient(stack.mlflow, stack.mlflow).get_model_version_by_alias(
        NAME, "champion"
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = httpx.post(f"{stack.api}/admin/reload", headers=headers, timeout=120)
    assert answer.status_code == 200, answer.text + logs("api")
    ready = wait(f"{stack.api}/health/ready").json()
    assert ready["version"] == champion.version
    answer = httpx.post(f"{stack.api}/predict", json=applications(released, 0, 5), timeout=30)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert {p["model_version"] for p in predictions} == {champion.version}
    assert all(p["decision"] in ("approve", "refer", "reject") for p in predictions)


def query(stack: Stack, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_prometheus_scrapes_the_api_and_records_drift(stack: Stack, released: Path) -> None:
    wait(f"{stack.api}/health/ready")
    features = {*LOANS.features, "_score"}
    # The window needs two scrapes of the counters after traffic: send a batch per scrape
    # interval (15 s) until every feature has a PSI, for at most three minutes.
    deadline, start, psi = time.monotonic() + 180, 5, {}
    while time.monotonic() < deadline:
        answer = httpx.post(f"{stack.api}/predict", json=applications(released, start, 100))
        assert answer.status_code == 200, answer.text
        start += 100
        psi = {
            r["metric"]["feature"]: float(r["value"][1])
            for r in query(stack, "feature:loanrisk_drift_psi:window")
        }
        if features <= set(psi):
            break
        time.sleep(8)
    up = query(stack, 'up{job="loanrisk"}')
    assert [r["value"][1] for r in up] == ["1"], up
    assert features <= set(psi), f"no PSI for {sorted(features - set(psi))}" + logs("prometheus")
    assert all(math.isfinite(v) and v >= 0 for v in psi.values()), psi
    # Test-split applications come from the training world: the score has not drifted.
    assert psi["_score"] < 0.25, psi
    rules = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {g["name"] for g in rules} == {"loanrisk-drift", "loanrisk-service", "loanrisk-alerts"}
    assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
