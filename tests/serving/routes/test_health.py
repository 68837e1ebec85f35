"""Liveness and readiness (`serving/routes/health.py`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from loanrisk.stage import file_digest
from serving.app import create_app
from tests.helpers import TOKEN, Store, settings


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


def _rehashed(bundle: Path, name: str, content: bytes) -> None:
    """Replace one file of the bundle and record its new SHA-256, as a careless export (or
    an attacker who rewrites the provenance too) would: the checksum no longer protects."""
    (bundle / name).write_bytes(content)
    provenance = json.loads((bundle / "provenance.json").read_text())
    provenance["files_sha256"][name] = file_digest(bundle / name, "sha256")
    (bundle / "provenance.json").write_text(json.dumps(provenance))


MALFORMED = {
    "a truncated provenance": (
        lambda b: (b / "provenance.json").write_text((b / "provenance.json").read_text()[:40]),
        "JSONDecodeError",
    ),
    "a policy without its threshold": (lambda b: _rehashed(b, "policy.json", b"{}"), "KeyError"),
    "a model file that is not a zip": (
        lambda b: _rehashed(b, "model/model.skops", b"not a zip"),
        "cannot load the model",
    ),
}


@pytest.mark.parametrize("broken", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_bundle_is_not_ready_with_the_reason_and_a_reload_to_it_is_409(
    store: Store, tmp_path: Path, broken: str
) -> None:
    damage, reason = MALFORMED[broken]
    served = tmp_path / "served"
    shutil.copytree(store.champion, served)
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(served)))) as c:
        damage(served)  # the next export was malformed: a reload must refuse it
        response = c.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409 and reason in response.json()["reason"]
        assert c.get("/health/ready").status_code == 200
        failed = [
            line
            for line in c.get("/metrics").text.splitlines()
            if line.startswith('loanrisk_model_reloads_total{outcome="failed"}')
        ]
        assert failed and float(failed[0].split()[-1]) >= 1
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(served)))) as c:
        assert c.get("/health/live").status_code == 200
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and reason in ready.json()["reason"], ready.json()
