"""Capture on a disk that fills up (`serving/capture.py`): a real, tiny tmpfs as the capture
directory. Requests are still answered, what was dropped is counted, what is on disk is whole
lines that the monitor reads, and an outcome the disk refuses is a 503, never a 500."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from loanrisk.monitoring.captures import PREDICTIONS
from loanrisk.monitoring.window import from_captures
from serving.app import create_app
from serving.capture import Capture, read_jsonl
from tests.helpers import LOANS, Store, application, settings


def counted(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: full after a few hundred captured applications."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_drops_whole_records_counted_and_leaves_no_torn_line(
    tiny_disk: Path, splits: dict[str, pd.DataFrame]
) -> None:
    rows = [application(splits["test"], i % 500) for i in range(2000)]
    written, dropped = (
        counted("loanrisk_capture_written_total"),
        counted("loanrisk_capture_dropped_total"),
    )
    capture = Capture(tiny_disk, 1.0, 10_000, interval=3600)
    try:
        for start in range(0, len(rows), 50):
            capture.offer(
                [{**r, "at": "2026-03-31T12:00:00.000000+00:00"} for r in rows[start : start + 50]]
            )
            capture.flush()
    finally:
        capture.close()
    (day,) = (tiny_disk / PREDICTIONS).glob("*.jsonl")
    on_disk = read_jsonl(day)  # every line parses: nothing torn
    assert day.read_bytes().endswith(b"\n")
    newly_written = counted("loanrisk_capture_written_total") - written
    newly_dropped = counted("loanrisk_capture_dropped_total") - dropped
    assert 0 < len(on_disk) < len(rows)
    assert (newly_written, newly_dropped) == (len(on_disk), len(rows) - len(on_disk))
    frame = from_captures(tiny_disk, LOANS)  # the monitor reads what was kept
    assert len(frame) == len({r[LOANS.id.column] for r in on_disk})


def test_with_the_disk_full_predictions_are_answered_and_outcomes_get_503(
    store: Store, tiny_disk: Path, splits: dict[str, pd.DataFrame]
) -> None:
    with (tiny_disk / "filler").open("wb", buffering=0) as filler:
        while True:  # fill the disk to its last byte
            try:
                filler.write(b"x" * 512)
            except OSError:
                break
    with TestClient(create_app(settings(store, tiny_disk.parent, capture_dir=tiny_disk))) as c:
        for i in range(30):
            assert c.post("/predict", json=application(splits["test"], i)).status_code == 200
        outcome = {"id": application(splits["test"], 0)[LOANS.id.column], "outcome": 1}
        response = c.post("/feedback", json=outcome)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "the outcome could not be recorded"
        assert "No space left" in response.json()["detail"]
        assert response.headers["retry-after"] == "1"
        assert c.get("/health/live").status_code == 200
