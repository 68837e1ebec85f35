"""Time the compiled fast path against the reference pipeline on the saved models.

Usage: python scripts/bench_fastpath.py [--repeat N] [--batch-repeat M] [--batch-size B]
                                        [--openmp-threads T]

For each of models/rule, models/logistic and models/candidate it prints the median and p99
latency of
  (a) the reference ``predict_proba`` on a one-row DataFrame,
  (b) ``FastModel.predict_positive_row`` on a dict (the single-application hot path),
  (c) ``FastModel.predict_positive`` on a B-row batch, per row,
  (d) the reference ``predict_proba`` on the same B-row batch, per row (for scale),
then the time to compile and the largest absolute difference between the fast path (batch
and row) and the reference on the whole of data/splits/test.parquet. Rows are taken in turn
from the test split, so the timings are not of one cached row. Read-only: it writes nothing.

``--openmp-threads 1`` runs the reference trees on one OpenMP thread: on a shared or busy
machine their threads otherwise wait on each other, and the reference's tail latency shows
that contention more than the model's cost.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from loanrisk.data.declaration import Declaration, load_declaration
from loanrisk.fastpath import FastModel, columns_from_frame, compile_model
from loanrisk.scoring import features
from loanrisk.tracking import load_model

MODELS = ("models/rule", "models/logistic", "models/candidate")
DECLARATION = Path("datasets/loans.yaml")
TEST = Path("data/splits/test.parquet")


def timings(calls: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Seconds per call, cycling through ``calls`` (one per input) ``repeat`` times in all."""
    out = []
    for i in range(repeat):
        call = calls[i % len(calls)]
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def summary(seconds: list[float], per: int = 1) -> str:
    micro = np.asarray(seconds) * 1e6 / per
    return f"{statistics.median(micro):10.2f} {np.percentile(micro, 99):10.2f}"


def bench(
    directory: str, test: pd.DataFrame, dataset: Declaration, args: argparse.Namespace
) -> None:
    model = load_model(directory)
    start = time.perf_counter()
    fast = compile_model(model, dataset)
    compile_ms = (time.perf_counter() - start) * 1e3
    if fast is None:
        print(f"{directory}: not compiled; served by the reference pipeline")
        return
    X = features(test, dataset)
    frames = [X.iloc[[i]] for i in range(min(len(X), 500))]
    rows = cast(list[dict[str, Any]], X.iloc[: len(frames)].to_dict("records"))
    batches = [
        X.iloc[start : start + args.batch_size]
        for start in range(0, len(X) - args.batch_size + 1, args.batch_size)
    ][:5]
    batch_columns = [columns_from_frame(b, dataset) for b in batches]

    def reference_row(frame: pd.DataFrame) -> Callable[[], object]:
        return lambda: model.predict_proba(frame)

    def fast_row(row: dict[str, Any]) -> Callable[[], object]:
        return lambda: fast.predict_positive_row(row)

    def fast_batch(columns: dict[str, np.ndarray]) -> Callable[[], object]:
        return lambda: fast.predict_positive(columns)

    results = {
        "(a) reference, 1-row DataFrame": summary(
            timings([reference_row(f) for f in frames], args.repeat)
        ),
        "(b) fast, 1 row (dict)": summary(timings([fast_row(r) for r in rows], args.repeat)),
        f"(c) fast, {args.batch_size}-row batch, per row": summary(
            timings([fast_batch(c) for c in batch_columns], args.batch_repeat), args.batch_size
        ),
        f"(d) reference, {args.batch_size}-row batch, per row": summary(
            timings([reference_row(b) for b in batches], args.batch_repeat), args.batch_size
        ),
    }
    print(f"{directory}  kind={fast.kind}  compile {compile_ms:.1f} ms")
    print(f"  {'':44} {'median us':>10} {'p99 us':>10}")
    for label, figures in results.items():
        print(f"  {label:44} {figures}")
    difference = _max_difference(model, fast, X, test, dataset)
    print(f"  max |fast - reference| on {len(X)} test rows: {difference}")


def _max_difference(
    model: object, fast: FastModel, X: pd.DataFrame, test: pd.DataFrame, dataset: Declaration
) -> str:
    expected = model.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    batch = fast.predict_positive(columns_from_frame(test, dataset))
    records = cast(list[dict[str, Any]], X.to_dict("records"))
    row = np.array([fast.predict_positive_row(r) for r in records])
    return (
        f"batch {np.abs(batch - expected).max():.3g}, row {np.abs(row - expected).max():.3g} "
        f"(rows differing at all: batch {int((batch != expected).sum())}, "
        f"row {int((row != expected).sum())})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000, help="single-row repetitions")
    parser.add_argument("--batch-repeat", type=int, default=200, help="batch repetitions")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--openmp-threads", type=int, default=None, help="default: the machine's")
    args = parser.parse_args()
    dataset = load_declaration(DECLARATION)
    test = pd.read_parquet(TEST)
    with threadpool_limits(args.openmp_threads, "openmp"):
        for directory in MODELS:
            bench(directory, test, dataset, args)


if __name__ == "__main__":
    main()
