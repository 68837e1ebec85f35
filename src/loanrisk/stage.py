"""What every pipeline stage and CLI command shares at its edge: one-line errors, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from loanrisk.errors import LoanriskError


def run(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; an error the user can act on becomes one line and exit 1.

    Besides the project's own errors, that covers files that cannot be read or written and
    an MLflow store that cannot be reached or lacks a run (say, after `make clean`).
    """
    try:
        main()
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None


def _from_mlflow(exc: BaseException) -> bool:
    # By name, so that a stage that never touches MLflow does not pay for importing it.
    return any(
        cls.__name__ == "MlflowException" and cls.__module__.startswith("mlflow")
        for cls in type(exc).__mro__
    )


def is_user_error(exc: BaseException) -> bool:
    """An error the user can act on: the project's own, a file problem, an MLflow store one."""
    return isinstance(exc, (LoanriskError, OSError)) or _from_mlflow(exc)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, with MLflow's kind of error named."""
    text = " ".join(str(exc).split())
    if _from_mlflow(exc):
        from loanrisk.tracking import tracking_uri  # mlflow is imported already by now

        return f"MLflow store {tracking_uri()}: {text}"
    if isinstance(exc, OSError) and not text:
        return type(exc).__name__
    return text


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it over ``path`` once writing succeeded.

    A stage that dies half-way never leaves a truncated output that DVC would cache.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def file_digest(path: str | Path, algorithm: str) -> str:
    """A file's hex digest (``md5``, ``sha256``, ...), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Make columns of mixed Python objects writable to Parquet, as text, losing no row.

    Quarantined rows may hold anything a feed sent (a string in a numeric column): they are
    kept verbatim as text rather than dropped because Parquet cannot type them.
    """
    out = frame.copy()
    for column in out.select_dtypes(include="object").columns:
        out[column] = out[column].map(lambda v: None if v is None else str(v)).astype("string")
    return out
