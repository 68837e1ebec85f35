"""Prediction capture and feedback: what monitoring and retraining read back.

Predictions are written off the request path: the handler puts a record on a bounded queue
and returns; one writer thread appends JSON Lines files (one per UTC day) under the capture
directory. When the queue is full the record is counted as dropped, never waited for: a slow
disk must not slow the service. Feedback (an observed outcome) is rare and must not be lost,
so it is appended synchronously, under a lock, to its own file.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import threading
from pathlib import Path
from typing import Any

from serving import metrics

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
_STOP = object()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Capture:
    """A bounded queue and its writer thread; ``sample`` is the share of requests kept."""

    def __init__(self, directory: Path, sample: float, size: int, seed: int | None = None) -> None:
        self.directory = directory
        self.sample = sample
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=size)
        self._random = random.Random(seed)
        self._feedback_lock = threading.Lock()
        self._thread = threading.Thread(target=self._write_forever, name="capture", daemon=True)
        self._thread.start()

    def wanted(self) -> bool:
        """Whether this request is in the sample (decided before building the record)."""
        return self.sample >= 1 or (self.sample > 0 and self._random.random() < self.sample)

    def offer(self, records: list[dict[str, Any]]) -> None:
        """Queue prediction records; drop (and count) them if the queue is full."""
        try:
            self._queue.put_nowait(records)
        except queue.Full:
            metrics.CAPTURE_DROPPED.inc(len(records))

    def feedback(self, record: dict[str, Any]) -> None:
        """Append one outcome now: the caller is told only once it is on disk."""
        path = self._file(FEEDBACK, now())
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._feedback_lock, path.open("a") as handle:
            handle.write(line)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued record is written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self.flush()
        self._queue.put(_STOP)
        self._thread.join(timeout=5)

    def _file(self, kind: str, when: dt.datetime) -> Path:
        folder = self.directory / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{when:%Y-%m-%d}.jsonl"

    def _write_forever(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                path = self._file(PREDICTIONS, now())
                with path.open("a") as handle:
                    for record in item:
                        handle.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
                metrics.CAPTURED.inc(len(item))
            except OSError:
                metrics.CAPTURE_DROPPED.inc(len(item))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of one capture file (for monitoring and tests)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line]
