"""The service's capture directory as files: its layout, how long it keeps them, and erasure.

Captured applications are personal data. The service writes one JSON Lines file per UTC day
under ``predictions/`` (what it was asked and answered) and ``feedback/`` (the outcomes
reported later); the monitor and `make retrain` read them back. Two duties come with that:

- **retention**: :func:`expire` deletes the day files older than a number of days (the
  service calls it at start and at each new day when ``LOANRISK_CAPTURE_RETENTION_DAYS``
  is set);
- **erasure**: :func:`erase` removes every record of one application id from every file
  (`loanrisk erase <id>`), and says how many it removed.

Erasure rewrites a file while the service may be appending to it. Both sides hold an
exclusive ``flock`` on the file while they touch it, and a writer that finds the path now
names another file (the rewritten one) opens that before it writes (:func:`append`), so no
record is written to a file that was replaced, and none is lost.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
FOLDERS = (PREDICTIONS, FEEDBACK)
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")
FEEDBACK_ID = "id"
"""The field that names the application in a feedback record (predictions use the
dataset's own id column)."""


def day_files(directory: str | Path) -> list[Path]:
    """Every day file of the capture directory, oldest first within each folder."""
    root = Path(directory)
    return [
        path
        for folder in FOLDERS
        for path in sorted((root / folder).glob("*.jsonl"))
        if DAY_FILE.match(path.name)
    ]


def expired(directory: str | Path, keep_days: int, today: dt.date) -> list[Path]:
    """The day files older than ``keep_days`` days before ``today`` (today's file and the
    ``keep_days`` before it are kept)."""
    oldest = today - dt.timedelta(days=keep_days)
    found = []
    for path in day_files(directory):
        match = DAY_FILE.match(path.name)
        if match and dt.date.fromisoformat(match[1]) < oldest:
            found.append(path)
    return found


def expire(directory: str | Path, keep_days: int, today: dt.date) -> list[Path]:
    """Delete the :func:`expired` day files; the ones deleted."""
    gone = expired(directory, keep_days, today)
    for path in gone:
        with locked(path):
            path.unlink(missing_ok=True)
    return gone


def erase(directory: str | Path, application_id: str, id_column: str) -> int:
    """Remove every record of ``application_id`` from every day file; how many went.

    A prediction names the application in ``id_column``, an outcome in ``id``. Each file is
    rewritten beside itself and renamed over it, under its lock; a file with nothing to
    remove is left as it is. A line that is not JSON (a write torn by a full disk) is kept
    unless it names the id.
    """
    removed = 0
    for path in day_files(directory):
        key = FEEDBACK_ID if path.parent.name == FEEDBACK else id_column
        with locked(path):
            lines = path.read_bytes().splitlines(keepends=True)
            kept = [line for line in lines if not _names(line, key, application_id)]
            if len(kept) == len(lines):
                continue
            temporary = path.with_name(f".{path.name}.erasing")
            temporary.write_bytes(b"".join(kept))
            os.replace(temporary, path)
            removed += len(lines) - len(kept)
    return removed


def _names(line: bytes, key: str, application_id: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return application_id.encode() in line
    return isinstance(record, dict) and str(record.get(key)) == application_id


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file at ``path`` (none when it does not exist)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def append(handle: IO[bytes] | None, path: Path, data: bytes) -> IO[bytes]:
    """Append ``data`` to the file at ``path`` under its lock, through ``handle`` when it
    is still that file, else through a new handle (the file was erased from and replaced,
    or expired); the handle used, to keep for the next write.

    All or nothing: a write the disk refuses half-way (full, gone read-only) is cut back to
    where it started before the error is raised, so the file never holds a torn line that
    would make every later reader fail, and what the writer counts as dropped is not on disk.
    """
    while True:
        if handle is None or handle.closed:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("ab", buffering=0)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if _same_file(handle, path):
                _write_whole(handle, data)
                return handle
        finally:
            if not handle.closed:
                fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _write_whole(handle: IO[bytes], data: bytes) -> None:
    fd = handle.fileno()
    start = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        with suppress(OSError):
            os.ftruncate(fd, start)
        raise


def _same_file(handle: IO[bytes], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
