"""Liveness and readiness (`serving/routes/health.py`)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from tests.helpers import Store, settings


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"live": True}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_a_broken_model_at_start_up_keeps_the_process_live_but_not_ready(
    store: Store, tmp_path: Path
) -> None:
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(tmp_path / "none")))) as c:
        assert c.get("/health/live").status_code == 200
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "provenance" in ready.json()["reason"]
        assert c.post("/predict", json={"application_id": "x"}).status_code in (422, 503)
        assert c.get("/model").status_code == 503
