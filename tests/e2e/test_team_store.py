"""A team's store: the pipeline and the service against an MLflow server on PostgreSQL.

What the README's "For a team" promises, run for real: a database of its own on the
machine's PostgreSQL, `mlflow server` on it with proxied artifacts (the clients never see
the artifact directory, they upload and download through the server), `dvc repro` of a copy
of the project at the small size with ``MLFLOW_TRACKING_URI`` pointing at the server, then
the service started on ``models:/loan-default-risk@champion``, which it resolves through
that server. Skips, saying why, when no PostgreSQL answers (``LOANRISK_TEST_POSTGRES``
names another one).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import psycopg
import pytest

from tests.helpers import (
    NAME,
    application,
    dvc,
    free_port,
    postgres_absent,
    postgres_database,
    read,
    repro,
    small_project,
    tracking_server,
    uvicorn,
)

pytestmark = pytest.mark.slow

CHAMPION_URI = f"models:/{NAME}@champion"


@dataclass(frozen=True)
class Team:
    project: Path
    database: str
    url: str
    artifacts: Path

    @property
    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.url}

    def client(self) -> mlflow.MlflowClient:
        return mlflow.MlflowClient(tracking_uri=self.url)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A tracking server on a fresh PostgreSQL database, after one `dvc repro` into it."""
    absent = postgres_absent()
    if absent is not None:
        pytest.skip(absent)
    root = tmp_path_factory.mktemp("team")
    project = root / "project"
    project.mkdir()
    small_project(project, run=False)
    artifacts = root / "artifacts"
    with (
        postgres_database() as database,
        tracking_server(database, artifacts, root / "mlflow-server.log") as server,
    ):
        found = Team(project, database, server.url, artifacts)
        repro(project, env=found.env)
        yield found


def test_the_pipeline_tracks_and_registers_in_postgresql(team: Team) -> None:
    champion = team.client().get_model_version_by_alias(NAME, "champion")
    gate = read(team.project, "reports/gate.json")
    assert gate["promoted"] and str(gate["champion_after"]) == str(champion.version)
    provenance = read(team.project, "models/champion/provenance.json")
    assert str(provenance["version"]) == str(champion.version)
    # The runs, the version and its alias are rows of the team's database...
    with psycopg.connect(team.database) as db:
        models = {row[0] for row in db.execute("SELECT tags.value FROM tags WHERE key = 'model'")}
        aliases = dict(
            db.execute(
                "SELECT alias, version FROM registered_model_aliases WHERE name = %s", (NAME,)
            ).fetchall()
        )
    assert models == {"rule", "logistic", "candidate"}
    assert aliases["champion"] == int(champion.version)
    # ...the model files went through the server into its artifact directory...
    experiment = team.client().get_experiment_by_name("loan-default")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    assert len(list(team.artifacts.rglob("MLmodel"))) >= 3
    # ...and nothing was written to a store of the project's own.
    assert not (team.project / "mlflow.db").exists()
    assert not (team.project / "mlartifacts").exists()


def test_the_service_serves_the_champion_through_the_server(team: Team, tmp_path: Path) -> None:
    champion = team.client().get_model_version_by_alias(NAME, "champion")
    test = pd.read_parquet(team.project / "data/splits/test.parquet")
    with uvicorn(None, tmp_path, model=CHAMPION_URI, extra_env=team.env) as server:
        shown = httpx.get(f"{server.url}/model", timeout=10).json()
        answer = httpx.post(f"{server.url}/predict", json=application(test, 0), timeout=10)
    assert shown["version"] == str(champion.version) and shown["uri"] == CHAMPION_URI
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"name": NAME, "version": str(champion.version)}
    (prediction,) = body["predictions"]
    assert prediction["model_version"] == str(champion.version)
    assert 0 < prediction["probability"] < 1
    assert prediction["decision"] in {"approve", "refer", "reject"}


def test_an_alias_the_registry_lacks_leaves_the_service_not_ready(
    team: Team, tmp_path: Path
) -> None:
    missing = f"models:/{NAME}@no-such-alias"
    with uvicorn(None, tmp_path, model=missing, extra_env=team.env, ready=False) as server:
        answer = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert answer.status_code == 503
    assert "no 'no-such-alias'" in answer.json()["reason"]


def test_an_unreachable_server_stops_the_pipeline_with_one_line(team: Team, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(team.project, copy, symlinks=True)
    nobody = f"http://127.0.0.1:{free_port()}"
    env = {"MLFLOW_TRACKING_URI": nobody}  # MLflow's retries as the project sets them
    started = time.monotonic()
    result = dvc(copy, "repro", "--force", "--single-item", "train", env=env)
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert took < 90, f"{took:.0f} s of silence before the error"
    assert f"error: MLflow store {nobody}" in output
    assert "Traceback" not in output
