"""API fuzzing at length: schemathesis against the service's own OpenAPI document.

Usage: .venv/bin/python benchmarks/fuzz_api.py [--cases 400] [--seed N] [--bundle DIR]
(`make fuzz`). Needs the champion's serving bundle (after `make repro`), or ``--bundle``.

The same driver as `tests/serving/test_schema_fuzz.py` (``tests.helpers.fuzz_api``), at
length: the champion served by a real uvicorn on 127.0.0.1 (one worker, as `make serve`
starts it, the request log off, captures to a temporary directory, the admin and feedback
tokens set), every operation of the document it publishes through schemathesis' coverage
phase (boundaries, missing and wrong-typed values) and ``--cases`` fuzzed cases, valid and
invalid, per operation and per token (the admin and feedback operations are sent with the
token and with what schemathesis makes up). Every default check but
``positive_data_acceptance``: no 5xx, and every status, content type, header and body as the
document says.

Prints the cases, time and failures per operation as a Markdown table, the statuses
answered, then each failure
with a curl command that replays it; writes benchmarks/results/fuzz_api.json (gitignored).
Exit status 1 on any failure or when the run sent fewer than 5,000 cases.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fuzz_api.json"
AT_LEAST = 5_000
"""The fewest cases a run must send to count as the long run `docs/reliability.md` quotes."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=400, help="fuzzed cases per operation")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--bundle", default=None, help="serving bundle (default: the champion)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))  # `serving` and `tests` are imported from the project root
    from loanrisk import paths
    from loanrisk.config import load_params
    from tests.helpers import TOKEN, fuzz_api, uvicorn

    bundle = Path(args.bundle or paths.CHAMPION)
    if not (bundle / "provenance.json").is_file():
        print(f"error: no serving bundle at {bundle}: run `make repro` or pass --bundle")
        return 1
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    env = {
        "LOANRISK_FEEDBACK_TOKEN": TOKEN,
        "LOANRISK_DATASET": load_params(ROOT / "params.yaml").data.declaration,
    }
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="fuzz-api-") as scratch,
        uvicorn(None, Path(scratch), model=bundle.resolve(), extra_env=env) as server,
    ):
        run = fuzz_api(server.url, args.cases, seed=seed)
    wall = time.perf_counter() - started
    total = sum(run.cases.values())
    failing = {label: sum(f.startswith(f"{label}: ") for f in run.failures) for label in run.cases}

    print(f"schemathesis {metadata.version('schemathesis')}, seed {seed}, --cases {args.cases}")
    print("\n| operation | cases | seconds | failures |\n|---|---:|---:|---:|")
    for label, cases in run.cases.items():
        print(f"| `{label}` | {cases:,} | {run.seconds[label]:.1f} | {failing[label]} |")
    fuzzing = sum(run.seconds.values())
    print(f"| all {len(run.cases)} operations | {total:,} | {fuzzing:.1f} | {len(run.failures)} |")
    print(f"\n{total / fuzzing:.0f} cases a second; {wall:.0f} s with the server's start")
    answered = ", ".join(f"{code}: {n:,}" for code, n in sorted(run.statuses.items()))
    print(f"statuses answered: {answered}")
    for failure in run.failures:
        print(f"- {failure}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "schemathesis": metadata.version("schemathesis"),
                "seed": seed,
                "cases_per_operation": args.cases,
                "bundle": str(bundle),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "cases": run.cases,
                "seconds": run.seconds,
                "statuses": run.statuses,
                "wall_seconds": wall,
                "failures": run.failures,
            },
            indent=2,
        )
    )
    if total < AT_LEAST:
        print(f"error: {total:,} cases, fewer than {AT_LEAST:,}: raise --cases")
        return 1
    return 1 if run.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
