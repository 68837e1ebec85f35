"""Continuous training of the loan default model, once a month: monitor, retrain if told, notify.

The graph is the project's own loop, run on a schedule instead of by hand:

    monitor -> decide -> retrain       -> notify
                      \\-> keep_champion -/

- ``monitor`` brings the pipeline up to the verdict (``dvc repro verdict``: nothing to do
  unless data, params or code changed) and then runs the monitor stage again
  (``dvc repro --force --single-item monitor``): the service's captures are not a DVC
  dependency, so without the force a month of new traffic would look like no change.
- ``decide`` reads the monitor's decision, ``decision.retrain`` in
  ``reports/monitoring/drift.json``, and follows ``retrain`` or ``keep_champion``; a monitor
  that judged no window (``skipped``, as after a retrain) keeps the champion.
- ``retrain`` runs ``make retrain``: the same pipeline and gate on the recent matured window.
  It rewrites params.yaml and dvc.lock in the project: review and commit them, a retrain is
  a release.
- ``notify`` logs one summary line (the decision and its reasons; after a retrain, what the
  release did: ``reports/gate.json``'s reason and the champion before and after) and, when
  ``LOANRISK_NOTIFY_URL`` (or the Variable ``loanrisk_notify_url``) is set, posts it there as
  JSON ``{"text": ...}`` (Slack and Mattermost incoming webhooks take this shape).

The DAG holds no logic of its own beyond reading that decision: every step is one of the
project's entry points, run in the project's directory with its ``.venv/bin`` first on PATH.
The project's directory is the Airflow Variable ``loanrisk_project_dir``, else the
environment variable ``LOANRISK_PROJECT_DIR``; the schedule is ``@monthly`` unless
``LOANRISK_CT_SCHEDULE`` says otherwise (any cron expression or preset). Airflow runs in its
own virtual environment (``make airflow-test``), never the project's: this file imports
nothing from the project. `tests/code/test_airflow_dag.py` checks that the make targets, DVC
stages and paths named here exist.
"""

from __future__ import annotations

import json
import os
import shlex
import urllib.request
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Variable, dag, get_current_context, task

DAG_ID = "loanrisk_ct"
MONITOR = "dvc repro verdict && dvc repro --force --single-item monitor"
RETRAIN = "make retrain"
# loanrisk.paths.DRIFT and GATE: this venv has no loanrisk (tests/code/test_airflow_dag.py)
DRIFT = "reports/monitoring/drift.json"
GATE = "reports/gate.json"
PROJECT_VARIABLE, PROJECT_ENV = "loanrisk_project_dir", "LOANRISK_PROJECT_DIR"
NOTIFY_VARIABLE, NOTIFY_ENV = "loanrisk_notify_url", "LOANRISK_NOTIFY_URL"


def setting(variable: str, env: str) -> str | None:
    """The Airflow Variable ``variable``, else the environment variable ``env``."""
    value = Variable.get(variable, default=None) or os.environ.get(env)
    return str(value) if value else None


def project_dir() -> Path:
    found = setting(PROJECT_VARIABLE, PROJECT_ENV)
    if found is None:
        raise RuntimeError(
            f"{DAG_ID}: set the Airflow Variable {PROJECT_VARIABLE} or ${PROJECT_ENV} "
            "to the loanrisk project's directory"
        )
    project = Path(found)
    if not (project / "dvc.yaml").is_file():
        raise RuntimeError(f"{DAG_ID}: {project} is not a loanrisk project (no dvc.yaml)")
    return project


def in_project(command: str) -> str:
    """``command`` in the project's directory, its virtual environment first on PATH."""
    project = shlex.quote(str(project_dir()))
    return f'cd {project} && export PATH="$PWD/.venv/bin:$PATH" && {command}'


@dag(
    dag_id=DAG_ID,
    schedule=os.environ.get("LOANRISK_CT_SCHEDULE", "@monthly"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two retrains at once would both rewrite params.yaml
    tags=["loanrisk", "continuous-training"],
    doc_md=__doc__,
)
def loanrisk_ct() -> None:
    @task.bash
    def monitor() -> str:
        return in_project(MONITOR)

    @task.branch
    def decide() -> str:
        report = json.loads((project_dir() / DRIFT).read_text())
        if "skipped" in report:
            decision = {"retrain": False, "reasons": [f"monitor skipped: {report['skipped']}"]}
        else:
            decision = {k: report["decision"][k] for k in ("retrain", "reasons")}
        get_current_context()["ti"].xcom_push(key="decision", value=decision)
        return "retrain" if decision["retrain"] else "keep_champion"

    @task.bash
    def retrain() -> str:
        return in_project(RETRAIN)

    @task(trigger_rule="none_failed_min_one_success")
    def notify() -> str:
        context: Any = get_current_context()
        ti = context["ti"]
        decision = ti.xcom_pull(task_ids="decide", key="decision")
        reasons = "; ".join(decision["reasons"]) or "no drift, quality within the gate"
        if decision["retrain"]:  # the release that ended the retrain: what the gate did
            gate = json.loads((project_dir() / GATE).read_text())
            failures = "; ".join(gate["failures"])
            line = (
                f"retrained ({reasons}); release: {gate['reason']}, champion "
                f"{gate['champion_before']} -> {gate['champion_after']}"
                + (f" (gate failures: {failures})" if failures else "")
            )
        else:
            line = f"no retraining needed ({reasons}); champion kept"
        line = f"{DAG_ID} {context['run_id']}: {line}"
        print(line)
        url = setting(NOTIFY_VARIABLE, NOTIFY_ENV)
        if url:
            if not url.startswith(("http://", "https://")):  # not the URL: it holds a token
                raise ValueError(f"{NOTIFY_VARIABLE} / {NOTIFY_ENV}: not an http(s) URL")
            body = json.dumps({"text": line}).encode()
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            # urlopen also opens file: and ftp: URLs; the scheme is checked above.
            with urllib.request.urlopen(request, timeout=30) as answer:  # nosec B310 # http(s)
                print(f"{DAG_ID}: posted to {NOTIFY_ENV} ({answer.status})")
        return line

    branch = decide()
    monitor() >> branch
    branch >> [retrain(), EmptyOperator(task_id="keep_champion")] >> notify()


loanrisk_ct()
