"""Faults under the pipeline, for real: a read-only store, a stage killed with SIGKILL, the
team store's PostgreSQL restarted while training logs to it.

Each starts from a copy of one small project after one `dvc repro` and asserts what a user
sees (one line, the exit code) and what is left: the outputs' bytes, the MLflow runs'
states, the registry's versions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import psycopg
import pytest

from tests.helpers import (
    NAME,
    clean_env,
    dvc,
    free_port,
    private_postgres,
    private_postgres_absent,
    read,
    repro,
    small_project,
    tracking_server,
)

pytestmark = pytest.mark.slow

OUTPUTS = ("models", "reports", "data", "model_cards", "datasheets", "docs")
STORE_BOUND = ("reports/gate.json", "models/champion")
"""Outputs that belong to one MLflow store, not to the repository's files."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_project(tmp_path_factory.mktemp("faults"))


def _copy(project: Path, target: Path) -> Path:
    shutil.copytree(project, target, symlinks=True)
    return target


def digests(project: Path) -> dict[str, str]:
    """SHA-256 of every file the pipeline wrote, but those of the store."""
    found = {}
    for top in OUTPUTS:
        for path in sorted((project / top).rglob("*")):
            name = path.relative_to(project).as_posix()
            if path.is_file() and not name.startswith(STORE_BOUND):
                found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(project: Path) -> list[str]:
    """What a killed atomic write left behind (``.<name>.<random>.tmp``)."""
    return [
        p.relative_to(project).as_posix()
        for top in OUTPUTS
        for p in (project / top).rglob(".*.tmp")
    ]


def runs(project: Path) -> dict[str, tuple[str, str]]:
    """Run id -> (name, status) in the project's SQLite store, read with sqlite3 itself."""
    with sqlite3.connect(f"file:{project / 'mlflow.db'}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute("SELECT run_uuid, name, status FROM runs").fetchall()
    return {run_id: (name, status) for run_id, name, status in rows}


def stage_pid(project: Path, script: str) -> int | None:
    """The pid of `python pipelines/<script>` running in ``project``, if any."""
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except (OSError, ValueError):
            continue
        if f"pipelines/{script}".encode() in command and Path(cwd) == project:
            return int(entry.name)
    return None


def _dvc_in_background(project: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dvc"), *args],
        cwd=project,
        env={**clean_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def test_a_read_only_store_stops_training_in_one_line(project: Path, tmp_path: Path) -> None:
    copy = _copy(project, tmp_path / "copy")
    before, runs_before = digests(copy), runs(copy)
    read_only = f"sqlite:///file:{copy / 'mlflow.db'}?mode=ro&uri=true"
    result = dvc(
        copy, "repro", "--force", "--single-item", "train", env={"MLFLOW_TRACKING_URI": read_only}
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert error_lines(output) == [
        f"error: MLflow store {read_only}: (sqlite3.OperationalError) attempt to write a "
        "readonly database"
    ], output
    assert "Traceback" not in output and "INSERT" not in output
    assert runs(copy) == runs_before  # nothing half-logged
    # The models are what they were; DVC removed the metrics it was about to rewrite, so the
    # next `dvc repro` on a writable store trains again.
    assert {k: v for k, v in digests(copy).items() if k in before} == {
        k: v for k, v in before.items() if k != "reports/train_metrics.json"
    }
    assert "train" in dvc(copy, "status").stdout


def test_a_train_stage_killed_mid_write_is_run_again_to_the_same_bytes(
    project: Path, tmp_path: Path
) -> None:
    copy = _copy(project, tmp_path / "copy")
    before, runs_before = digests(copy), runs(copy)
    training = _dvc_in_background(copy, "repro", "--force", "--single-item", "train", env={})
    deadline = time.monotonic() + 300
    pid = None
    while time.monotonic() < deadline and training.poll() is None:
        pid = pid or stage_pid(copy, "train.py")
        if pid and any(status == "RUNNING" for _, status in runs(copy).values()):
            break
        time.sleep(0.2)
    assert pid is not None and training.poll() is None, "the train stage never logged a run"
    os.kill(pid, signal.SIGKILL)  # mid-run: a model saved, its run logging
    output = training.communicate(timeout=120)[0]
    assert training.returncode != 0, output
    (killed,) = [run for run, (_, status) in runs(copy).items() if status == "RUNNING"]

    started = time.monotonic()
    result = repro(copy)  # what a user runs next
    took = time.monotonic() - started
    assert "Running stage 'train'" in result.stdout  # the killed stage is not taken as done
    assert f"run {killed} (rule) of train, process {pid} which is gone, marked KILLED" in (
        result.stdout
    )
    assert digests(copy) == before, "the re-run did not reproduce the same bytes"
    assert leftovers(copy) == []
    after = runs(copy)
    assert after[killed][1] == "KILLED"
    assert [run for run, (_, status) in after.items() if status == "RUNNING"] == []
    new = {run: name for run, (name, _) in after.items() if run not in runs_before}
    assert sorted(new.values()) == ["candidate", "logistic", "rule", "rule"]  # + the killed
    assert "up to date" in dvc(copy, "status").stdout
    print(f"recovery `dvc repro` took {took:.0f} s")


def test_a_release_refused_half_way_is_run_again_by_the_next_repro(
    project: Path, tmp_path: Path
) -> None:
    copy = _copy(project, tmp_path / "copy")
    before = digests(copy)
    nobody = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}
    result = dvc(copy, "repro", "--force", "--single-item", "release", env=nobody)
    assert result.returncode != 0
    assert len(error_lines(result.stdout + result.stderr)) == 1
    # What was offered is written last: without it DVC does not take the release as done
    # (it is a persist output, which DVC itself would have left in place).
    assert not (copy / "reports/release.json").exists()
    assert "release" in dvc(copy, "status").stdout
    assert "Running stage 'release'" in repro(copy).stdout
    assert digests(copy) == before


@pytest.mark.skipif(private_postgres_absent() is not None, reason=str(private_postgres_absent()))
def test_postgresql_restarted_under_the_tracking_server_while_training(
    project: Path, tmp_path: Path
) -> None:
    copy = _copy(project, tmp_path / "copy")
    with private_postgres() as postgres:
        with psycopg.connect(postgres.uri, autocommit=True) as admin:
            admin.execute("CREATE DATABASE mlflow")
        backend = postgres.uri.rsplit("/", 1)[0] + "/mlflow"
        log = tmp_path / "mlflow-server.log"
        with tracking_server(backend, tmp_path / "artifacts", log) as server:
            env = {"MLFLOW_TRACKING_URI": server.url}
            client = mlflow.MlflowClient(tracking_uri=server.url)
            train = ("repro", "--force", "--single-item", "train")
            running = _dvc_in_background(copy, *train, env=env)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and running.poll() is None:
                experiment = client.get_experiment_by_name("loan-default")
                if experiment and client.search_runs(
                    [experiment.experiment_id], "attributes.status = 'RUNNING'"
                ):
                    break
                time.sleep(0.5)
            assert running.poll() is None, "training never logged a run"
            postgres.restart(down_s=3)  # every connection of the server's pool is closed
            output = running.communicate(timeout=600)[0]
            if running.returncode != 0:  # a clear error; then the re-run completes
                assert len(error_lines(output)) == 1, output
                assert error_lines(output)[0].startswith(f"error: MLflow store {server.url}")
                assert "Traceback" not in output
                repro(copy, "--single-item", "train", env=env)
            # The release registers the candidate that train logged through the restart.
            repro(copy, "--force", "--single-item", "release", env=env)
            experiment = client.get_experiment_by_name("loan-default")
            assert experiment is not None
            found = client.search_runs([experiment.experiment_id])
            versions = client.search_model_versions(f"name = '{NAME}'")
            champion = client.get_model_version_by_alias(NAME, "champion")
    print(f"dvc repro exited {running.returncode} after the restart:\n{output[-1500:]}")
    # The restart reached the server's requests (it answered 500 while PostgreSQL was down;
    # the client's retries, tracking.FAIL_FAST, carried them over).
    assert "Connection refused" in log.read_text(), "the restart fell between requests"
    assert [run.info.run_name for run in found if run.info.status == "RUNNING"] == []
    # One version, registered whole: ready, with what it was made of, and crowned.
    (version,) = versions
    assert version.status == "READY"
    assert {"fingerprint", "policy", "run_id", "git_commit"} <= set(version.tags)
    assert champion.version == version.version
    assert str(read(copy, "reports/gate.json")["champion_after"]) == str(version.version)
