"""The request log (`serving/logs.py`): one JSON line per request, never an applicant's field."""

from __future__ import annotations

import io
import json

import pandas as pd
from fastapi.testclient import TestClient

from tests.helpers import application


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
