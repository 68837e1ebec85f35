"""The Open Inference Protocol v2 and MLflow's /invocations, in the protocols' own shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from loanrisk.scoring import features
from serving.app import create_app
from serving.settings import Settings
from tests.conftest import LOANS
from tests.serving.conftest import DECLARATION, NAME, Store


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    config = Settings(model_uri=str(store.champion), dataset=DECLARATION, capture_dir=tmp_path)
    with TestClient(create_app(config)) as test_client:
        yield test_client


def expected(store: Store, frame: pd.DataFrame) -> np.ndarray:
    p: np.ndarray = store.champion_model.predict_proba(features(frame, LOANS))[:, 1]  # type: ignore[attr-defined]
    return p


def plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def tensors(frame: pd.DataFrame) -> list[dict[str, Any]]:
    kinds = {"float": "FP64", "integer": "INT64", "boolean": "BOOL", "category": "BYTES"}
    return [
        {
            "name": name,
            "shape": [len(frame)],
            "datatype": kinds[column.type],
            "data": [plain(v) for v in frame[name]],
        }
        for name, column in LOANS.features.items()
    ]


def test_v2_server_and_model_metadata(client: TestClient) -> None:
    server = client.get("/v2").json()
    assert {"name", "version", "extensions"} <= set(server)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get(f"/v2/models/{NAME}").json()
    assert meta["name"] == NAME and meta["versions"] == ["1"]
    inputs = {t["name"]: t["datatype"] for t in meta["inputs"]}
    assert inputs["income"] == "FP64" and inputs["loan_purpose"] == "BYTES"
    assert inputs["has_guarantor"] == "BOOL" and inputs["loan_term_months"] == "INT64"
    assert [o["name"] for o in meta["outputs"]] == ["probability", "decision"]
    assert client.get(f"/v2/models/{NAME}/versions/1").status_code == 200
    assert client.get(f"/v2/models/{NAME}/ready").json() == {"name": NAME, "ready": True}
    assert client.get(f"/v2/models/{NAME}/versions/1/ready").status_code == 200


def test_v2_infer_answers_one_tensor_per_output_and_echoes_the_id(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    frame = splits["test"].head(7)
    request = {"id": "req-42", "parameters": {"content_type": "pd"}, "inputs": tensors(frame)}
    for path in (f"/v2/models/{NAME}/infer", f"/v2/models/{NAME}/versions/1/infer"):
        response = client.post(path, json=request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == "req-42" and body["model_name"] == NAME
        assert body["model_version"] == "1"
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["probability"]["datatype"] == "FP64"
        assert outputs["probability"]["shape"] == [7]
        np.testing.assert_allclose(
            outputs["probability"]["data"], expected(store, frame), atol=1e-9, rtol=0
        )
        assert set(outputs["decision"]["data"]) <= {"approve", "refer", "reject"}


def test_the_tensor_order_is_the_declarations() -> None:
    assert list(LOANS.features).index("loan_purpose") == 5
    assert next(iter(LOANS.features)) == "income"


@pytest.mark.parametrize(
    ("mutate", "status", "words"),
    [
        (lambda r: r.update(inputs="nope"), 400, "inputs"),
        (lambda r: r["inputs"][0].update(shape=[99]), 400, "shape"),
        (lambda r: r["inputs"][5].update(data=["yacht"] * 3), 400, "loan_purpose"),
        (lambda r: r["inputs"].pop(0), 400, "income"),
    ],
)
def test_v2_errors_are_the_protocols_error_object(
    client: TestClient,
    splits: dict[str, pd.DataFrame],
    mutate: Any,
    status: int,
    words: str,
) -> None:
    request = {"inputs": tensors(splits["test"].head(3))}
    mutate(request)
    response = client.post(f"/v2/models/{NAME}/infer", json=request)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and words in response.json()["error"]


def test_v2_unknown_model_is_a_404(client: TestClient) -> None:
    response = client.post("/v2/models/other/infer", json={"inputs": []})
    assert response.status_code == 404 and "error" in response.json()
    assert client.get(f"/v2/models/{NAME}/versions/9").status_code == 404


def test_invocations_accepts_mlflows_three_input_forms(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    frame = features(splits["test"].head(5), LOANS)
    records = [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    columns = list(frame.columns)
    payloads = [
        {
            "dataframe_split": {
                "columns": columns,
                "data": [[r[c] for c in columns] for r in records],
            }
        },
        {"dataframe_records": records},
        {"inputs": {c: [r[c] for r in records] for c in columns}},
    ]
    want = expected(store, splits["test"].head(5))
    for payload in payloads:
        response = client.post("/invocations", json=payload)
        assert response.status_code == 200, response.text
        predictions = np.array(response.json()["predictions"])
        assert predictions.shape == (5, 2)
        np.testing.assert_allclose(predictions[:, 1], want, atol=1e-9, rtol=0)
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0)


def test_invocations_errors_are_mlflows_bad_request(client: TestClient) -> None:
    for payload in ({"something": 1}, {"dataframe_split": {"columns": ["a"]}}, [1]):
        response = client.post("/invocations", json=payload)
        assert response.status_code == 400
        assert response.json()["error_code"] == "BAD_REQUEST"
    bad = client.post("/invocations", json={"dataframe_records": [{"income": 5}]})
    assert bad.status_code == 400 and "income" in bad.json()["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["income"], "data": 5}},
        {"dataframe_split": {"columns": ["income"], "data": [5]}},
        {"dataframe_split": {"columns": [[1]], "data": [[1]]}},
        {"inputs": {"income": 5, "housing": ["own"]}},
        {"dataframe_records": []},
    ],
)
def test_malformed_or_empty_mlflow_payloads_are_bad_requests(
    client: TestClient, payload: Any
) -> None:
    response = client.post("/invocations", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "BAD_REQUEST"


def test_an_empty_v2_batch_is_refused(client: TestClient, splits: dict[str, pd.DataFrame]) -> None:
    request = {"inputs": tensors(splits["test"].head(0))}
    response = client.post(f"/v2/models/{NAME}/infer", json=request)
    assert response.status_code == 400 and "error" in response.json()
