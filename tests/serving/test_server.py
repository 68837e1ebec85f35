"""The service as it is deployed: a real uvicorn on 127.0.0.1, one worker or several."""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import TOKEN, Store, application, uvicorn

pytestmark = pytest.mark.slow


def test_a_real_server_answers_and_reloads_under_load_without_a_failure(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    rows = [application(splits["test"], i) for i in range(50)]
    with uvicorn(store, tmp_path) as server:
        url = server.url
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
        uvicorn(store, tmp_path, workers=2) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
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


def test_a_reload_under_the_multiprocess_metrics_leaves_no_stale_model_or_profile(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """Under ``PROMETHEUS_MULTIPROC_DIR`` a removed series stays in the worker's file and
    in every scrape: after a reload to another model the old one must read 0 (the rules and
    the dashboard leave zeros out), and the reference shares served must be the new
    profile's alone, summing to 1 per feature as the recording rules require."""
    served = tmp_path / "bundle"
    shutil.copytree(store.champion, served)
    auth = {"authorization": f"Bearer {TOKEN}"}

    def scrape(client: httpx.Client) -> dict[str, Any]:
        text = client.get("/metrics").text
        return {f.name: f for f in text_string_to_metric_families(text)}

    with (
        uvicorn(store, tmp_path, model=served) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for i in range(20):
            assert client.post("/predict", json=application(splits["test"], i)).is_success
        before = client.get("/model").json()["version"]
        shutil.rmtree(served)
        shutil.copytree(store.challenger, served)
        reload = client.post("/admin/reload", headers=auth)
        assert reload.status_code == 200 and reload.json()["reloaded"], reload.text
        after = reload.json()["serving_version"]
        assert after != before
        families = scrape(client)

    loaded = {s.labels["version"]: s.value for s in families["loanrisk_model_info"].samples}
    assert loaded == {before: 0.0, after: 1.0}
    shares: dict[str, float] = {}
    for sample in families["loanrisk_drift_reference_share"].samples:
        if sample.value > 0:
            feature = sample.labels["feature"]
            shares[feature] = shares.get(feature, 0.0) + sample.value
    assert shares and all(abs(total - 1) < 1e-9 for total in shares.values()), shares


def test_workers_restarted_together_leave_no_gauges_behind(store: Store, tmp_path: Path) -> None:
    """`kill -HUP` makes uvicorn restart every worker, one after the other: how all of them
    load a new champion without a gap. The workers that stopped must leave the shared view,
    or every scrape would report their model as loaded and their profile's reference shares
    beside the new one's (the shares of a feature would no longer sum to 1, and the
    recording rules would give no PSI)."""
    served = tmp_path / "bundle"
    shutil.copytree(store.champion, served)

    def scrape(client: httpx.Client) -> dict[str, Any]:
        text = client.get("/metrics").text
        return {f.name: f for f in text_string_to_metric_families(text)}

    def live(families: dict[str, Any]) -> set[str]:
        return {s.labels["pid"] for s in families["loanrisk_ready"].samples}

    with (
        uvicorn(store, tmp_path, workers=2, model=served) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        before = live(scrape(client))
        old_version = client.get("/model").json()["version"]
        assert len(before) == 2
        shutil.rmtree(served)
        shutil.copytree(store.challenger, served)
        server.process.send_signal(signal.SIGHUP)  # a rolling restart: new worker, then old out
        # Each new worker loads and warms its model before the next old one stops (uvicorn
        # waits WORKER_READY_S for it; its 5 s default aborted the restart on a busy machine).
        deadline = time.monotonic() + 180
        after = before
        while time.monotonic() < deadline and not (len(after) == 2 and after.isdisjoint(before)):
            time.sleep(0.5)
            with contextlib.suppress(httpx.TransportError):
                families = scrape(client)
                after = live(families)
        assert len(after) == 2 and after.isdisjoint(before), (before, after)
        new_version = client.get("/model").json()["version"]

    assert new_version != old_version
    loaded = {s.labels["version"] for s in families["loanrisk_model_info"].samples if s.value}
    assert loaded == {new_version}
    shares: dict[str, float] = {}  # the highest share of each bin over the live workers
    for sample in families["loanrisk_drift_reference_share"].samples:
        if sample.value > 0:
            feature = sample.labels["feature"]
            shares[feature] = shares.get(feature, 0.0) + sample.value
    assert shares and all(abs(total - 1) < 1e-9 for total in shares.values()), shares
