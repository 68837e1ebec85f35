"""The fast path of this tree against another commit's, on the saved champion, side by side.

Usage: python benchmarks/fastpath.py [--baseline REF] [--model DIR] [--repeat N]

The baseline's ``src/loanrisk/fastpath.py`` (default: 66cc1a6, the last before treelite) is
written to a temporary module and compiled from the same fitted model. For each it prints
the compile time, the median microseconds of ``predict_positive_row`` on single rows (taken
in turn from the test split) and of ``predict_positive`` per row on a 10,000-row batch, and
the largest difference from the reference ``predict_proba`` on the test split. Read-only.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from loanrisk.data.declaration import load_declaration
from loanrisk.fastpath import columns_from_frame, compile_model
from loanrisk.scoring import features
from loanrisk.tracking import load_model

ROOT = Path(__file__).resolve().parents[1]
BATCH = 10_000


def baseline_module(ref: str, scratch: Path) -> Any:
    """The baseline commit's fastpath module, imported from a file under ``scratch``."""
    text = subprocess.run(
        ["git", "show", f"{ref}:src/loanrisk/fastpath.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = scratch / "fastpath_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("fastpath_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastpath_baseline"] = module
    spec.loader.exec_module(module)
    return module


def measure(compile_: Any, model: Any, test: pd.DataFrame, dataset: Any, repeat: int) -> str:
    start = time.perf_counter()
    fast = compile_(model, dataset)
    compile_ms = (time.perf_counter() - start) * 1e3
    X = features(test, dataset)
    rows = cast(list[dict[str, Any]], X.iloc[:500].to_dict("records"))
    single = []
    for i in range(repeat):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        fast.predict_positive_row(row)
        single.append(time.perf_counter() - start)
    big = pd.concat([test] * (BATCH // len(test) + 1)).iloc[:BATCH]
    columns = columns_from_frame(big, dataset)
    batch = []
    for _ in range(7):
        start = time.perf_counter()
        fast.predict_positive(columns)
        batch.append(time.perf_counter() - start)
    expected = model.predict_proba(X)[:, 1]
    got = fast.predict_positive(columns_from_frame(test, dataset))
    row_got = np.array([fast.predict_positive_row(r) for r in X.to_dict("records")])
    error = max(np.abs(got - expected).max(), np.abs(row_got - expected).max())
    return (
        f"{fast.kind:32} {compile_ms:10.1f} {statistics.median(single) * 1e6:10.2f} "
        f"{statistics.median(batch) * 1e6 / BATCH:12.3f} {error:10.2g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="66cc1a6")
    parser.add_argument("--model", default="models/champion/model")
    parser.add_argument("--repeat", type=int, default=20_000, help="single-row calls")
    args = parser.parse_args()
    dataset = load_declaration(ROOT / "datasets/loans.yaml")
    test = pd.read_parquet(ROOT / "data/splits/test.parquet")
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as scratch, threadpool_limits(1, "openmp"):
        old = baseline_module(args.baseline, Path(scratch))
        print(f"{args.model}, {len(test)} test rows; one OpenMP thread for the reference")
        header = f"{'':12} {'kind':32} {'compile ms':>10} {'1 row us':>10} {'batch us/row':>12}"
        print(f"{header} {'max |diff|':>10}")
        print(f"{args.baseline:12} {measure(old.compile_model, model, test, dataset, args.repeat)}")
        print(f"{'this tree':12} {measure(compile_model, model, test, dataset, args.repeat)}")


if __name__ == "__main__":
    main()
