"""The MLflow edge: a run whose process was killed is closed by the next stage, and a store
that refuses a write is one short line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from loanrisk import tracking
from loanrisk.errors import StoreError

EXPERIMENT = "stale-runs"

KILLED_MID_RUN = f"""
import time
import mlflow
from loanrisk import tracking

tracking.configure({EXPERIMENT!r})
with tracking.start_run(run_name="candidate"):
    mlflow.log_param("half", "logged")
    print(mlflow.active_run().info.run_id, flush=True)
    time.sleep(60)
"""


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    mlflow.set_tracking_uri(None)


def _killed_run(uri: str) -> str:
    """The id of a run whose process was killed with SIGKILL while it was logging."""
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_RUN],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    return run_id


def test_the_next_stage_marks_a_killed_processs_run_killed_and_no_other(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    killed = _killed_run(store)
    client = mlflow.MlflowClient(store)
    assert client.get_run(killed).info.status == "RUNNING"  # what SIGKILL leaves
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    # Two runs that must stay RUNNING: one of this live process, one of another host (whose
    # processes cannot be seen from here).
    live = client.create_run(experiment_id, tags=tracking.owner_tags())
    elsewhere = client.create_run(
        experiment_id, tags={tracking.HOST: "another-host", tracking.PID: "999999999"}
    )
    tracking.configure(EXPERIMENT)
    run = client.get_run(killed)
    assert run.info.status == "KILLED" and run.info.end_time is not None
    assert run.data.params == {"half": "logged"}  # what it logged stays
    assert run.data.tags[tracking.HOST] == socket.gethostname()
    assert client.get_run(live.info.run_id).info.status == "RUNNING"
    assert client.get_run(elsewhere.info.run_id).info.status == "RUNNING"
    (line,) = capsys.readouterr().out.splitlines()
    assert f"run {killed} (candidate)" in line and "marked KILLED" in line


def test_a_read_only_store_is_one_line_without_the_sql(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    tracking.configure(EXPERIMENT)
    read_only = f"sqlite:///file:{tmp_path / 'mlflow.db'}?mode=ro&uri=true"
    os.environ["MLFLOW_TRACKING_URI"] = read_only
    tracking.configure(EXPERIMENT)  # reading works
    with pytest.raises(StoreError) as raised, tracking.start_run(run_name="refused"):
        pass
    message = str(raised.value)
    assert message == (
        f"MLflow store {read_only}: (sqlite3.OperationalError) attempt to write a readonly database"
    )
    assert "Traceback" not in capfd.readouterr().err  # MLflow logs it once more, dropped
