"""Hostile bodies, one by one, against `POST /predict`: each gets a 4xx that names the problem
without echoing what the applicant sent, and the process answers the next request."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.helpers import application

MARKER = "Zq7-marker"
"""A value no error may ever show: each case carries it in the application."""
JSON_TYPE = {"content-type": "application/json"}


def body(app: dict[str, Any]) -> str:
    return json.dumps({**app, "employment_type": MARKER + app["employment_type"]})


def swap(app: dict[str, Any], field: str, literal: str) -> str:
    """The application with ``field``'s value replaced by ``literal``, as raw JSON text."""
    text = json.dumps({**app, field: "__here__"})
    return text.replace('"__here__"', literal).replace('"region": "', f'"region": "{MARKER}')


Case = Callable[[dict[str, Any]], tuple[bytes | str, dict[str, str]]]
CASES: dict[str, tuple[Case, int, str]] = {
    "NaN literal": (lambda a: (swap(a, "income", "NaN"), JSON_TYPE), 400, "not JSON"),
    "Infinity literal": (lambda a: (swap(a, "income", "Infinity"), JSON_TYPE), 400, "not JSON"),
    "a number beyond float range": (lambda a: (swap(a, "income", "1e999"), JSON_TYPE), 400, "JSON"),
    "a huge integer": (lambda a: (swap(a, "n_dependents", "9" * 400), JSON_TYPE), 400, "JSON"),
    "deeply nested arrays": (
        lambda a: ('{"applications": ' + "[" * 5000 + "]" * 5000 + "}", JSON_TYPE),
        400,
        "not JSON",
    ),
    "duplicate keys, the second one bad": (
        lambda a: (body(a)[:-1] + ', "income": -5}', JSON_TYPE),
        422,
        "income",
    ),
    "a wrong content type": (
        lambda a: (body(a), {"content-type": "text/plain"}),
        415,
        "application/json",
    ),
    "no content type": (lambda a: (body(a).encode(), {}), 415, "application/json"),
    "a gzip body": (
        lambda a: (gzip.compress(body(a).encode()), {**JSON_TYPE, "content-encoding": "gzip"}),
        400,
        "not JSON",
    ),
    "a UTF-16 body": (lambda a: (body(a).encode("utf-16"), JSON_TYPE), 400, "not JSON"),
    "a null byte in a category": (
        lambda a: (swap(a, "housing", '"rent\\u0000"'), JSON_TYPE),
        422,
        "housing",
    ),
    "a lone surrogate": (lambda a: (swap(a, "housing", '"\\ud800"'), JSON_TYPE), 400, "JSON"),
    "a 100,000-character category": (
        lambda a: (swap(a, "housing", json.dumps("r" * 100_000)), JSON_TYPE),
        422,
        "housing",
    ),
    "an empty batch": (lambda a: ('{"applications": []}', JSON_TYPE), 422, "applications"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_hostile_body_is_a_4xx_naming_the_problem_never_the_values(
    client: TestClient, splits: dict[str, pd.DataFrame], case: str
) -> None:
    make, status, named = CASES[case]
    app = application(splits["test"], 0)
    content, headers = make(app)
    response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert named in response.text
    assert MARKER not in response.text and "r" * 100 not in response.text
    assert client.post("/predict", json=app).status_code == 200  # still serving


def test_a_batch_at_the_limit_is_scored_and_one_over_it_is_refused(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    limit = client.app.state.service.settings.max_batch  # type: ignore[attr-defined]
    rows = [application(splits["test"], i % len(splits["test"])) for i in range(limit + 1)]
    at = client.post("/predict", json={"applications": rows[:limit]})
    assert at.status_code == 200 and len(at.json()["predictions"]) == limit
    over = client.post("/predict", json={"applications": rows})
    assert over.status_code == 422 and f"at most {limit}" in over.text
