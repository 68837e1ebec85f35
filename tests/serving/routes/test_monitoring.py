"""`GET /metrics` (`serving/routes/monitoring.py`); drift and quality are in
tests/serving/test_monitor.py."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import application


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
