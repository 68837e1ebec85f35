"""Captured applications as personal data (`src/loanrisk/monitoring/captures.py`): day files
past the retention are deleted, one application's records can be erased, and erasing while
the service writes loses no other record."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from loanrisk.monitoring.captures import FEEDBACK, PREDICTIONS, append, erase, expire, expired
from serving import capture
from serving.capture import Capture, read_jsonl
from tests.helpers import LOANS, ROOT

ID = LOANS.id.column
TODAY = dt.date(2026, 3, 31)


def day_file(root: Path, folder: str, day: dt.date, records: list[dict[str, object]]) -> Path:
    path = root / folder / f"{day:%Y-%m-%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_day_files_older_than_the_retention_are_deleted_and_no_others(tmp_path: Path) -> None:
    days = [TODAY - dt.timedelta(days=n) for n in (0, 29, 30, 31, 400)]
    for day in days:
        day_file(tmp_path, PREDICTIONS, day, [{ID: "A"}])
        day_file(tmp_path, FEEDBACK, day, [{"id": "A", "outcome": 1}])
    (tmp_path / PREDICTIONS / "notes.txt").write_text("not a day file")
    old = {p.name for p in expired(tmp_path, 30, TODAY)}
    assert old == {"2026-02-28.jsonl", "2025-02-24.jsonl"}
    assert len(expire(tmp_path, 30, TODAY)) == 4  # both folders
    left = sorted(p.name for p in (tmp_path / PREDICTIONS).iterdir())
    assert left == ["2026-03-01.jsonl", "2026-03-02.jsonl", "2026-03-31.jsonl", "notes.txt"]


def test_the_service_expires_at_start_and_at_a_new_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": dt.datetime(2026, 3, 31, 23, 59, tzinfo=dt.UTC)}
    monkeypatch.setattr(capture, "now", lambda: clock["now"])
    day_file(tmp_path, PREDICTIONS, dt.date(2026, 2, 28), [{ID: "31 days old"}])
    day_file(tmp_path, PREDICTIONS, dt.date(2026, 3, 1), [{ID: "30 days old: kept a day more"}])
    service = Capture(tmp_path, 1.0, 100, interval=3600, retention_days=30)
    try:
        names = {p.name for p in (tmp_path / PREDICTIONS).iterdir()}
        assert names == {"2026-03-01.jsonl"}
        clock["now"] = dt.datetime(2026, 4, 1, 0, 1, tzinfo=dt.UTC)
        service.offer([{ID: "new"}])
        service.flush()
        names = {p.name for p in (tmp_path / PREDICTIONS).iterdir()}
        assert names == {"2026-04-01.jsonl"}
    finally:
        service.close()


def test_erasure_removes_every_record_of_one_application_and_counts_them(tmp_path: Path) -> None:
    day_file(tmp_path, PREDICTIONS, TODAY, [{ID: "A1"}, {ID: "B2"}, {ID: "A1"}])
    day_file(tmp_path, FEEDBACK, TODAY, [{"id": "A1", "outcome": 0}, {"id": "B2", "outcome": 1}])
    untouched = day_file(tmp_path, PREDICTIONS, TODAY - dt.timedelta(days=1), [{ID: "B2"}])
    before = untouched.stat().st_mtime_ns
    assert erase(tmp_path, "A1", ID) == 3
    assert erase(tmp_path, "A1", ID) == 0
    kept = [r for p in sorted(tmp_path.glob("*/*.jsonl")) for r in read_jsonl(p)]
    assert kept == [{"id": "B2", "outcome": 1}, {ID: "B2"}, {ID: "B2"}]
    assert untouched.stat().st_mtime_ns == before  # nothing to remove: not rewritten


def test_a_writer_holding_the_old_file_writes_to_the_rewritten_one(tmp_path: Path) -> None:
    """The service keeps today's file open; erasure renames a new file over it. The next
    write must land in the new file, not in the replaced one nobody will read again."""
    path = tmp_path / PREDICTIONS / f"{TODAY:%Y-%m-%d}.jsonl"
    handle = append(None, path, (json.dumps({ID: "X"}) + "\n").encode())
    assert erase(tmp_path, "X", ID) == 1
    handle = append(handle, path, (json.dumps({ID: "K"}) + "\n").encode())
    handle.close()
    assert read_jsonl(path) == [{ID: "K"}]


def test_erasing_while_the_service_writes_loses_no_other_record(tmp_path: Path) -> None:
    path = tmp_path / PREDICTIONS / f"{TODAY:%Y-%m-%d}.jsonl"
    written = 3000

    def write() -> None:
        handle = None
        for i in range(written):
            line = json.dumps({ID: "X" if i % 7 == 0 else f"K{i}"}) + "\n"
            handle = append(handle, path, line.encode())
        if handle is not None:
            handle.close()

    writer = threading.Thread(target=write)
    writer.start()
    erased = 0
    while writer.is_alive():
        erased += erase(tmp_path, "X", ID)
    writer.join()
    erased += erase(tmp_path, "X", ID)
    ids = [r[ID] for r in read_jsonl(path)]
    assert erased == len(range(0, written, 7)) and "X" not in ids
    assert ids == [f"K{i}" for i in range(written) if i % 7]


def test_loanrisk_erase_says_how_many_it_removed(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    day_file(captures, PREDICTIONS, TODAY, [{ID: "A1"}, {ID: "B2"}])
    day_file(captures, FEEDBACK, TODAY, [{"id": "A1", "outcome": 0}])
    params = ["--params", str(ROOT / "params.yaml")]
    cli = [sys.executable, "-m", "loanrisk.cli", "erase"]
    done = subprocess.run(
        [*cli, "A1", "--captures", str(captures), *params],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"erased 2 records of A1 in {captures}"
    missing = subprocess.run(
        [*cli, "A1", "--captures", str(tmp_path / "nowhere"), *params],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no such capture directory" in missing.stderr
