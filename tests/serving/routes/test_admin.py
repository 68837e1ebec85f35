"""`POST /admin/reload` behind the token (`serving/routes/admin.py`); the service never
writes to the registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from loanrisk.registry import registry
from serving.app import create_app
from tests.helpers import NAME, TOKEN, Store, application, registry_state, settings


def test_admin_endpoints_need_the_token(client: TestClient, store: Store, tmp_path: Path) -> None:
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["reloaded"] is True
    with TestClient(create_app(settings(store, tmp_path, admin_token=None))) as closed:
        assert closed.post("/admin/reload").status_code == 403


def test_a_reload_that_fails_keeps_the_old_model_serving(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(store.champion, bundle)
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(bundle)))) as client:
        (bundle / "policy.json").write_text('{"threshold": 0.9}')  # tampered: SHA-256 differs
        response = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409 and "SHA-256" in response.json()["reason"]
        assert client.post("/predict", json=application(splits["test"], 0)).status_code == 200


def test_the_service_follows_the_registry_and_never_writes_to_it(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """Rolling back is the CLI's: it moves the alias, the service follows on reload. The
    serving process changes nothing in the registry, so it needs no write credentials."""
    client = registry.client()
    client.set_registered_model_alias(NAME, "followed", "1")
    try:
        served = settings(store, tmp_path, model_uri=f"models:/{NAME}@followed")
        with TestClient(create_app(served)) as service:
            before = registry_state()
            auth = {"authorization": f"Bearer {TOKEN}"}
            assert service.post("/admin/rollback", headers=auth).status_code == 404
            body = application(splits["test"], 0)
            assert service.post("/predict", json=body).json()["model"]["version"] == "1"
            assert registry_state() == before
            client.set_registered_model_alias(NAME, "followed", "2")  # what the CLI does
            moved = service.post("/admin/reload", headers=auth).json()
            assert moved["from_version"] == "1" and moved["serving_version"] == "2"
            assert service.post("/predict", json=body).json()["model"]["version"] == "2"
        client.set_registered_model_alias(NAME, "followed", "1")
        assert registry_state() == before
    finally:
        client.delete_registered_model_alias(NAME, "followed")


def test_a_client_that_keeps_guessing_the_token_waits(store: Store, tmp_path: Path) -> None:
    """Ten refused tokens in a minute, then every token from that client is a 429 (the right
    one too, or a guesser would learn when it is right) until the window ends; another
    client is not held up."""
    with TestClient(create_app(settings(store, tmp_path))) as client:
        clock = [1000.0]
        client.app.state.throttle.clock = lambda: clock[0]  # type: ignore[attr-defined]
        guess = {"authorization": "Bearer not-the-token-at-all"}
        right = {"authorization": f"Bearer {TOKEN}"}
        statuses = [client.post("/admin/reload", headers=guess).status_code for _ in range(10)]
        assert statuses == [401] * 10
        held = client.post("/admin/reload", headers=right)
        assert held.status_code == 429 and held.json()["detail"] == "retry in 60 s"
        assert "Retry-After" in held.headers and TOKEN not in held.text
        other = client.post("/admin/reload", headers={**right, "x-client-id": "another"})
        assert other.status_code == 200
        clock[0] += 61
        assert client.post("/admin/reload", headers=right).status_code == 200
        metrics = client.get("/metrics").text
    assert 'loanrisk_refused_tokens_total{route="/admin/reload"}' in metrics
