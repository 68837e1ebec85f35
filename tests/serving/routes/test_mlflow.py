"""MLflow's `/invocations` (`serving/routes/mlflow.py`), in MLflow's own shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from loanrisk.scoring import features
from tests.helpers import LOANS, Store, plain, reference


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
    want = reference(store, splits["test"].head(5))
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
