"""Serving latency and throughput of the champion, measured in one run on this machine.

Usage: .venv/bin/python benchmarks/serve.py [--duration 12] [--warmup 2] [--calls 3000]
[--baseline GIT_REF] (`make bench-serve`; `BASELINE=<ref> make bench-serve` also serves the
same bundle with that commit's code first, and says what the change costs). Needs `wrk` on
PATH (Debian: `apt-get install -y wrk`).

Why: the service's claims are relative, so all of them are measured together, on the same
machine, the same model and the same applications (rows of data/splits/test.parquet, taken in
turn so that no single row is cached):

1. In process, one application at a time (p50/p99 over ``--calls`` calls):
   (a) the reference pipeline, ``predict_proba`` on a one-row DataFrame, which is what any
       generic scikit-learn server ends up calling;
   (c) the compiled fast path, ``FastModel.predict_positive_row`` on a dict, which is what
       our service calls for a single application.
2. Over HTTP, with wrk (a C load generator, closed loop, latency percentiles from its own
   histogram), ``--duration`` seconds per point after a ``--warmup`` run that is discarded,
   at concurrency 1 (``-t1 -c1``) and 16 (``-t2 -c16``), against
   (i)   our service as deployed: metrics, request logs and prediction capture on (the
         capture goes to a temporary directory, the request log to a file);
   (ii)  our service with that instrumentation off;
   (iii) ``mlflow models serve -m models:/loan-default-risk@champion --env-manager local``
         (its own uvicorn app, one worker like ours, access log off like ours through
         ``UVICORN_ACCESS_LOG=false``; the model is skops, so no
         ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is needed).
   Every response is checked to be 2xx (a Lua ``response`` hook counts the others).
3. The ratios the targets are about: throughput at c=16, ours over MLflow's (target >= 10x);
   our HTTP p50 at c=1 against the reference in-process one-row ``predict_proba`` p50 (target:
   below it, aim 2 ms); the p50 overhead of the instrumentation (target < 10 %).

It prints a Markdown table and writes benchmarks/results/serve.json (results/ is gitignored).
Read-only for the project: the servers are started and always stopped by this script, and the
service's capture goes to a temporary directory. The load generator shares the machine's CPUs
with the server, so absolute numbers are of this machine under that load; the ratios are the
point. Exit status 1 if any response was not 2xx or a server failed to start; with
``--strict`` also if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
BUNDLE = "models/champion"
REGISTERED = "models:/loan-default-risk@champion"
TRACKING_URI = "sqlite:///mlflow.db"
DECLARATION = "datasets/loans.yaml"
TEST = "data/splits/test.parquet"
RESULTS = ROOT / "benchmarks" / "results" / "serve.json"
BODIES = 200
"""Distinct applications cycled through, in process and in each wrk thread."""
READY_TIMEOUT_S = 120.0
LOADS = (("c=1", 1, 1), ("c=16", 2, 16))
"""(label, wrk threads, connections) of each HTTP point."""

TARGET_THROUGHPUT_RATIO = 10.0
TARGET_P50_MS = 2.0
TARGET_OVERHEAD = 0.10


# -- what is measured -------------------------------------------------------------------------


@dataclass
class Point:
    """One row of the table: a latency distribution and, over HTTP, a throughput."""

    key: str
    """Which measurement: "a", "c" (in process), "i", "ii", "iii" (over HTTP)."""
    name: str
    load: str
    p50_ms: float
    p99_ms: float
    rps: float | None = None
    requests: int | None = None
    non_2xx: int | None = None
    socket_errors: int | None = None
    wrk_output: str = field(default="", repr=False)


def _percentiles(seconds: Sequence[float], key: str, name: str) -> Point:
    ms = np.asarray(seconds) * 1e3
    return Point(
        key=key,
        name=name,
        load="in process",
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        rps=float(len(ms) / (ms.sum() / 1e3)),
        requests=len(ms),
    )


def _time_calls(calls: Sequence[Callable[[], object]], n: int, warmup: int) -> list[float]:
    """Seconds per call, cycling through ``calls``; the first ``warmup`` calls are dropped."""
    out = []
    for i in range(warmup + n):
        call = calls[i % len(calls)]
        start = time.perf_counter()
        call()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            out.append(elapsed)
    return out


def in_process(test: pd.DataFrame, calls: int) -> tuple[list[Point], dict[str, Any]]:
    """(a) the reference one-row ``predict_proba`` and (c) the compiled row path."""
    from loanrisk.data.declaration import load_declaration
    from loanrisk.fastpath import compile_model
    from loanrisk.scoring import features
    from loanrisk.tracking import load_model

    dataset = load_declaration(DECLARATION)
    model = load_model(f"{BUNDLE}/model")
    fast = compile_model(model, dataset)
    if fast is None:
        raise SystemExit(f"error: {BUNDLE} does not compile to a fast path")
    X = features(test, dataset).iloc[:BODIES]
    frames = [X.iloc[[i]] for i in range(len(X))]
    rows: list[dict[str, Any]] = X.to_dict("records")  # type: ignore[assignment]

    def reference(frame: pd.DataFrame) -> Callable[[], object]:
        return lambda: model.predict_proba(frame)

    def compiled(row: Mapping[str, Any]) -> Callable[[], object]:
        return lambda: fast.predict_positive_row(row)

    points = [
        _percentiles(
            _time_calls([reference(f) for f in frames], calls, warmup=50),
            "a",
            "(a) reference predict_proba, 1-row DataFrame",
        ),
        _percentiles(
            _time_calls([compiled(r) for r in rows], calls, warmup=200),
            "c",
            "(c) fast path predict_positive_row",
        ),
    ]
    return points, {"model": type(model).__name__, "fast_path": fast.kind}


# -- the request bodies and wrk -------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as the JSON-native Python value."""
    return value.item() if isinstance(value, np.generic) else value


def bodies(test: pd.DataFrame, feature_names: Sequence[str]) -> dict[str, list[str]]:
    """The JSON bodies of each endpoint, one per application."""
    ours, mlflow = [], []
    for record in test.iloc[:BODIES].to_dict("records"):
        row = {k: _plain(v) for k, v in record.items()}
        application = {"application_id": row["application_id"]}
        application.update({f: row[f] for f in feature_names})
        application.update({"sex": row["sex"], "age": row["age"]})  # optional, for monitoring
        ours.append(json.dumps(application, separators=(",", ":")))
        split = {"columns": list(feature_names), "data": [[row[f] for f in feature_names]]}
        mlflow.append(json.dumps({"dataframe_split": split}, separators=(",", ":")))
    return {"ours": ours, "mlflow": mlflow}


LUA = """\
-- Generated by benchmarks/serve.py: POST the bodies in turn, count non-2xx, report JSON.
local bodies = { %(bodies)s }
local threads = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  next_body = 0
  non2xx = 0
end

function request()
  next_body = next_body %% #bodies + 1
  return wrk.format(nil, "%(path)s", nil, bodies[next_body])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"non_2xx\\": %%d, \\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, e.connect + e.read + e.write + e.timeout))
end
"""


def lua_script(directory: Path, name: str, path: str, payloads: Sequence[str]) -> Path:
    quoted = ", ".join(_lua_string(p) for p in payloads)
    script = directory / f"{name}.lua"
    script.write_text(LUA % {"bodies": quoted, "path": path})
    return script


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]" if "]==]" not in text else json.dumps(text)


def run_wrk(
    url: str, script: Path, threads: int, connections: int, seconds: float
) -> tuple[dict[str, Any], str]:
    """One wrk run: its JSON summary (from the script's ``done``) and its full output."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result: dict[str, Any] = json.loads(found.group(1))
    reported = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    result["non_2xx"] = max(result["non_2xx"], int(reported.group(1)) if reported else 0)
    return result, done.stdout


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).splitlines()[0].strip()


# -- the servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    key: str
    name: str
    command: list[str]
    env: dict[str, str]
    ready_path: str
    port: int
    log: Path
    cwd: Path = ROOT


@contextlib.contextmanager
def running(server: Server) -> Iterator[str]:
    """Start ``server`` in its own process group, wait until ready, always stop it."""
    with server.log.open("w") as log:
        process = subprocess.Popen(
            server.command,
            cwd=server.cwd,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # so the whole group (mlflow's uvicorn child) is stopped
        )
        try:
            base = f"http://127.0.0.1:{server.port}"
            _wait_ready(process, base + server.ready_path, server)
            yield base
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.25)
    tail = "\n".join(server.log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{server.name} did not become ready at {url}:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANRISK_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # one worker: in-process metrics
    env.pop("MODEL_URI", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # mlflow execs `uvicorn`
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def checkout(ref: str, scratch: Path) -> Path:
    """The project's code at ``ref`` (``git archive``: no worktree left behind), to serve the
    same bundle with the code of another commit, side by side in one run."""
    target = scratch / f"code-{ref.replace('/', '_')}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def servers(scratch: Path, baseline: str | None = None) -> list[tuple[Server, str, str]]:
    """(server, endpoint path, body kind) for (i), (ii) and (iii); with ``baseline`` (a git
    ref), first (0) our service as that commit's code serves the same bundle."""

    def ours(key: str, name: str, instrumented: bool, code: Path = ROOT) -> Server:
        port = free_port()
        env = _base_env() | {
            "LOANRISK_MODEL_URI": str(ROOT / BUNDLE),
            "LOANRISK_CAPTURE_DIR": str(scratch / f"captures-{port}"),
        }
        if code != ROOT:  # the venv's editable install points at ROOT/src: put code first
            env["PYTHONPATH"] = f"{code / 'src'}{os.pathsep}{code}"
        if not instrumented:
            env |= {
                "LOANRISK_METRICS": "false",
                "LOANRISK_LOG_REQUESTS": "false",
                "LOANRISK_CAPTURE_SAMPLE": "0",
            }
        command = [str(BIN / "uvicorn"), "--factory", "serving.app:factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        command += ["--no-access-log"]
        log = scratch / f"{port}.log"
        return Server(key, name, command, env, "/health/ready", port, log, code)

    port = free_port()
    mlflow_env = _base_env() | {
        "MLFLOW_TRACKING_URI": TRACKING_URI,
        "UVICORN_ACCESS_LOG": "false",  # read by the uvicorn that mlflow execs
    }
    mlflow_command = [str(BIN / "mlflow"), "models", "serve", "-m", REGISTERED]
    mlflow_command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    log = scratch / f"{port}.log"
    mlflow = Server(
        "iii", "(iii) mlflow models serve", mlflow_command, mlflow_env, "/ping", port, log
    )
    before = []
    if baseline:
        code = checkout(baseline, scratch)
        before = [(ours("0", f"(0) ours at {baseline}, on", True, code), "/predict", "ours")]
    return [
        *before,
        (ours("i", "(i) ours, instrumentation on", True), "/predict", "ours"),
        (ours("ii", "(ii) ours, instrumentation off", False), "/predict", "ours"),
        (mlflow, "/invocations", "mlflow"),
    ]


def over_http(
    test: pd.DataFrame, feature_names: Sequence[str], args: argparse.Namespace, scratch: Path
) -> list[Point]:
    payloads = bodies(test, feature_names)
    points = []
    for server, path, kind in servers(scratch, args.baseline):
        script = lua_script(scratch, kind, path, payloads[kind])
        print(f"  {server.name}: starting", file=sys.stderr, flush=True)
        with running(server) as base:
            for label, threads, connections in LOADS:
                run_wrk(base + path, script, threads, connections, args.warmup)
                result, output = run_wrk(base + path, script, threads, connections, args.duration)
                point = Point(
                    key=server.key,
                    name=server.name,
                    load=label,
                    p50_ms=result["p50_us"] / 1e3,
                    p99_ms=result["p99_us"] / 1e3,
                    rps=result["requests"] / (result["duration_us"] / 1e6),
                    requests=result["requests"],
                    non_2xx=result["non_2xx"],
                    socket_errors=result["socket_errors"],
                    wrk_output=output,
                )
                print(f"  {server.name} {label}: {point.rps:.0f} req/s", file=sys.stderr)
                points.append(point)
    return points


# -- the report -----------------------------------------------------------------------------


def table(points: Sequence[Point]) -> str:
    lines = [
        "| measurement | load | req/s | p50 ms | p99 ms | requests | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        rps = f"{p.rps:,.0f}" if p.rps is not None else ""
        bad = "" if p.non_2xx is None else str(p.non_2xx + (p.socket_errors or 0))
        lines.append(
            f"| {p.name} | {p.load} | {rps} | {p.p50_ms:.3f} | {p.p99_ms:.3f} "
            f"| {p.requests:,} | {bad} |"
        )
    return "\n".join(lines)


def _check(what: str, value: float, target: str, met: bool | None, detail: str) -> dict[str, Any]:
    return {"what": what, "value": value, "target": target, "met": met, "detail": detail}


def targets(points: Sequence[Point]) -> list[dict[str, Any]]:
    """Each target: the measured ratio or value, the target, whether it is met, and the
    numbers it is computed from."""
    by = {(p.key, p.load): p for p in points}
    on1, off1 = by[("i", "c=1")], by[("ii", "c=1")]
    on16, off16, ml16 = by[("i", "c=16")], by[("ii", "c=16")], by[("iii", "c=16")]
    reference = by[("a", "in process")]
    assert on16.rps and ml16.rps and off16.rps
    speedup, speedup_off = on16.rps / ml16.rps, off16.rps / ml16.rps
    versus = on1.p50_ms / reference.p50_ms
    overhead1, overhead16 = on1.p50_ms / off1.p50_ms - 1, on16.p50_ms / off16.p50_ms - 1
    return [
        _check(
            "throughput at c=16, ours (instrumented) / mlflow",
            speedup,
            f">= {TARGET_THROUGHPUT_RATIO:g}x",
            speedup >= TARGET_THROUGHPUT_RATIO,
            f"{on16.rps:,.0f} vs {ml16.rps:,.0f} req/s",
        ),
        _check(
            "throughput at c=16, ours (uninstrumented) / mlflow",
            speedup_off,
            "(for scale)",
            None,
            f"{off16.rps:,.0f} vs {ml16.rps:,.0f} req/s",
        ),
        _check(
            "our HTTP p50 at c=1 (instrumented) / reference in-process 1-row predict_proba p50",
            versus,
            "< 1",
            versus < 1,
            f"{on1.p50_ms:.3f} vs {reference.p50_ms:.3f} ms",
        ),
        _check(
            "our HTTP p50 at c=1 (instrumented), ms",
            on1.p50_ms,
            f"aim <= {TARGET_P50_MS:g} ms",
            on1.p50_ms <= TARGET_P50_MS,
            "",
        ),
        _check(
            "instrumentation overhead on p50 at c=1",
            overhead1,
            f"< {TARGET_OVERHEAD:.0%}",
            overhead1 < TARGET_OVERHEAD,
            f"{on1.p50_ms * 1e3:.0f} vs {off1.p50_ms * 1e3:.0f} µs "
            f"({(on1.p50_ms - off1.p50_ms) * 1e3:+.0f} µs)",
        ),
        _check(
            "instrumentation overhead on p50 at c=16",
            overhead16,
            f"< {TARGET_OVERHEAD:.0%}",
            overhead16 < TARGET_OVERHEAD,
            f"{on16.p50_ms:.2f} vs {off16.p50_ms:.2f} ms; "
            f"throughput {on16.rps / off16.rps - 1:+.0%}",
        ),
    ]


def against_baseline(points: Sequence[Point]) -> list[dict[str, Any]]:
    """The change's cost: this tree's service against the baseline commit's, same bundle,
    same run (goal: p50 at c=1 at most +25 %, throughput at c=16 at most -20 %)."""
    by = {(p.key, p.load): p for p in points}
    if ("0", "c=1") not in by:
        return []
    old1, new1 = by[("0", "c=1")], by[("i", "c=1")]
    old16, new16 = by[("0", "c=16")], by[("i", "c=16")]
    assert old16.rps and new16.rps
    p50, rps = new1.p50_ms / old1.p50_ms - 1, new16.rps / old16.rps - 1
    return [
        _check(
            "p50 at c=1 against the baseline (instrumented)",
            p50,
            "<= +25%",
            p50 <= 0.25,
            f"{new1.p50_ms * 1e3:.0f} vs {old1.p50_ms * 1e3:.0f} µs",
        ),
        _check(
            "throughput at c=16 against the baseline (instrumented)",
            rps,
            ">= -20%",
            rps >= -0.20,
            f"{new16.rps:,.0f} vs {old16.rps:,.0f} req/s",
        ),
    ]


def ratios(checks: Sequence[dict[str, Any]]) -> str:
    lines = ["| ratio | value | target | met | from |", "|---|---:|---|---|---|"]
    for c in checks:
        value = c["value"]
        relative = "overhead" in c["what"] or "baseline" in c["what"]
        shown = f"{value:+.1%}" if relative else f"{value:.2f}"
        met = {True: "yes", False: "**no**", None: ""}[c["met"]]
        lines.append(f"| {c['what']} | {shown} | {c['target']} | {met} | {c['detail']} |")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    packages = ("fastapi", "uvicorn", "starlette", "pydantic", "mlflow", "scikit-learn", "numpy")
    versions: dict[str, str | None] = {}
    for name in (*packages, "pandas", "orjson", "uvloop", "httptools"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "wrk": wrk_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "packages": versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per wrk point")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded load")
    parser.add_argument("--calls", type=int, default=3000, help="in-process calls per path")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--baseline", help="a git ref: also serve the bundle with that commit's code, first"
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if shutil.which("wrk") is None:
        print("error: wrk is not on PATH (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 1

    from loanrisk.data.declaration import load_declaration

    feature_names = load_declaration(DECLARATION).feature_names
    test = pd.read_parquet(TEST)
    env = environment()
    print("in process ...", file=sys.stderr, flush=True)
    points, model = in_process(test, args.calls)
    print("over HTTP ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        try:
            points += over_http(test, feature_names, args, Path(scratch))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    checks = targets(points) + against_baseline(points)
    print(
        f"{env['wrk']}; Python {env['python']}; {env['cpus']} CPUs; "
        f"load average at start {env['load_average_at_start'][0]:.2f}; model {model}\n"
    )
    print(table(points))
    print()
    print(ratios(checks))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "environment": env | {"model": model},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "calls": args.calls,
            "bodies": BODIES,
            "loads": [{"label": a, "threads": b, "connections": c} for a, b, c in LOADS],
        },
        "points": [asdict(p) for p in points],
        "targets": checks,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten {args.out}", file=sys.stderr)
    bad = sum((p.non_2xx or 0) + (p.socket_errors or 0) for p in points)
    if bad:
        print(f"error: {bad} responses were not 2xx (or failed)", file=sys.stderr)
        return 1
    if args.strict and not all(c["met"] for c in checks if c["met"] is not None):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
