"""A real Prometheus scrapes a real service and computes drift with the project's rules.

The PSI that the recording rules compute from the per-bin counters must be the library's PSI
of the same rows (`loanrisk.monitoring.drift.compare`), and the drift alert must fire on
drifted traffic and stay silent on traffic like the training data's. The rules are loaded as
shipped: their one-hour window holds the whole test, so it counts every row sent.

One difference is expected: ``increase()`` extrapolates the counters' rise between the first
and the last scrape in the window out to the evaluation time, so Prometheus counts every bin
``lambda`` times the rows really sent: ``lambda - 1`` is the gap between the last scrape and the
evaluation (under 1.1 scrape intervals) over the seconds scraped, from 1% to 30% in this short
test, a fraction of a per cent over a real hour. Every bin of every feature is scraped at the
same instants from zero, so ``lambda`` is one factor for all of them, and the shares move only
through the pseudo-count. Hence two checks: the library fed with the counts scaled by
``lambda`` agrees to rounding (the formula is the library's), and the library on the exact rows
agrees within 0.002, what ``lambda = 2`` moves these rows' PSI (measured: 3e-5 at 1.01).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from loanrisk.monitoring.drift import bin_counts, compare
from loanrisk.monitoring.profile import SCORE, read_profile
from tests.helpers import PROMETHEUS, Store, application, dashboard_queries, free_port, uvicorn

FEATURE = "credit_utilization"
DRIFT_ALERTS = ("LoanriskFeatureDrift", "LoanriskScoreDrift")
T = TypeVar("T")


@dataclass
class Stack:
    service: httpx.Client
    prometheus: httpx.Client

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        asked: dict[str, str | float] = (
            {"query": promql} if at is None else {"query": promql, "time": at}
        )
        body = self.prometheus.get("/api/v1/query", params=asked).json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str, at: float | None = None) -> float | None:
        """The one value of an instant query (now, or at time ``at``), or None if none."""
        found = self.query(promql, at)
        assert len(found) <= 1, found
        return float(found[0]["value"][1]) if found else None

    def alerts(self) -> list[dict[str, Any]]:
        body = self.prometheus.get("/api/v1/alerts").json()
        found: list[dict[str, Any]] = body["data"]["alerts"]
        return found


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def prometheus_config(tmp_path: Path, target: str) -> Path:
    """The project's prometheus.yml, scraping ``target`` and evaluating every second."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stack(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The service (uvicorn on a free port) scraped by a Prometheus loading the rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "prometheus is not installed (Debian package `prometheus`; .ci/run installs it)"
        )
    tmp_path = tmp_path_factory.mktemp("prometheus-live")
    with uvicorn(store, tmp_path) as server:
        url = server.url
        port = free_port()
        log = tmp_path / "prometheus.log"
        command = [
            binary,
            f"--config.file={prometheus_config(tmp_path, url.removeprefix('http://'))}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with log.open("wb") as out:
            server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            with (
                httpx.Client(base_url=url, timeout=30) as service,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api,
            ):
                stack = Stack(service, api)

                def scraped() -> bool | None:
                    if server.poll() is not None:
                        raise AssertionError(log.read_text()[-3000:])
                    try:
                        if api.get("/-/ready").status_code != 200:
                            return None
                    except httpx.TransportError:
                        return None
                    found = stack.query(f'loanrisk_drift_bin_total{{feature="{FEATURE}"}}')
                    return True if found else None

                # The counters' first samples must be the zeros of start-up (see the docstring).
                wait_for("the first scrape", scraped)
                yield stack
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def send(service: httpx.Client, frame: pd.DataFrame) -> np.ndarray:
    """Score every row of ``frame``, 200 to a request; the probabilities in order."""
    out: list[float] = []
    for start in range(0, len(frame), 200):
        rows = [application(frame, i) for i in range(start, min(start + 200, len(frame)))]
        response = service.post("/predict", json={"applications": rows})
        assert response.status_code == 200, response.text
        out.extend(p["probability"] for p in response.json()["predictions"])
    return np.array(out)


def settled(stack: Stack, rows: int) -> tuple[float, float]:
    """The rules' PSI and row count for FEATURE once an evaluation has seen all ``rows``."""
    counted = f'loanrisk_drift_bin_total{{feature="{FEATURE}"}}'
    wait_for(f"{rows} rows scraped", lambda: stack.value(f"sum({counted}) == {rows}"))
    last_scrape = stack.value(f"max(timestamp({counted}))")
    assert last_scrape is not None
    psi = f'feature:loanrisk_drift_psi:window{{feature="{FEATURE}"}}'
    # A rule evaluation a second after that scrape has surely read it.
    evaluated = wait_for(
        "an evaluation after it", lambda: stack.value(f"timestamp({psi}) > {last_scrape + 1}")
    )
    # Both figures of that one evaluation: the next extrapolates by another factor.
    found = stack.value(psi, at=evaluated)
    window_rows = stack.value(
        f'feature:loanrisk_drift_rows:window{{feature="{FEATURE}"}}', evaluated
    )
    assert found is not None and window_rows is not None
    return found, window_rows


def expected_psi(store: Store, frame: pd.DataFrame, scores: np.ndarray, scale: float) -> float:
    """The library's PSI of FEATURE on ``frame``, its bin counts multiplied by ``scale``."""
    profile = read_profile(store.champion)
    names = tuple(n for n in profile.names if n != SCORE)
    counts = bin_counts(profile, {**{n: frame[n] for n in names}, SCORE: scores}, (*names, SCORE))
    report = compare(profile, {}, current_counts=counts * scale, rows=len(frame))
    return report.features[FEATURE].psi


def drift_alerts(stack: Stack) -> list[dict[str, Any]]:
    return [a for a in stack.alerts() if a["labels"]["alertname"] in DRIFT_ALERTS]


def test_prometheus_computes_the_librarys_psi_and_alerts_on_drift(
    stack: Stack, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    usual = splits["test"].iloc[:600]
    scores = send(stack.service, usual)
    psi, counted = settled(stack, 600)
    scale = counted / 600
    assert 1 <= scale < 2  # see the module's docstring
    assert psi == pytest.approx(expected_psi(store, usual, scores, scale), rel=1e-9)
    assert psi == pytest.approx(expected_psi(store, usual, scores, 1.0), abs=0.002)
    assert psi < 0.1 and drift_alerts(stack) == []

    drifted = splits["test"].iloc[600:1200].copy()
    drifted[FEATURE] = np.minimum(drifted[FEATURE] + 0.3, 1.0)
    both = pd.concat([usual, drifted], ignore_index=True)
    scores = np.concatenate([scores, send(stack.service, drifted)])
    psi, counted = settled(stack, 1200)
    scale = counted / 1200
    assert psi == pytest.approx(expected_psi(store, both, scores, scale), rel=1e-9)
    assert psi == pytest.approx(expected_psi(store, both, scores, 1.0), abs=0.002)
    assert psi > 0.1
    alert = wait_for(
        "LoanriskFeatureDrift",
        lambda: next(
            (a for a in drift_alerts(stack) if a["labels"].get("feature") == FEATURE), None
        ),
        timeout=10,
    )
    assert alert["state"] in ("pending", "firing")  # `for: 15m`: pending is as far as it gets


def test_every_dashboard_query_runs_on_prometheus(stack: Stack) -> None:
    for expr in dashboard_queries():
        stack.query(expr.replace("$__rate_interval", "1m"))
