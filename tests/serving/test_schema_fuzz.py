"""Schemathesis against the service's own OpenAPI document, on a real uvicorn: every
operation, the admin and feedback operations with and without their token, no 5xx and every
answer (status, content type, headers and body) as the document says. A bounded run with a
fixed seed; `make fuzz` (benchmarks/fuzz_api.py) runs thousands of cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.routes.responses import Problem
from tests.helpers import NAME, TOKEN, Server, Store, fuzz_api, settings, uvicorn

CASES = 10
"""Fuzzed cases per operation (and per token), after schemathesis' coverage cases."""
SEED = 20251203


@pytest.fixture(scope="module")
def server(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with uvicorn(store, tmp, extra_env={"LOANRISK_FEEDBACK_TOKEN": TOKEN}) as running:
        yield running


def test_every_answer_to_fuzzed_requests_is_the_one_the_document_gives(server: Server) -> None:
    run = fuzz_api(server.url, CASES, seed=SEED)
    assert not run.failures, "\n".join(run.failures)
    assert len(run.cases) == 19 and min(run.cases.values()) >= 1
    assert {200, 202, 400, 401, 404, 422} <= set(run.statuses)
    assert run.cases["POST /admin/reload"] > 3  # made-up tokens, then the real one


def test_a_service_with_no_model_and_no_admin_token_answers_as_documented(
    tmp_path: Path,
) -> None:
    """The statuses a ready service never gives: 503 not ready on every route that needs
    the model, 403 on the admin routes; each with the body the document gives."""
    closed = {"LOANRISK_ADMIN_TOKEN": ""}  # an empty variable is unset: admin disabled
    with uvicorn(None, tmp_path, model=tmp_path / "no-bundle", extra_env=closed, ready=False) as s:
        run = fuzz_api(s.url, 2, seed=SEED, unavailable=True)
        assert httpx.get(f"{s.url}/predict").status_code == 405  # the server is the one fuzzed
        assert httpx.post(f"{s.url}/model").status_code == 405
    assert not run.failures, "\n".join(run.failures)
    assert {403, 503} <= set(run.statuses) and max(run.statuses) == 503


def test_the_edge_refusals_have_the_documented_body(client: TestClient) -> None:
    """What the edge answers before any route (413, 415) is the document's ``Problem``."""
    document = client.get("/openapi.json").json()
    big = client.post("/predict", content=b"{}", headers={"content-length": str(10**7)})
    form = client.post("/feedback", content=b"id=1", headers={"content-type": "text/plain"})
    for response, path in ((big, "/predict"), (form, "/feedback")):
        documented = document["paths"][path]["post"]["responses"][str(response.status_code)]
        assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
        Problem.model_validate(response.json())
    assert (big.status_code, form.status_code) == (413, 415)


def test_the_document_gives_the_real_bodies(store: Store, tmp_path: Path) -> None:
    """FastAPI documents a body only for a ``JSONResponse``: with the service's orjson
    response as a plain ``Response`` every 200 was ``{"type": "string"}``."""
    document = create_app(settings(store, tmp_path)).openapi()
    paths = document["paths"]

    def schema(path: str, method: str, status: str) -> dict[str, object]:
        found: dict[str, object] = paths[path][method]["responses"][status]["content"][
            "application/json"
        ]["schema"]
        return found

    assert schema("/health/live", "get", "200") == {"$ref": "#/components/schemas/Live"}
    assert schema("/predict", "post", "422") == {"$ref": "#/components/schemas/Problem"}
    assert schema("/predict", "post", "429") == {"$ref": "#/components/schemas/Problem"}
    assert "429" not in paths["/health/ready"]["get"]["responses"]  # never capped
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert paths["/admin/reload"]["post"]["security"] == [{"AdminToken": []}]


def test_a_model_this_server_does_not_serve_is_never_ready_here(client: TestClient) -> None:
    """Found by the fuzzer: v2 model readiness answered 503 (retry later) for a name or a
    version that will never be served; it is a 404, as the model's metadata says."""
    unknown = client.get("/v2/models/nope/ready")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert client.get(f"/v2/models/{NAME}/versions/9/ready").status_code == 404
    assert client.get(f"/v2/models/{NAME}/ready").json() == {"name": NAME, "ready": True}


@pytest.mark.parametrize("outcome", ["false", "true", "1.0", '"1"'])
def test_an_outcome_is_an_integer_not_a_boolean(client: TestClient, outcome: str) -> None:
    """Found by the fuzzer: ``Literal[0, 1]`` let ``false`` and ``1.0`` through, which the
    document (and the training data's label) refuse."""
    body = f'{{"id": "A202411-000001", "outcome": {outcome}}}'
    response = client.post("/feedback", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "outcome"
