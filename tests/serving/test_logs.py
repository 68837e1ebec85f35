"""The request log (`serving/logs.py`): one JSON line per request, never an applicant's field."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pandas as pd
from fastapi.testclient import TestClient

from tests.helpers import Store, application, uvicorn, v2_body

JSON_TYPE = {"content-type": "application/json"}


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


def test_no_applicant_value_reaches_the_logs_or_an_error_body(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """Unique marker values through every scoring route and error path of a real server,
    then everything it wrote to stdout and stderr is scanned for them."""
    markers = {"income": 71234.56789, "loan_amount": 8765.4321, "employment_years": 1.3791357}
    base = {**application(splits["test"], 2), **markers, "application_id": "A202301-424242"}
    found = [str(v) for v in markers.values()] + [base["application_id"], "Qz9marker"]
    bad_value = {**base, "income": -71234.56789}
    unknown = {**base, "housing": "Qz9marker"}
    answers = []
    environ = {"LOANRISK_LOG_REQUESTS": "true", "LOANRISK_LOG_LEVEL": "DEBUG"}
    with (
        uvicorn(store, tmp_path, extra_env=environ) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        name = http.get("/model").json()["name"]
        for route, payload in [
            ("/predict", base),
            ("/predict", bad_value),
            ("/predict", unknown),
            ("/predict", {"applications": [base, unknown]}),
            ("/feedback", {"id": base["application_id"], "outcome": 7}),
            ("/feedback", {"id": base["application_id"], "outcome": 1}),
            ("/invocations", {"dataframe_records": [base]}),
            ("/invocations", {"dataframe_records": [unknown]}),
            (f"/v2/models/{name}/infer", v2_body([base])),
            (f"/v2/models/{name}/infer", v2_body([unknown])),
        ]:
            answers.append(http.post(route, json=payload))
        answers.append(
            http.post("/predict", content='{"housing": "Qz9marker", NaN}', headers=JSON_TYPE)
        )
        answers.append(http.get("/drift"))
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200 and 422 in statuses and 400 in statuses, (statuses, answers[0].text)
    errors = [a.text for a in answers if a.status_code >= 400]
    written = server.process.stdout.read().decode() if server.process.stdout else ""
    assert '"route": "/predict"' in written or '"route":"/predict"' in written
    for text in [*errors, written]:
        assert [m for m in found if m in text] == [], text[:500]
