"""Time each pipeline stage, as DVC runs it, on the current params (default: the full size).

Usage: python scripts/bench_pipeline.py [--repeat N]

Runs `python pipelines/<stage>.py` in order, N times, and prints the median wall time of each
stage and of the whole. It writes the same outputs as `dvc repro --force` (and registers new
model versions): run it in a checkout whose outputs you do not mind replacing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from loanrisk.paths import OUTPUTS

STAGES = tuple(OUTPUTS)
"""Every DVC stage, in the pipeline's order."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(args.repeat):
        for stage in STAGES:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, f"pipelines/{stage}.py"], check=True, capture_output=True
            )
            timings[stage].append(time.perf_counter() - start)
    total = 0.0
    print(f"{'stage':<10} median s (of {args.repeat})")
    for stage, values in timings.items():
        median = statistics.median(values)
        total += median
        print(f"{stage:<10} {median:8.2f}")
    print(f"{'total':<10} {total:8.2f}")


if __name__ == "__main__":
    main()
