"""`make airflow-test`: run the continuous-training DAG twice with `airflow dags test`.

Usage: .venv/bin/python orchestration/airflow/check_dag.py --airflow .venv-airflow/bin/airflow
       [--dags-folder orchestration/airflow/dags] [--keep] [--tmp DIR]

In a temporary copy of the project (the files git lists, the project's ``.venv`` linked in,
the generator at the small size, as the end-to-end tests run it) after one `dvc repro`, with
``AIRFLOW_HOME`` in the same temporary directory (SQLite, no scheduler):

1. the embedded defaults: the world does not drift, so the DAG must run the monitor, keep the
   champion and skip ``retrain``;
2. ``data.scenario: recession``: the monitor must recommend retraining, the DAG take the
   ``retrain`` branch and run the real `make retrain` (params.yaml then points at the
   window's recent months, and the retrained challenger replaces the champion, as in
   tests/e2e/test_retraining.py), and ``notify`` post its line to a webhook on 127.0.0.1.

Each run's task states are read from Airflow's own database. A failed check is one line on
stderr, with the log to read, and exit status 1; the temporary directory is kept then.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "loanrisk_ct"


class CheckError(Exception):
    pass


def copy_project(target: Path) -> None:
    """The files git lists (tracked, or new and not ignored), the project's .venv linked."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if not source.is_file():  # deleted in the work tree, not yet committed
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)  # mtimes kept: make sees .venv up to date
    (target / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


def set_params(project: Path, **data: str) -> None:
    """The generator at the small size (what tests/helpers.py's small_params sets), ``data``."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["data"].update(source="generator", declaration="datasets/loans.yaml", size="small")
    params["data"].update(data)
    params["mlflow"].update(experiment=None, registered_model=None)
    params["gate"].update(fairness_attributes=["sex"], mode="enforce")
    params["gate"]["min_uplift_over_logistic"] = -0.02  # a small test split: see helpers.py
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def project_env(project: Path) -> dict[str, str]:
    """The caller's environment without its MLflow, DVC, Airflow and make settings."""
    drop = ("MLFLOW_", "DVC_", "AIRFLOW", "LOANRISK_", "MAKE", "MFLAGS")  # make's, when under it
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    for role in ("AUTHOR", "COMMITTER"):  # DVC's autostage commits nothing, but git asks
        env.setdefault(f"GIT_{role}_NAME", "airflow-test")
        env.setdefault(f"GIT_{role}_EMAIL", "airflow-test@example.org")
    return env


def run(command: list[str], cwd: Path, env: dict[str, str], log: Path, what: str) -> float:
    start = time.monotonic()
    with log.open("w") as out:
        try:
            done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        except OSError as error:
            raise CheckError(f"{what}: {error}") from None
    if done.returncode != 0:
        raise CheckError(f"{what} exited with {done.returncode} (log: {log})")
    return time.monotonic() - start


class Webhook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def last_run(home: Path) -> tuple[str, dict[str, str], str | None]:
    """The newest run of the DAG: its state, each task's state and notify's line."""
    with sqlite3.connect(home / "airflow.db") as db:
        row = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
        if row is None:
            raise CheckError(f"Airflow recorded no run of {DAG_ID}")
        run_id, state = row
        states = dict(
            db.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                (DAG_ID, run_id),
            ).fetchall()
        )
        value = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'notify'"
            " AND key = 'return_value'",
            (DAG_ID, run_id),
        ).fetchone()
    line = json.loads(value[0]) if value else None
    return state, states, line


def expect(what: str, states: dict[str, str], wanted: dict[str, str], log: Path) -> None:
    for task_id, state in wanted.items():
        if states.get(task_id) != state:
            raise CheckError(
                f"{what}: task {task_id} is {states.get(task_id)}, expected {state} "
                f"(states: {states}; log: {log})"
            )


def dags_test(
    airflow: str, env: dict[str, str], home: Path, what: str, wanted: dict[str, str]
) -> tuple[float, str]:
    log = home / f"{what.split()[0]}.log"
    try:
        took = run([airflow, "dags", "test", DAG_ID], home, env, log, f"{what}: airflow dags test")
    except CheckError:
        _, states, _ = last_run(home)
        expect(what, states, wanted, log)  # the task that went wrong, when one did
        raise
    state, states, line = last_run(home)
    expect(what, states, wanted, log)
    if state != "success" or line is None:
        raise CheckError(f"{what}: the run is {state}, notify said {line!r} (log: {log})")
    return took, line


def check(airflow: str, dags_folder: Path, work: Path) -> None:
    project, home = work / "project", work / "airflow-home"
    project.mkdir()
    home.mkdir()
    copy_project(project)
    set_params(project)
    env = project_env(project)
    took = run(["dvc", "repro"], project, env, work / "repro.log", "dvc repro (small size)")
    print(f"airflow-test: dvc repro in the copy at the small size: {took:.0f} s")

    airflow_env = {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "LOANRISK_PROJECT_DIR": str(project),
    }
    run([airflow, "db", "migrate"], home, airflow_env, home / "migrate.log", "airflow db migrate")

    quiet = {"monitor": "success", "decide": "success", "retrain": "skipped"}
    quiet |= {"keep_champion": "success", "notify": "success"}
    took, line = dags_test(airflow, airflow_env, home, "run1 (no drift)", quiet)
    if "no retraining needed" not in line:
        raise CheckError(f"run1 (no drift): notify said {line!r}")
    print(f"airflow-test: run 1, no drift: retrain skipped ({took:.0f} s): {line}")

    set_params(project, scenario="recession", scenario_start="2025-07-01")
    server = http.server.HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    airflow_env["LOANRISK_NOTIFY_URL"] = f"http://127.0.0.1:{server.server_port}/hook"
    drifting = {"monitor": "success", "decide": "success", "retrain": "success"}
    drifting |= {"keep_champion": "skipped", "notify": "success"}
    try:
        took, line = dags_test(airflow, airflow_env, home, "run2 (recession)", drifting)
    finally:
        server.shutdown()
    if not line.startswith(f"{DAG_ID} ") or "release: promoted, champion 1 -> 2" not in line:
        raise CheckError(f"run2 (recession): notify said {line!r}")
    source = yaml.safe_load((project / "params.yaml").read_text())["data"]["source"]
    if source != "data/monitoring/retrain.parquet":
        raise CheckError(f"run2 (recession): make retrain left data.source at {source!r}")
    if Webhook.received != [{"text": line}]:
        raise CheckError(f"run2 (recession): the webhook received {Webhook.received}")
    print(f"airflow-test: run 2, recession: retrained ({took:.0f} s): {line}")
    print("airflow-test: notify posted the line to the webhook; both runs passed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow", required=True, help="the airflow executable")
    parser.add_argument("--dags-folder", type=Path, default=ROOT / "orchestration/airflow/dags")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--tmp", type=Path, help="where to make it (default: the system's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loanrisk-airflow-", dir=args.tmp))
    try:
        check(str(Path(args.airflow).absolute()), args.dags_folder.absolute(), work)
    except CheckError as failed:
        print(f"airflow-test: {failed} (kept {work})", file=sys.stderr)
        sys.exit(1)
    if args.keep:
        print(f"airflow-test: kept {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
