"""The service in process: every endpoint, every error path, the contract at the door."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.errors import BundleError
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_version, load_bundle, read_provenance
from loanrisk.scoring import features
from serving.app import create_app
from serving.capture import read_jsonl
from serving.settings import Settings, load_settings
from tests.conftest import LOANS, ROOT
from tests.serving.conftest import DECLARATION, NAME, Store

TOKEN = "s3cret-token"


def settings(store: Store, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": str(store.champion),
        "dataset": DECLARATION,
        "capture_dir": tmp_path / "captures",
        "admin_token": TOKEN,
    }
    return Settings(**{**values, **changes})


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(store, tmp_path))) as test_client:
        yield test_client


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


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"live": True}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_one_application_is_scored_as_the_pipeline_scores_it(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    test = splits["test"]
    response = client.post("/predict", json=application(test, 0))
    assert response.status_code == 200, response.text
    body = response.json()
    (prediction,) = body["predictions"]
    assert prediction["id"] == test["application_id"].iloc[0]
    assert abs(prediction["probability"] - reference(store, test.iloc[[0]])[0]) <= 1e-9
    assert prediction["decision"] in ("approve", "refer", "reject")
    assert body["model"] == {"name": NAME, "version": "1"}
    assert response.headers["x-request-id"] == body["request_id"]


def test_a_batch_is_scored_row_by_row_with_the_promoted_policy(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    test = splits["test"].head(50)
    batch = {"applications": [application(test, i) for i in range(len(test))]}
    body = client.post("/predict", json=batch).json()
    p = np.array([x["probability"] for x in body["predictions"]])
    np.testing.assert_allclose(p, reference(store, test), atol=1e-9, rtol=0)
    policy = json.loads((store.champion / "policy.json").read_text())
    for x in body["predictions"]:
        expected = (
            "approve"
            if x["probability"] < policy["refer_from"]
            else "reject"
            if x["probability"] >= policy["reject_from"]
            else "refer"
        )
        assert x["decision"] == expected


def test_the_protected_attributes_are_optional_and_never_change_the_score(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    full = application(splits["test"], 3)
    bare = {k: v for k, v in full.items() if k not in LOANS.protected}
    flipped = {**full, "sex": "male" if full["sex"] == "female" else "female", "age": 70}
    scores = [
        client.post("/predict", json=body).json()["predictions"][0]["probability"]
        for body in (full, bare, flipped)
    ]
    assert scores[0] == scores[1] == scores[2]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"income": -5.0}, "income", "greater than or equal to 1000"),
        ({"income": "95000"}, "income", "valid number"),
        ({"loan_purpose": "yacht"}, "loan_purpose", "Input should be"),
        ({"has_guarantor": "yes"}, "has_guarantor", "valid boolean"),
        ({"loan_term_months": 30}, "loan_term_months", "Input should be"),
        ({"age": 12}, "age", "greater than or equal to 18"),
        ({"favourite_colour": "blue"}, "favourite_colour", "unknown field"),
        ({"defaulted": 1}, "defaulted", "unknown field"),
    ],
)
def test_a_bad_field_is_a_422_naming_it_without_echoing_the_value(
    client: TestClient,
    splits: dict[str, pd.DataFrame],
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    response = client.post("/predict", json=application(splits["test"], 1, **change))
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(p["field"] == field and reason in p["reason"] for p in problems), problems
    value = str(next(iter(change.values())))
    assert value not in json.dumps(problems) or value in ("1",)


def test_a_missing_field_and_a_wrong_shape_are_422s(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    body = application(splits["test"], 1)
    del body["income"]
    missing = client.post("/predict", json=body)
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "income"
    assert client.post("/predict", json=[1, 2]).status_code == 422
    assert client.post("/predict", json={"applications": []}).status_code == 422


def test_broken_json_a_large_body_and_a_large_batch_are_refused(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    small = settings(store, tmp_path, max_batch=5, max_body_bytes=4096)
    with TestClient(create_app(small)) as client:
        headers = {"content-type": "application/json"}
        bad = client.post("/predict", content=b"{not json", headers=headers)
        assert bad.status_code == 400
        rows = [application(splits["test"], i) for i in range(10)]
        assert len(json.dumps({"applications": rows})) > 4096
        assert client.post("/predict", json={"applications": rows}).status_code == 413
        six = {"applications": [{"application_id": str(i)} for i in range(6)]}
        response = client.post("/predict", json=six)
        assert response.status_code == 422
        assert any("at most 5" in p["reason"] for p in response.json()["detail"])


class Slow:
    """A model that takes half a second to answer."""

    def __init__(self, model: object) -> None:
        self.model = model

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(0.5)
        p: np.ndarray = self.model.predict_proba(X)  # type: ignore[attr-defined]
        return p


def test_a_slow_prediction_is_a_504_and_the_service_keeps_answering(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    with TestClient(create_app(settings(store, tmp_path, timeout_s=0.1))) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        fast = service.champion
        service.champion = dataclasses.replace(fast, estimator=Slow(fast.estimator), fast=None)
        response = client.post("/predict", json=application(splits["test"], 0))
        assert response.status_code == 504 and "timed out" in response.json()["error"]
        service.champion = fast
        assert client.post("/predict", json=application(splits["test"], 0)).status_code == 200


def test_feedback_is_recorded_for_monitoring(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/feedback", json={"id": "A202411-000001", "outcome": 1})
    assert response.status_code == 202
    (path,) = (tmp_path / "captures" / "feedback").glob("*.jsonl")
    (record,) = read_jsonl(path)
    assert record["id"] == "A202411-000001" and record["outcome"] == 1
    assert client.post("/feedback", json={"id": "x", "outcome": 2}).status_code == 422


def test_predictions_are_captured_off_the_request_path(
    client: TestClient, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    client.post("/predict", json=application(splits["test"], 4))
    client.app.state.service.capture.flush()  # type: ignore[attr-defined]
    (path,) = (tmp_path / "captures" / "predictions").glob("*.jsonl")
    (record,) = read_jsonl(path)
    assert {"request_id", "score", "decision", "model_version", "income", "sex"} <= set(record)


def test_the_model_endpoint_shows_the_bundles_provenance(client: TestClient) -> None:
    body = client.get("/model").json()
    assert body["name"] == NAME and body["version"] == "1"
    assert body["git_commit"] == "test"
    assert set(body["policy"]) == {"threshold", "refer_from", "reject_from"}
    assert body["inference_path"]
    card = client.get("/model/card")
    assert card.status_code == 404 and "model card" in card.json()["error"]


def test_the_card_is_served_only_if_it_describes_the_champion(store: Store, tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / f"{NAME}.md").write_text("# Card\n\n- **Fingerprint**: `candidate` (SHA-256)\n")
    (cards / f"{NAME}.html").write_text("<h1>Card</h1>")
    with TestClient(create_app(settings(store, tmp_path, cards_dir=cards))) as client:
        assert client.get("/model").json()["fingerprint"] == "candidate"
        html = client.get("/model/card")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        markdown = client.get("/model/card", params={"format": "md"})
        assert markdown.text.startswith("# Card")
        (cards / f"{NAME}.md").write_text("- **Fingerprint**: `logistic`\n")
        other = client.get("/model/card")
        assert other.status_code == 404 and "not the champion" in other.json()["detail"]


def test_the_card_travels_in_the_bundle_and_from_the_registry(store: Store, tmp_path: Path) -> None:
    """The document stage logs the card to the champion's run; every bundle exported from
    then on carries it (covered by the bundle's SHA-256 list), and so does the registry."""
    version = registry.client().get_model_version(NAME, "1")
    cards = tmp_path / "model_cards"
    cards.mkdir()
    (cards / f"{NAME}.md").write_text("# Card of v1\n")
    (cards / f"{NAME}.html").write_text("<h1>Card of v1</h1>")
    for path in cards.iterdir():
        registry.client().log_artifact(version.run_id, str(path), artifact_path="model_cards")
    bundle = tmp_path / "bundle"
    export_version(bundle, NAME, version, contract_json_schema(build_contract(LOANS)))
    assert f"model_cards/{NAME}.md" in read_provenance(bundle)["files_sha256"]
    nowhere = tmp_path / "no-cards-here"
    for uri in (str(bundle), f"models:/{NAME}@champion"):
        with TestClient(
            create_app(settings(store, tmp_path, model_uri=uri, cards_dir=nowhere))
        ) as c:
            assert c.get("/model/card", params={"format": "md"}).text == "# Card of v1\n"
            assert c.get("/model/card").text == "<h1>Card of v1</h1>"
    (bundle / "model_cards" / f"{NAME}.md").write_text("# Edited by hand\n")
    with pytest.raises(BundleError, match="model_cards"):
        load_bundle(bundle)


def test_metrics_are_prometheus_text_with_bounded_labels(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    client.post("/predict", json=application(splits["test"], 5))
    client.post("/predict", json=application(splits["test"], 5, income=-1.0))
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["loanrisk_http_requests"]
    routes = {s.labels["route"] for s in requests.samples}
    assert "/predict" in routes and all(r.startswith("/") or r == "(unmatched)" for r in routes)
    assert "loanrisk_http_request_duration_seconds" in families
    decisions = {s.labels["decision"] for s in families["loanrisk_predictions"].samples}
    assert decisions <= {"approve", "refer", "reject"}
    fields = {s.labels["field"] for s in families["loanrisk_validation_failures"].samples}
    assert "income" in fields
    info = families["loanrisk_model_info"].samples
    assert any(s.labels["role"] == "champion" and s.value == 1 for s in info)


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


def test_a_broken_model_at_start_up_keeps_the_process_live_but_not_ready(
    store: Store, tmp_path: Path
) -> None:
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(tmp_path / "none")))) as c:
        assert c.get("/health/live").status_code == 200
        ready = c.get("/health/ready")
        assert ready.status_code == 503 and "provenance" in ready.json()["reason"]
        assert c.post("/predict", json={"application_id": "x"}).status_code in (422, 503)
        assert c.get("/model").status_code == 503


def test_the_registry_uri_serves_the_same_model(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    with TestClient(
        create_app(settings(store, tmp_path, model_uri=f"models:/{NAME}@champion"))
    ) as c:
        body = c.post("/predict", json=application(splits["test"], 2)).json()
        assert (
            abs(
                body["predictions"][0]["probability"]
                - reference(store, splits["test"].iloc[[2]])[0]
            )
            <= 1e-9
        )


def test_canary_traffic_is_a_sticky_fraction(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    canary = settings(
        store, tmp_path, challenger_uri=str(store.challenger), traffic="canary", canary_fraction=0.3
    )
    with TestClient(create_app(canary)) as client:
        rows = [
            application(splits["test"], i % 100, application_id=f"X{i:05d}") for i in range(2000)
        ]
        body = client.post("/predict", json={"applications": rows[:1000]}).json()
        body2 = client.post("/predict", json={"applications": rows[1000:]}).json()
        versions = [p["model_version"] for p in body["predictions"] + body2["predictions"]]
        share = versions.count("2") / len(versions)
        assert 0.26 <= share <= 0.34
        again = client.post("/predict", json={"applications": rows[:1000]}).json()
        assert [p["model_version"] for p in again["predictions"]] == versions[:1000]


def test_shadow_traffic_never_changes_a_response(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    rows = {"applications": [application(splits["test"], i) for i in range(20)]}
    with TestClient(create_app(settings(store, tmp_path))) as plain:
        alone = plain.post("/predict", json=rows).json()["predictions"]
    shadow = settings(store, tmp_path, challenger_uri=str(store.challenger), traffic="shadow")
    with TestClient(create_app(shadow)) as client:
        shadowed = client.post("/predict", json=rows).json()["predictions"]
        client.app.state.service.executor.shutdown(wait=True)  # type: ignore[attr-defined]
        text = client.get("/metrics").text
    assert shadowed == alone
    assert 'role="shadow"' in text


def test_request_logs_carry_no_applicant_field(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    stream = io.BytesIO()
    service.request_log.flush()
    service.request_log.stream = stream
    client.post("/predict", json=application(splits["test"], 6))
    service.request_log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and set(lines[-1]) == {
        "request_id",
        "method",
        "route",
        "status",
        "latency_ms",
        "model_version",
    }
    assert lines[-1]["route"] == "/predict" and lines[-1]["status"] == 200


def test_bad_settings_are_one_line_naming_the_variable() -> None:
    from loanrisk.errors import ConfigError

    with pytest.raises(ConfigError, match="LOANRISK_CANARY_FRACTION"):
        load_settings({"LOANRISK_CANARY_FRACTION": "lots"})
    assert load_settings({"MODEL_URI": "models:/x@champion"}).model_uri == "models:/x@champion"


def test_the_readmes_example_application_is_answered(client: TestClient) -> None:
    example = json.loads((ROOT / "serving" / "examples" / "application.json").read_text())
    response = client.post("/predict", json=example)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["id"] == example["application_id"]


def test_a_cross_column_rule_is_checked_at_the_door(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    body = application(splits["test"], 1, income=1000.0, loan_amount=900_000.0)
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert "loan_at_most_five_incomes" in problem["reason"] and "900000" not in problem["reason"]


class Broken:
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("a bug in a model")


def test_a_bug_is_a_plain_500_with_the_request_id_and_is_counted(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    app = create_app(settings(store, tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        service = app.state.service
        service.champion = dataclasses.replace(service.champion, estimator=Broken(), fast=None)
        response = client.post("/predict", json=application(splits["test"], 0))
        assert response.status_code == 500 and response.json() == {"error": "internal error"}
        assert response.headers["x-request-id"]
        text = client.get("/metrics").text
    assert 'loanrisk_http_requests_total{route="/predict",status="500"}' in text


def test_a_chunked_feedback_body_over_the_limit_is_a_413(store: Store, tmp_path: Path) -> None:
    small = settings(store, tmp_path, max_body_bytes=2048)
    with TestClient(create_app(small)) as client:
        chunks = (b'{"id": "' + b"x" * 1024 for _ in range(4))
        response = client.post("/feedback", content=chunks)
        assert response.status_code == 413


def registry_state() -> list[tuple[str, dict[str, str], list[str]]]:
    """Every version of the test model with its tags and aliases: what a write would change."""
    client = registry.client()
    found = client.search_model_versions(f"name='{NAME}'")
    return sorted((str(v.version), dict(v.tags), sorted(v.aliases)) for v in found)


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
