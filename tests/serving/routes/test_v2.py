"""The Open Inference Protocol v2 (`serving/routes/v2.py`), in the protocol's own shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.helpers import LOANS, NAME, Store, plain, reference


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
            outputs["probability"]["data"], reference(store, frame), atol=1e-9, rtol=0
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
        # The document says strings (the protocol's); an id is echoed, a name is a column.
        (lambda r: r.update(id=42), 400, "id"),
        (lambda r: r["inputs"][0].update(name=7), 400, "name"),
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


def test_an_empty_v2_batch_is_refused(client: TestClient, splits: dict[str, pd.DataFrame]) -> None:
    request = {"inputs": tensors(splits["test"].head(0))}
    response = client.post(f"/v2/models/{NAME}/infer", json=request)
    assert response.status_code == 400 and "error" in response.json()
