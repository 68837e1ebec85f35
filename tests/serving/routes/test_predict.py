"""`POST /predict` and `POST /feedback` (`serving/routes/predict.py`): the contract at the
door, every error path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.capture import read_jsonl
from tests.helpers import LOANS, NAME, ROOT, Broken, Slow, Store, application, reference, settings


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
        headers = {"content-type": "application/json"}
        response = client.post("/feedback", content=chunks, headers=headers)
        assert response.status_code == 413


def test_feedback_is_json_only_so_a_cross_site_form_cannot_post_outcomes(
    client: TestClient, tmp_path: Path
) -> None:
    body = '{"id": "A202411-000001", "outcome": 0}'
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": kind} if kind else {}
        response = client.post("/feedback", content=body, headers=headers)
        assert response.status_code == 415, kind
        assert "application/json" in response.json()["error"]
    files = list((tmp_path / "captures" / "feedback").glob("*.jsonl"))
    recorded = [r for f in files for r in read_jsonl(f) if r["outcome"] == 0]
    assert recorded == []


def test_with_a_feedback_token_only_its_holder_may_post_outcomes(
    store: Store, tmp_path: Path
) -> None:
    outcome = {"id": "A202411-000001", "outcome": 1}
    with TestClient(
        create_app(settings(store, tmp_path, feedback_token="f33dback-0123456789"))
    ) as c:
        assert c.post("/feedback", json=outcome).status_code == 401
        wrong = {"authorization": "Bearer f33dback-012345678"}
        assert c.post("/feedback", json=outcome, headers=wrong).status_code == 401
        right = {"authorization": "Bearer f33dback-0123456789"}
        assert c.post("/feedback", json=outcome, headers=right).status_code == 202
