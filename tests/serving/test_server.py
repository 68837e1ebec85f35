"""The service as it is deployed: a real uvicorn on 127.0.0.1, one worker or several."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.serving.conftest import DECLARATION, Store
from tests.serving.test_api import TOKEN, application

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn(store: Store, tmp_path: Path, workers: int = 1) -> Iterator[str]:
    """`uvicorn --factory serving.app:factory`, as `make serve` runs it; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "LOANRISK_MODEL_URI": str(store.champion),
        "LOANRISK_DATASET": DECLARATION,
        "LOANRISK_ADMIN_TOKEN": TOKEN,
        "LOANRISK_CAPTURE_DIR": str(tmp_path / "captures"),
        "LOANRISK_LOG_REQUESTS": "false",
    }
    if workers > 1:
        multiproc = tmp_path / "prometheus"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "--factory",
        "serving.app:factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            server.terminate()
            raise AssertionError(server.communicate(timeout=10)[0].decode()[-3000:])
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_real_server_answers_and_reloads_under_load_without_a_failure(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    rows = [application(splits["test"], i) for i in range(50)]
    with uvicorn(store, tmp_path) as url:
        failures: list[str] = []
        answered = [0]
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                i = 0
                while not stop.is_set():
                    response = client.post("/predict", json=rows[i % len(rows)])
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    answered[0] += 1
                    i += 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            auth = {"authorization": f"Bearer {TOKEN}"}
            for _ in range(3):
                time.sleep(0.3)
                reload = httpx.post(f"{url}/admin/reload", headers=auth, timeout=30)
                assert reload.status_code == 200 and reload.json()["reloaded"], reload.text
        finally:
            time.sleep(0.3)
            stop.set()
            for thread in threads:
                thread.join()
        assert failures == [] and answered[0] > 50


def test_several_workers_share_one_metrics_view(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    with (
        uvicorn(store, tmp_path, workers=2) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        for i in range(40):
            response = client.post("/predict", json=application(splits["test"], i))
            assert response.status_code == 200
        text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    predicted = sum(
        s.value
        for s in families["loanrisk_http_requests"].samples
        if s.labels.get("route") == "/predict" and s.name.endswith("_total")
    )
    assert predicted == 40  # every worker's requests, whichever answered the scrape
