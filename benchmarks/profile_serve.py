"""Where the time of one ``POST /predict`` goes inside our service, without the network.

Usage: .venv/bin/python benchmarks/profile_serve.py [--requests 5000] [--top 25]

Companion of benchmarks/serve.py: when its HTTP numbers miss a target, this says which part
of the single-request path costs what. It drives the ASGI app directly (no socket, no HTTP
parser, no client library: a hand-made ``scope``/``receive``/``send``), so what is timed is
the app and its middleware only:

1. the p50 of one request with each piece of instrumentation switched on alone (request
   metrics and score histograms, the JSON request log, prediction capture) and all together,
   against all off: the cost of each piece, in microseconds;
2. each piece of the handler timed alone, without a profiler (median of blocks of calls):
   parsing, the contract check, the model, the decision, the score metrics, the capture
   record, the request log line, the response;
3. a cProfile of one configuration (``--profile``): the functions that take the time.

The capture writer thread runs as in production and competes for the GIL, but a tight loop
understates its cost: here the writer seldom sleeps, while behind a socket the event loop
idles between requests, so each request wakes the writer, which then writes that one record
(mkdir, open, json.dumps, write, close) while the next request waits for the GIL. Over HTTP
(benchmarks/serve.py) the capture costs several times what it costs here. Captures and the
request log go to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "models/champion"
TEST = "data/splits/test.parquet"
BODIES = 200

VARIANTS: dict[str, dict[str, Any]] = {
    "all off": {"metrics": False, "log_requests": False, "capture_sample": 0.0},
    "metrics only": {"metrics": True, "log_requests": False, "capture_sample": 0.0},
    "request log only": {"metrics": False, "log_requests": True, "capture_sample": 0.0},
    "capture only": {"metrics": False, "log_requests": False, "capture_sample": 1.0},
    "all on (defaults)": {"metrics": True, "log_requests": True, "capture_sample": 1.0},
}


def payloads(test: pd.DataFrame, names: Sequence[str]) -> list[bytes]:
    out = []
    for record in test.iloc[:BODIES].to_dict("records"):
        row = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}
        body = {"application_id": row["application_id"], **{n: row[n] for n in names}}
        body |= {"sex": row["sex"], "age": row["age"]}
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


class Driver:
    """Calls the ASGI app as uvicorn would for ``POST /predict``, minus the socket."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.status = 0

    async def call(self, body: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/predict",
            "raw_path": b"/predict",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]

        await self.app(scope, receive, send)
        if self.status != 200:
            raise RuntimeError(f"POST /predict answered {self.status}")


async def _lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    """Start the app's lifespan (the model loads) and return what stops it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, inbox.get, outbox.put))
    message = await outbox.get()
    if message["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"startup failed: {message}")
    return inbox, task


async def measure(
    settings: dict[str, Any], bodies: list[bytes], n: int, scratch: Path, profile: bool
) -> tuple[list[float], str]:
    """Seconds per request (after a warm-up), and a cProfile report if asked."""
    from serving.app import configure_logging, create_app
    from serving.service import LOG
    from serving.settings import Settings

    configure_logging()
    scratch.mkdir(parents=True, exist_ok=True)
    log = (scratch / "requests.log").open("a")
    handler = LOG.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)
    app = create_app(Settings(model_uri=BUNDLE, capture_dir=scratch / "captures", **settings))
    inbox, task = await _lifespan(app)
    driver = Driver(app)
    for i in range(500):
        await driver.call(bodies[i % len(bodies)])
    seconds = []
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for i in range(n):
        start = time.perf_counter()
        await driver.call(bodies[i % len(bodies)])
        seconds.append(time.perf_counter() - start)
    report = ""
    if profiler:
        profiler.disable()
        report = _per_request(profiler, n)
    await inbox.put({"type": "lifespan.shutdown"})
    await task
    log.close()
    return seconds, report


def _per_call(work: Callable[[], object], n: int, block: int = 100) -> float:
    """Microseconds per call: the median over blocks of ``block`` calls (robust to noise)."""
    times = []
    for _ in range(max(1, n // block)):
        start = time.perf_counter()
        for _ in range(block):
            work()
        times.append((time.perf_counter() - start) / block)
    return statistics.median(times) * 1e6


async def pieces(bodies: list[bytes], n: int, scratch: Path) -> list[tuple[str, float]]:
    """Each step of the single-application path, timed alone with the defaults' settings."""
    from serving import app as served
    from serving import metrics, scoring
    from serving.capture import now
    from serving.routes.common import JSON
    from serving.service import LOG
    from serving.settings import Settings

    scratch.mkdir(parents=True, exist_ok=True)
    log = (scratch / "requests.log").open("a")
    served.configure_logging()
    handler = LOG.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)
    on = VARIANTS["all on (defaults)"]
    app = served.create_app(Settings(model_uri=BUNDLE, capture_dir=scratch / "captures", **on))
    inbox, task = await _lifespan(app)
    service = app.state.service
    champion = service.champion
    body = bodies[0]
    payload = orjson.loads(body)
    applications = service.door.applications(payload)
    features = service.dataset.feature_names
    row = {f: applications[0][f] for f in features}
    p = champion.score_rows([row])
    decisions = champion.decide(p)
    out = service.score(applications, "r" * 32, champion)
    response = {"request_id": "r" * 32, "model": {"name": "n", "version": "1"}, "predictions": out}
    capture = service.capture
    record = {**applications[0], "request_id": "r" * 32, "at": now().isoformat(), "score": 0.1}

    def log_line() -> None:
        line = {"request_id": "r" * 32, "method": "POST", "route": "/predict", "status": 200}
        LOG.info(orjson.dumps(line | {"latency_ms": 0.2, "model_version": "1"}).decode())

    def request_metrics() -> None:
        metrics.REQUESTS.labels("/predict", "200").inc()
        metrics.LATENCY.labels("/predict").observe(0.0002)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("orjson.loads(body)", lambda: orjson.loads(body)),
        (
            "door.applications: pydantic model_validate + model_dump",
            lambda: service.door.applications(payload),
        ),
        (
            "row dict of the features (in Service.score)",
            lambda: {f: applications[0][f] for f in features},
        ),
        ("fast.predict_positive_row(row)", lambda: champion.fast.predict_positive_row(row)),
        ("ServedModel.score_rows([row]) (+ np.array)", lambda: champion.score_rows([row])),
        ("ServedModel.decide(p) (np.where x2)", lambda: champion.decide(p)),
        (
            "scoring.record: score metrics (runs even with metrics off)",
            lambda: scoring.record(champion, "champion", p, decisions),
        ),
        ("capture record dict + now().isoformat()", lambda: {**record, "at": now().isoformat()}),
        (
            "capture.offer([record]) (tight loop: the writer is seldom asleep)",
            lambda: capture.offer([record]),
        ),
        (
            "Service.score, all on (score, decide, record, capture)",
            lambda: service.score(applications, "r" * 32, champion),
        ),
        ("uuid4().hex (request id)", lambda: uuid.uuid4().hex),
        ("Edge._observe: request metrics", request_metrics),
        ("Edge._observe: JSON log line (StreamHandler, flush)", log_line),
        ("JSON response render (orjson)", lambda: JSON(response)),
    ]
    timed = [(name, _per_call(work, n)) for name, work in steps]
    capture.flush()
    await inbox.put({"type": "lifespan.shutdown"})
    await task
    log.close()
    return timed


def _per_request(profiler: cProfile.Profile, n: int) -> str:
    """The profile's top functions, with times in microseconds per request."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "")
        where = where.split("site-packages/")[-1]
        rows.append((cumtime, tottime, calls, f"{where}:{line}({name})"))
    return "\n".join(
        f"{cum * 1e6 / n:9.1f} {tot * 1e6 / n:9.1f} {calls / n:7.2f}  {what}"
        for cum, tot, calls, what in sorted(rows, reverse=True)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--top", type=int, default=30, help="profile lines shown")
    parser.add_argument(
        "--profile", choices=list(VARIANTS), default="all on (defaults)", help="what to profile"
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))  # `serving` is imported from the project root, as uvicorn does
    from loanrisk.data.declaration import load_declaration

    names = load_declaration("datasets/loans.yaml").feature_names
    bodies = payloads(pd.read_parquet(TEST), names)
    print("| instrumentation | p50 µs | p99 µs | p50 over all off, µs |")
    print("|---|---:|---:|---:|")
    base = None
    with tempfile.TemporaryDirectory(prefix="profile-serve-") as scratch:
        for label, settings in VARIANTS.items():
            seconds, _ = asyncio.run(
                measure(settings, bodies, args.requests, Path(scratch) / label, False)
            )
            us = np.asarray(seconds) * 1e6
            p50 = float(np.percentile(us, 50))
            base = p50 if base is None else base
            print(f"| {label} | {p50:.0f} | {np.percentile(us, 99):.0f} | {p50 - base:+.0f} |")
        timed = asyncio.run(pieces(bodies, args.requests, Path(scratch) / "pieces"))
        print("\n| step (all on) | µs per call |\n|---|---:|")
        for name, micro in timed:
            print(f"| {name} | {micro:.1f} |")
        _, report = asyncio.run(
            measure(VARIANTS[args.profile], bodies, args.requests, Path(scratch), True)
        )
    out = io.StringIO()
    out.write(f"\ncProfile, {args.profile}, per request (cProfile inflates small calls):\n")
    out.write("cumulative µs, own µs, calls, function\n")
    out.write("\n".join(report.splitlines()[: args.top]) + "\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
