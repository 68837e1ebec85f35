"""The per-request cost of online drift monitoring in the service, measured in one run.

Usage: .venv/bin/python benchmarks/serve_monitor.py [--calls 200000] [--requests 5000]
[--duration 8] [--warmup 2] [--rounds 3] [--skip-http] [--bundle models/champion]
(part of `make bench-drift`). The HTTP part needs `wrk` on PATH (Debian: `apt-get install -y
wrk`) and a champion bundle with a reference profile (after `make repro`).

1. In process, :class:`serving.monitor.OnlineMonitor` as the service builds it (the bundle's
   profile, a window of 5,000, Prometheus export on), fed generated applications (1,000
   distinct ones, taken in turn, with the optional ``sex`` and ``age``):
   - ``observe(application, score)``, each call timed alone (``perf_counter_ns``): median and
     p99 in microseconds, over ``--calls`` calls after a warm-up; the timer's own cost (an
     empty call timed the same way) is shown beside it, not subtracted; and the binning
     alone (``bin_of_one`` of every feature and the score, what ``observe`` does before it
     takes its lock and updates its arrays);
   - what the service does per scored application (``serving.scoring.observe``): ``observe``,
     the protected-attribute dict and ``remember`` (the prediction kept for its outcome);
   - off the request path, for scale: ``flush()`` (the Prometheus counters brought up to
     date, every second in the service) after 5,000 applications, and ``drift()`` (what
     ``GET /drift`` computes) over a full window.
2. The whole app in process, with benchmarks/profile_serve.py's driver (``POST /predict``
   called as uvicorn calls the ASGI app, no socket, no load generator sharing the CPUs):
   instrumentation as deployed (metrics, request log, prediction capture, to a temporary
   directory) with monitoring on and off, ``--requests`` requests each after a warm-up, the
   order swapped each round: the p50 difference is what monitoring adds to a request.
3. Over HTTP, with benchmarks/serve.py's machinery (wrk, a Lua script that checks every
   response is 2xx, the servers started and always stopped here): our service as deployed
   (metrics, request log, prediction capture to a temporary directory) with
   ``LOANRISK_MONITOR=true`` and ``false``, at concurrency 1 and 16, ``--duration`` seconds
   per point after ``--warmup`` seconds that are discarded, ``--rounds`` times with the
   order of the two swapped each round (the machine is shared: one round is noisy). Before
   measuring, ``GET /drift`` must answer 200 with monitoring on and 404 with it off.

Prints Markdown tables and writes benchmarks/results/serve_monitor.json (gitignored).
Exit status 1 if a response was not 2xx, a server failed, or the HTTP part could not run
(no wrk, no bundle with a profile) without ``--skip-http``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
BUNDLE = "models/champion"
RESULTS = ROOT / "benchmarks" / "results" / "serve_monitor.json"
APPLICATIONS = 1_000
SEED = 20_240
WINDOW = 5_000
"""The service's default ``LOANRISK_DRIFT_WINDOW``."""
WARMUP_CALLS = 5_000


# -- in process ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a parsed JSON request holds."""
    return value.item() if isinstance(value, np.generic) else value


def applications(dataset: Any, n: int) -> list[dict[str, Any]]:
    """Generated applications as the service sees them: id, features, ``sex`` and ``age``."""
    from loanrisk.data.generator import generate_month

    frame = generate_month(SEED, pd.Timestamp(2023, 1, 1), n, "recession")
    columns = [dataset.id.column, *dataset.feature_names, *dataset.protected]
    return [
        {str(k): _plain(v) for k, v in record.items()}
        for record in frame[columns].to_dict("records")
    ]


def reference_profile(bundle: Path, dataset: Any) -> tuple[Any, str]:
    """The bundle's profile; without one, a profile of generated data (same bins' layout)."""
    from loanrisk.data.generator import generate_month
    from loanrisk.monitoring.profile import FILE, build_profile, read_profile

    if (bundle / FILE).is_file():
        return read_profile(bundle), f"{bundle / FILE}"
    frame = generate_month(SEED, pd.Timestamp(2021, 1, 1), 33_336, "none")
    scores = np.random.default_rng(0).random(len(frame))
    return build_profile(frame, dataset, scores), "generated (no bundle profile)"


def _per_call_ns(call: Callable[[int], object], n: int, warmup: int) -> np.ndarray:
    """Nanoseconds of each of ``n`` calls ``call(i)``, after ``warmup`` untimed ones."""
    for i in range(warmup):
        call(i)
    out = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(warmup + i)
        out[i] = clock() - start
    return out


def _summary(name: str, ns: np.ndarray) -> dict[str, Any]:
    return {
        "what": name,
        "calls": int(ns.size),
        "median_us": float(np.median(ns)) / 1e3,
        "p99_us": float(np.percentile(ns, 99)) / 1e3,
        "mean_us": float(ns.mean()) / 1e3,
    }


def in_process(bundle: Path, calls: int) -> dict[str, Any]:
    from loanrisk.monitoring.drift import DEFAULTS
    from loanrisk.monitoring.profile import SCORE
    from loanrisk.project import load_project
    from serving.monitor import OnlineMonitor

    dataset = load_project().dataset
    profile, source = reference_profile(bundle, dataset)
    apps = applications(dataset, APPLICATIONS)
    scores = np.random.default_rng(1).random(len(apps)).tolist()
    id_column = dataset.id.column
    protected = tuple(dataset.protected)
    decision = "approve"
    ids = [f"{apps[i % len(apps)][id_column]}-{i}" for i in range(WARMUP_CALLS + calls)]

    def fresh() -> Any:
        return OnlineMonitor(profile, dataset, DEFAULTS, window=WINDOW, export=True)

    monitor = fresh()

    def observe(i: int) -> None:
        j = i % len(apps)
        monitor.observe(apps[j], scores[j])

    def per_application(i: int) -> None:  # serving.scoring.observe, for one application
        j = i % len(apps)
        application = apps[j]
        monitor.observe(application, scores[j])
        groups = {name: application.get(name) for name in protected}
        monitor.remember(ids[i], scores[j], decision, groups)  # every id new, as in service

    binned = [profile.features[n] for n in (*dataset.feature_names, SCORE)]

    def binning(i: int) -> None:  # the part of observe() outside its lock
        j = i % len(apps)
        application = apps[j]
        bins = [f.bin_of_one(application.get(f.name)) for f in binned[:-1]]
        bins.append(binned[-1].bin_of_one(scores[j]))

    def nothing(i: int) -> None:
        return None

    rows = [
        _summary("timer alone (an empty call)", _per_call_ns(nothing, calls, WARMUP_CALLS)),
        _summary(
            f"binning alone: bin_of_one for {len(binned)} values",
            _per_call_ns(binning, calls, WARMUP_CALLS),
        ),
        _summary("observe(application, score)", _per_call_ns(observe, calls, WARMUP_CALLS)),
    ]
    monitor = fresh()
    rows.append(
        _summary(
            "observe + remember (per scored application in the service)",
            _per_call_ns(per_application, calls, WARMUP_CALLS),
        )
    )
    monitor = fresh()
    flushes, drifts = [], []
    for k in range(20):
        for i in range(WINDOW):
            observe(k * WINDOW + i)
        start = time.perf_counter_ns()
        monitor.flush()
        flushes.append(time.perf_counter_ns() - start)
        start = time.perf_counter_ns()
        report = monitor.drift()
        drifts.append(time.perf_counter_ns() - start)
    rows.append(
        _summary(
            f"flush() after {WINDOW:,} applications (every second, off the request path)",
            np.array(flushes[1:]),
        )
    )
    rows.append(
        _summary(
            f"drift() over a full window of {WINDOW:,} (GET /drift)",
            np.array(drifts[1:]),
        )
    )
    return {
        "profile": source,
        "features": len(profile.features),
        "window_filled": report["window"]["filled"],
        "rows": rows,
    }


def in_process_table(result: Mapping[str, Any]) -> str:
    lines = ["| what | calls | median µs | p99 µs | mean µs |", "|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['what']} | {r['calls']:,} | {r['median_us']:,.2f} | {r['p99_us']:,.2f} "
            f"| {r['mean_us']:,.2f} |"
        )
    return "\n".join(lines)


# -- the whole app in process -------------------------------------------------------------------


def _benchmark_module(name: str) -> ModuleType:
    """A sibling script (benchmarks/serve.py, benchmarks/profile_serve.py), for its machinery."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module(name)


def whole_app(bundle: Path, args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    import asyncio

    from loanrisk.project import load_project

    driver = _benchmark_module("profile_serve")
    vars(driver)["BUNDLE"] = str(bundle)  # its measure() serves this bundle
    dataset = load_project().dataset
    frame = pd.DataFrame(applications(dataset, driver.BODIES))
    bodies = driver.payloads(frame, dataset.feature_names)
    points = []
    for round_ in range(args.rounds):
        for monitored in (True, False) if round_ % 2 == 0 else (False, True):
            where = scratch / f"app-{round_}-{'on' if monitored else 'off'}"
            where.mkdir(parents=True)
            # The request log goes to stdout: here, to a file.
            with (where / "stdout.log").open("w") as log, contextlib.redirect_stdout(log):
                seconds, _ = asyncio.run(
                    driver.measure({"monitor": monitored}, bodies, args.requests, where, False)
                )
            us = np.asarray(seconds) * 1e6
            point = {
                "round": round_ + 1,
                "monitor": monitored,
                "requests": int(us.size),
                "p50_us": float(np.median(us)),
                "p99_us": float(np.percentile(us, 99)),
                "mean_us": float(us.mean()),
            }
            print(
                f"  round {round_ + 1}, monitor {'on' if monitored else 'off'}: "
                f"p50 {point['p50_us']:.0f} µs",
                file=sys.stderr,
                flush=True,
            )
            points.append(point)
    return points


def whole_app_table(points: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| round | monitoring | requests | p50 µs | p99 µs | mean µs |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for p in points:
        lines.append(
            f"| {p['round']} | {'on' if p['monitor'] else 'off'} | {p['requests']:,} "
            f"| {p['p50_us']:.0f} | {p['p99_us']:.0f} | {p['mean_us']:.0f} |"
        )
    on = statistics.median(p["p50_us"] for p in points if p["monitor"])
    off = statistics.median(p["p50_us"] for p in points if not p["monitor"])
    lines.append(
        f"\np50, median of rounds: {on:.0f} µs with monitoring, {off:.0f} µs without: "
        f"{on - off:+.0f} µs ({on / off - 1:+.0%})."
    )
    return "\n".join(lines)


# -- over HTTP ----------------------------------------------------------------------------------


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def over_http(bundle: Path, args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    serve = _benchmark_module("serve")
    from loanrisk.project import load_project

    dataset = load_project().dataset
    frame = pd.DataFrame(applications(dataset, serve.BODIES))
    payloads = serve.bodies(frame, dataset.feature_names)["ours"]
    script = serve.lua_script(scratch, "ours", "/predict", payloads)
    points = []
    for round_ in range(args.rounds):
        order = (True, False) if round_ % 2 == 0 else (False, True)
        for monitored in order:
            port = serve.free_port()
            name = f"monitor {'on' if monitored else 'off'}"
            env = serve._base_env() | {
                "LOANRISK_MODEL_URI": str(bundle),
                "LOANRISK_CAPTURE_DIR": str(scratch / f"captures-{port}"),
                "LOANRISK_MONITOR": "true" if monitored else "false",
            }
            command = [str(BIN / "uvicorn"), "--factory", "serving.app:factory"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            command += ["--no-access-log"]
            server = serve.Server(
                "on" if monitored else "off",
                name,
                command,
                env,
                "/health/ready",
                port,
                scratch / f"{port}.log",
            )
            print(f"  round {round_ + 1}, {name}: starting", file=sys.stderr, flush=True)
            with serve.running(server) as base:
                for label, threads, connections in serve.LOADS:
                    serve.run_wrk(base + "/predict", script, threads, connections, args.warmup)
                    drift_status = _get(base + "/drift")
                    expected = 200 if monitored else 404
                    if drift_status != expected:
                        raise RuntimeError(
                            f"GET /drift answered {drift_status} with {name}, expected "
                            f"{expected}: the champion bundle {bundle} has no reference "
                            "profile (retrain and promote it: make repro)"
                        )
                    result, _ = serve.run_wrk(
                        base + "/predict", script, threads, connections, args.duration
                    )
                    point = {
                        "round": round_ + 1,
                        "monitor": monitored,
                        "load": label,
                        "rps": result["requests"] / (result["duration_us"] / 1e6),
                        "p50_ms": result["p50_us"] / 1e3,
                        "p99_ms": result["p99_us"] / 1e3,
                        "requests": result["requests"],
                        "non_2xx": result["non_2xx"] + result["socket_errors"],
                    }
                    print(
                        f"    {label}: {point['rps']:,.0f} req/s, p50 {point['p50_ms']:.3f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
                    points.append(point)
    return points


def http_tables(points: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| round | monitoring | load | req/s | p50 ms | p99 ms | requests | non-2xx |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        lines.append(
            f"| {p['round']} | {'on' if p['monitor'] else 'off'} | {p['load']} "
            f"| {p['rps']:,.0f} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} | {p['requests']:,} "
            f"| {p['non_2xx']} |"
        )
    lines += [
        "",
        "| load | p50 on / off (median of rounds) | p50 difference | p99 on / off "
        "| req/s on / off |",
        "|---|---|---:|---|---|",
    ]
    for load in dict.fromkeys(p["load"] for p in points):

        def median(key: str, monitored: bool, load: str = load) -> float:
            return float(
                statistics.median(
                    p[key] for p in points if p["load"] == load and p["monitor"] is monitored
                )
            )

        on, off = median("p50_ms", True), median("p50_ms", False)
        lines.append(
            f"| {load} | {on:.3f} / {off:.3f} ms | {(on - off) * 1e3:+.0f} µs "
            f"({on / off - 1:+.0%}) | {median('p99_ms', True):.3f} / "
            f"{median('p99_ms', False):.3f} ms | {median('rps', True):,.0f} / "
            f"{median('rps', False):,.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200_000, help="timed calls in process")
    parser.add_argument(
        "--requests", type=int, default=5_000, help="requests per round, the app in process"
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk point")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded load")
    parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds (order swapped)")
    parser.add_argument("--skip-http", action="store_true", help="in process only")
    parser.add_argument("--bundle", type=Path, default=Path(BUNDLE))
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))  # `serving` is imported from the working tree
    bundle = args.bundle if args.bundle.is_absolute() else ROOT / args.bundle

    print("in process ...", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"in_process": in_process(bundle, args.calls)}
    print(f"Reference profile: {result['in_process']['profile']}\n")
    print(in_process_table(result["in_process"]))

    status = 0
    why_not = None
    if (bundle / "profile.json").is_file():
        print("the whole app in process ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
            result["whole_app"] = whole_app(bundle, args, Path(scratch))
        print("\nThe whole app in process (POST /predict through the ASGI app, no socket):\n")
        print(whole_app_table(result["whole_app"]))
    if args.skip_http:
        why_not = "skipped (--skip-http)"
    elif shutil.which("wrk") is None:
        why_not = "wrk is not on PATH (Debian: apt-get install -y wrk)"
    elif not (bundle / "profile.json").is_file():
        why_not = f"{bundle} has no profile.json (train and promote a champion: make repro)"
    if why_not is None:
        print("over HTTP ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
            try:
                result["http"] = over_http(bundle, args, Path(scratch))
            except RuntimeError as exc:
                why_not = str(exc).splitlines()[0]
                status = 1
    if "http" in result:
        print("\nOver HTTP (instrumentation as deployed; only LOANRISK_MONITOR differs):\n")
        print(http_tables(result["http"]))
        if any(p["non_2xx"] for p in result["http"]):
            print("error: some responses were not 2xx (or failed)", file=sys.stderr)
            status = 1
    else:
        result["http_not_measured"] = why_not
        if not args.skip_http:
            print(f"error: HTTP comparison not measured: {why_not}", file=sys.stderr)
            status = 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result["settings"] = settings | {"window": WINDOW, "applications": APPLICATIONS}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {args.out}", file=sys.stderr)
    return status


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
