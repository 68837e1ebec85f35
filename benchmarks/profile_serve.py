"""Where the time of one ``POST /predict`` goes inside our service, without the network.

Usage: .venv/bin/python benchmarks/profile_serve.py [--requests 5000] [--top 25]

Companion of benchmarks/serve.py: when its HTTP numbers miss a target, this says which part
of the single-request path costs what. It drives the ASGI app directly (no socket, no HTTP
parser, no client library: a hand-made ``scope``/``receive``/``send``), so what is timed is
the app and its middleware only:

1. the p50 of one request with each piece of instrumentation switched on alone (request
   metrics and score histograms, the JSON request log, prediction capture) and all together,
   against all off: the cost of each piece, in microseconds;
2. a cProfile of the fully instrumented path: the functions that take the time, per request.

The capture writer thread runs as in production (it competes for the GIL, so its cost shows
in the request loop's wall time); captures and the request log go to a temporary directory.
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
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
    from serving.app import LOG, configure_logging, create_app
    from serving.settings import Settings

    configure_logging()
    scratch.mkdir(parents=True, exist_ok=True)
    log = (scratch / "requests.log").open("a")
    handler = LOG.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(log)
    app = create_app(
        Settings(model_uri=BUNDLE, capture_dir=scratch / "captures", **settings)  # type: ignore[arg-type]
    )
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
        _, report = asyncio.run(
            measure(VARIANTS["all on (defaults)"], bodies, args.requests, Path(scratch), True)
        )
    out = io.StringIO()
    out.write("\ncProfile, all on, per request: cumulative µs, own µs, calls, function\n")
    out.write("\n".join(report.splitlines()[: args.top]) + "\n")
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
