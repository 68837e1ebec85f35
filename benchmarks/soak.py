"""Load and soak: the service held at concurrency 32, then 100,000 requests, then two workers.

Usage: .venv/bin/python benchmarks/soak.py [--hold 60] [--requests 100000] (`make soak`).
Needs `wrk` on PATH (Debian: `apt-get install -y wrk`) and the champion bundle (`make repro`).

Why: a credit service has to keep answering under sustained load without errors and without
its memory creeping up (a leak shows only after many requests). Each phase runs our service
as deployed (metrics, the JSON request log to a file, prediction capture to a temporary
directory), with benchmarks/serve.py's machinery: wrk, a C load generator, closed loop, on
127.0.0.1, with a Lua script that counts every response that is not 2xx.

1. **hold**: one worker, ``wrk -t2 -c32`` for ``--hold`` seconds after a short warm-up: the
   requests, the throughput, p50 and p99, and the errors (non-2xx and socket errors), which
   must be zero.
2. **batches**: two clients each sending 1,000-application batches for ``--batch-seconds``
   while a third polls ``/health/live`` every 20 ms: the probe's p50, p99 and maximum, which
   show whether a batch holds up the event loop.
3. **soak**: the same worker for ``--requests`` more single applications, in rounds of 10 s;
   its resident memory (``VmRSS``) before, after every round, and after; the growth must stay
   under 5 %.
4. **two workers**: ``--workers 2`` (metrics shared through ``PROMETHEUS_MULTIPROC_DIR``) held
   at c=32 for ``--hold`` seconds: throughput, p50, p99, errors.

It prints a Markdown table and writes benchmarks/results/soak.json (gitignored). The load
generator shares the machine's CPUs with the server, so the figures are this machine's under
that load. Exit status 1 if any request failed or the memory grew by 5 % or more.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
CONCURRENCY = 32
ROUND_S = 10.0
MAX_GROWTH = 0.05
BATCH = 1_000
PROBE_EVERY_S = 0.02


def _serve() -> ModuleType:
    """benchmarks/serve.py, for its wrk runner, Lua scripts and server lifecycle."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("serve")


def server(serve: ModuleType, scratch: Path, workers: int) -> Any:
    """Our service as deployed, ``workers`` processes, its log and captures in ``scratch``."""
    port = serve.free_port()
    env = serve._base_env() | {
        "LOANRISK_MODEL_URI": str(ROOT / serve.BUNDLE),
        "LOANRISK_CAPTURE_DIR": str(scratch / f"captures-{port}"),
    }
    if workers > 1:
        shared = scratch / f"prometheus-{port}"
        shared.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    command = [str(BIN / "uvicorn"), "--factory", "serving.app:factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--timeout-worker-healthcheck", "120", "--no-access-log"]
    name = f"ours, {workers} worker{'s' if workers > 1 else ''}"
    return serve.Server(
        str(workers), name, command, env, "/health/ready", port, scratch / f"{port}.log"
    )


def rss_bytes(port: int) -> int:
    """Resident memory of the processes listening on ``port`` and their children (the
    uvicorn process, or its workers): ``VmRSS`` from /proc."""
    listeners = _pids_on(port)
    pids = set(listeners)
    for pid in listeners:
        pids |= _children(pid)
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def _pids_on(port: int) -> set[int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = fd.readlink().as_posix()
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def _children(pid: int) -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int(Path(proc, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(proc.name))
    return found


def point(phase: str, result: dict[str, Any]) -> dict[str, Any]:
    seconds = result["duration_us"] / 1e6
    return {
        "phase": phase,
        "requests": result["requests"],
        "seconds": round(seconds, 1),
        "rps": result["requests"] / seconds,
        "p50_ms": result["p50_us"] / 1e3,
        "p99_ms": result["p99_us"] / 1e3,
        "errors": result["non_2xx"] + result["socket_errors"],
    }


def probe(port: int, path: str, stop: threading.Event) -> list[float]:
    """``GET path`` on 127.0.0.1 every PROBE_EVERY_S until ``stop``, a new connection each
    time as an orchestrator's probe makes it: each answer's latency in seconds."""
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        if answer.status != 200:
            raise RuntimeError(f"GET {path} answered {answer.status}")
        latencies.append(time.perf_counter() - start)
        time.sleep(PROBE_EVERY_S)
    return latencies


def batches(
    serve: ModuleType,
    base: str,
    test: pd.DataFrame,
    names: Sequence[str],
    scratch: Path,
    seconds: float,
) -> dict[str, Any]:
    """Two clients of 1,000-application batches, and the liveness probe's latency meanwhile."""
    singles = serve.bodies(test, names)["ours"]
    rows = [json.loads(b) for b in singles]
    body = json.dumps({"applications": [rows[i % len(rows)] for i in range(BATCH)]})
    script = serve.lua_script(scratch, "batch", "/predict", [body])
    stop, found = threading.Event(), {}

    def run() -> None:
        found["probes"] = probe(int(base.rsplit(":", 1)[1]), "/health/live", stop)

    prober = threading.Thread(target=run)
    prober.start()
    try:
        result, _ = serve.run_wrk(base + "/predict", script, 2, 2, seconds)
    finally:
        stop.set()
        prober.join()
    latencies = sorted(found["probes"])
    return {
        **point(f"batches of {BATCH:,}, 2 clients", result),
        "probe": {
            "count": len(latencies),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
            "max_ms": latencies[-1] * 1e3,
        },
    }


def soak(serve: ModuleType, base: str, port: int, script: Path, requests: int) -> dict[str, Any]:
    """``requests`` more applications in rounds of ROUND_S, memory read after each."""
    before = rss_bytes(port)
    samples, done, results = [before], 0, []
    while done < requests:
        result, _ = serve.run_wrk(base + "/predict", script, 2, CONCURRENCY, ROUND_S)
        results.append(result)
        done += result["requests"]
        samples.append(rss_bytes(port))
        print(f"    soak: {done:,} requests, RSS {samples[-1] / 2**20:.1f} MiB", file=sys.stderr)
    total = {
        "requests": done,
        "duration_us": sum(r["duration_us"] for r in results),
        "p50_us": statistics.median(r["p50_us"] for r in results),
        "p99_us": max(r["p99_us"] for r in results),
        "non_2xx": sum(r["non_2xx"] for r in results),
        "socket_errors": sum(r["socket_errors"] for r in results),
    }
    after = samples[-1]
    return {
        **point("soak", total),
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "rss_samples_mib": [round(s / 2**20, 1) for s in samples],
        "growth": after / before - 1,
    }


def table(points: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| phase | requests | s | req/s | p50 ms | p99 ms | errors | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in points:
        notes = ""
        if "growth" in p:
            notes = (
                f"RSS {p['rss_before_mib']:.1f} → {p['rss_after_mib']:.1f} MiB ({p['growth']:+.2%})"
            )
        if "probe" in p:
            q = p["probe"]
            notes = (
                f"/health/live meanwhile: p50 {q['p50_ms']:.1f} ms, p99 "
                f"{q['p99_ms']:.1f} ms, max {q['max_ms']:.1f} ms ({q['count']} probes)"
            )
        lines.append(
            f"| {p['phase']} | {p['requests']:,} | {p['seconds']} | {p['rps']:,.0f} | "
            f"{p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['errors']} | {notes} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds at c=32")
    parser.add_argument("--requests", type=int, default=100_000, help="requests of the soak")
    parser.add_argument("--batch-seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    serve = _serve()
    from loanrisk.project import load_project

    if not (ROOT / serve.BUNDLE).is_dir():
        print(f"soak: no champion at {serve.BUNDLE}: run make repro first", file=sys.stderr)
        return 1
    names = load_project().dataset.feature_names
    test = pd.read_parquet(ROOT / serve.TEST)
    payloads = serve.bodies(test, names)["ours"]
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="loanrisk-soak-") as tmp:
        scratch = Path(tmp)
        script = serve.lua_script(scratch, "ours", "/predict", payloads)
        one = server(serve, scratch, 1)
        print(f"  {one.name}: starting", file=sys.stderr, flush=True)
        with serve.running(one) as base:
            serve.run_wrk(base + "/predict", script, 2, CONCURRENCY, args.warmup)
            result, _ = serve.run_wrk(base + "/predict", script, 2, CONCURRENCY, args.hold)
            points.append(point(f"hold c={CONCURRENCY}, 1 worker", result))
            print(f"    hold: {points[-1]['rps']:,.0f} req/s", file=sys.stderr)
            points.append(batches(serve, base, test, names, scratch, args.batch_seconds))
            points.append(soak(serve, base, one.port, script, args.requests))
        two = server(serve, scratch, 2)
        print(f"  {two.name}: starting", file=sys.stderr, flush=True)
        with serve.running(two) as base:
            serve.run_wrk(base + "/predict", script, 2, CONCURRENCY, args.warmup)
            result, _ = serve.run_wrk(base + "/predict", script, 2, CONCURRENCY, args.hold)
            points.append(
                {
                    **point(f"hold c={CONCURRENCY}, 2 workers", result),
                    "rss_mib": rss_bytes(two.port) / 2**20,
                }
            )
    print(table(points))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"points": points, "wrk": serve.wrk_version()}, indent=2))
    failed = [p["phase"] for p in points if p["errors"]]
    grown = [p for p in points if p.get("growth", 0) >= MAX_GROWTH]
    if failed or grown:
        print(f"soak: errors in {failed}; memory growth over 5 %: {len(grown)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
