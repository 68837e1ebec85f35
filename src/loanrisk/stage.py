"""What every pipeline stage and CLI command shares at its edge: one-line errors, atomic writes.

The lowest layer of the package besides `errors`: it imports no other project module, so
anything may import it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from loanrisk.errors import LoanriskError

DEBUG = "LOANRISK_DEBUG"
"""Set to 1 to see the traceback behind a one-line error."""


def run(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; an error the user can act on becomes one line and exit 1.

    That covers the project's own errors (MLflow's are translated into them where MLflow is
    called, see `tracking.store_errors`) and files that cannot be read or written. With
    ``LOANRISK_DEBUG=1`` the traceback is printed before the line.
    """
    try:
        main()
    except Exception as exc:
        if not is_user_error(exc):
            raise
        if os.environ.get(DEBUG, "") not in ("", "0"):
            traceback.print_exc()
        print(f"error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None


def is_user_error(exc: BaseException) -> bool:
    """An error the user can act on: the project's own, or a file problem."""
    return isinstance(exc, (LoanriskError, OSError))


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and not text:
        return type(exc).__name__
    return text


FILE_MODE = 0o644


TEMPORARY = ".tmp"
"""The suffix of what :func:`atomic_path` and :func:`atomic_directory` write before the
rename: ``.<name>.<random>.tmp`` beside the output."""


def remove_leftovers(path: Path) -> None:
    """Delete what a killed writer of ``path`` left beside it (its temporary file or
    directory): the next write of the same output cleans up after the one that died."""
    random = "?" * 8  # tempfile's random part: the pattern matches no other output's
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.{random}{TEMPORARY}"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it over ``path`` once writing succeeded.

    A stage that dies half-way never leaves a truncated output that DVC would cache. The file
    ends up readable by everyone (0644), as a file written with ``open`` would be: the
    temporary file is created 0600, and another user (a container's, say) must read outputs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


DIRECTORY_MODE = 0o755


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty directory beside ``path``; once the block succeeded, it replaces ``path``.

    A stage killed half-way (SIGKILL, out of memory) leaves ``path`` as it was, or, killed
    between the two renames of the swap, absent: never a directory half written, which a
    later stage would read as a model. The directory is 0755, as ``mkdir`` would make it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY))
    try:
        staged = scratch / "new"
        staged.mkdir()
        os.chmod(staged, DIRECTORY_MODE)
        yield staged
        if path.exists():
            os.replace(path, scratch / "old")
        os.replace(staged, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def rounded(payload: Any, significant: int = 10) -> Any:
    """``payload`` with every float rounded to ``significant`` digits, for reports that must
    be the same bytes from run to run. numpy's SIMD reductions (and scipy's functions built
    on them) can change the last bit of a sum with the memory alignment of their input,
    which differs between runs; ten digits is far more than any reader uses."""
    if isinstance(payload, float):
        return float(f"{payload:.{significant}g}")
    if isinstance(payload, dict):
        return {k: rounded(v, significant) for k, v in payload.items()}
    if isinstance(payload, list | tuple):
        return [rounded(v, significant) for v in payload]
    return payload


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
    for column in [c for c in out.columns if out[c].dtype == object]:  # not the str dtype
        out[column] = out[column].map(lambda v: None if v is None else str(v)).astype("string")
    return out
