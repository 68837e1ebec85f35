"""The edge of the service: limits hold under concurrency, and no input makes it answer 500."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.app import create_app
from serving.edge import Edge
from serving.settings import Settings
from tests.helpers import DECLARATION, NAME, Store


def test_requests_beyond_the_concurrency_cap_get_429_with_retry_after() -> None:
    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    edge = Edge(slow_app, Settings(max_concurrency=2, metrics=False, log_requests=False))

    async def call() -> tuple[int, dict[bytes, bytes]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
        await edge(scope, receive, send)
        start = sent[0]
        return start["status"], dict(start["headers"])

    async def scenario() -> list[tuple[int, dict[bytes, bytes]]]:
        first = [asyncio.create_task(call()) for _ in range(2)]
        await asyncio.sleep(0.05)
        third = await call()  # two in flight: refused at once
        release.set()
        return [third, *await asyncio.gather(*first)]

    third, *others = asyncio.run(scenario())
    assert third[0] == 429 and third[1][b"retry-after"] == b"1"
    assert [status for status, _ in others] == [200, 200]


async def _call(edge: Edge, path: str, receive: Any = None) -> int:
    """One request through ``edge``; the status it answered."""
    sent: list[dict[str, Any]] = []

    async def whole_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    await edge(scope, receive or whole_body, send)
    return int(sent[0]["status"])


def test_the_probes_and_the_scrape_answer_while_the_cap_is_full() -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/predict":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    edge = Edge(app, Settings(max_concurrency=2, metrics=False, log_requests=False))

    async def scenario() -> list[int]:
        held = [asyncio.create_task(_call(edge, "/predict")) for _ in range(2)]
        await asyncio.sleep(0.05)
        statuses = [await _call(edge, path) for path in ("/health/live", "/metrics", "/predict")]
        release.set()
        return [*statuses, *await asyncio.gather(*held)]

    assert asyncio.run(scenario()) == [200, 200, 429, 200, 200]


def test_a_body_that_stalls_gets_408_and_frees_its_place() -> None:
    """Clients that send a few bytes and stop must not hold the cap for ever."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    settings_ = Settings(max_concurrency=1, body_timeout_s=0.1, metrics=False, log_requests=False)
    edge = Edge(app, settings_)

    parts = [{"type": "http.request", "body": b'{"applica', "more_body": True}]

    async def stall() -> dict[str, Any]:
        if parts:
            return parts.pop()
        await asyncio.sleep(3600)  # the rest of the body never comes
        raise AssertionError("unreachable")

    async def scenario() -> list[int]:
        stalled = await _call(edge, "/predict", stall)
        return [stalled, await _call(edge, "/predict"), edge.inflight]

    assert asyncio.run(scenario()) == [408, 200, 0]


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    captures = tmp_path_factory.mktemp("captures")
    config = Settings(model_uri=str(store.champion), dataset=DECLARATION, capture_dir=captures)
    with TestClient(create_app(config), raise_server_exceptions=False) as test_client:
        yield test_client


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON carries neither
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
SHARED_CLIENT = [HealthCheck.function_scoped_fixture]  # one app for every example, on purpose
ROUTES = ["/predict", "/feedback", "/invocations", f"/v2/models/{NAME}/infer"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), body=JSON)
def test_no_input_makes_the_service_answer_500(client: TestClient, route: str, body: Any) -> None:
    response = client.post(route, json=body)
    assert response.status_code < 500, (route, body, response.text)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_no_bytes_make_the_service_answer_500(client: TestClient, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    for route in ROUTES:
        assert client.post(route, content=raw, headers=headers).status_code < 500


def test_the_metrics_pass_promtool(client: TestClient, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    client.post("/predict", json={"application_id": "x"})
    text = client.get("/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_client_that_leaves_mid_body_is_a_499_not_a_500(caplog: pytest.LogCaptureFixture) -> None:
    from starlette.requests import Request

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Request(scope, receive).body()  # Starlette raises ClientDisconnect

    from prometheus_client import REGISTRY

    def counted(status: str) -> float:
        labels = {"route": "(unmatched)", "status": status}
        return REGISTRY.get_sample_value("loanrisk_http_requests_total", labels) or 0.0

    before = counted("499"), counted("500")
    edge = Edge(app, Settings(metrics=True, log_requests=False))

    async def leave() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    asyncio.run(edge(scope, leave, send))
    assert (counted("499"), counted("500")) == (before[0] + 1, before[1]) and sent == []
    assert "unhandled error" not in caplog.text
