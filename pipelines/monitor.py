"""DVC stage `monitor`: production traffic against the model's reference profile.

Reads the production window (replayed from the generator under ``data.scenario``, or the
service's captures when ``monitor.source`` is a directory), scores it with the model this
pipeline released (``models/candidate``, the champion once the gate passed: the stage stays a
function of this repository's files, so `dvc repro` reproduces it to the byte), and judges
every month: drift per feature and of the score, the contract's quarantine, and quality once
outcomes have matured. Then one decision, retrain or not, with its reasons.

Writes ``reports/monitoring/drift.json`` and ``reports/monitoring/report.html`` (one
self-contained page), and ``data/monitoring/window.parquet``: for a replay the window as
ingest would see it on the monitoring date (contract-valid rows, outcomes younger than the
label horizon unknown), which is what `make retrain` trains on; for captures every
captured application as a dataset row (stamped when it arrived), outcomes reported so far.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import pandas as pd

from loanrisk import stage, tracking
from loanrisk.data.contract import build_contract
from loanrisk.data.validation import validate_batch
from loanrisk.models.canonical import fingerprint
from loanrisk.monitoring.monitor import monitor, why_not_monitored
from loanrisk.monitoring.profile import read_profile
from loanrisk.monitoring.report import render
from loanrisk.monitoring.window import MONTH_COLUMN, as_dataset_rows
from loanrisk.paths import CANDIDATE, DRIFT, METRICS, MONITORING_REPORT, TRAIN, VERDICT, WINDOW
from loanrisk.project import load_project
from loanrisk.scoring import score


def skip(why: str, columns: list[str]) -> None:
    """No production traffic to judge: say why in every output (DVC expects all three)."""
    stage.write_json(DRIFT, {"skipped": why})
    stage.write_text(MONITORING_REPORT, f"<!doctype html><title>Monitoring</title><p>{why}</p>\n")
    stage.write_parquet(WINDOW, pd.DataFrame(columns=columns))
    print(f"monitor: skipped: {why}")


def main() -> None:
    project = load_project()
    params, dataset = project.params, project.dataset
    why_not = why_not_monitored(params)
    if why_not is not None:
        skip(why_not, list(dataset.all_columns))
        return
    model = tracking.load_model(CANDIDATE)
    profile = read_profile(CANDIDATE)
    verdict = stage.read_json(VERDICT)
    monitored = monitor(
        params,
        dataset,
        lambda rows: score(model, rows, dataset),
        profile,
        stage.read_json(METRICS)["candidate"],
        pd.read_parquet(TRAIN),
    )
    model_entry = {
        "path": CANDIDATE,
        "fingerprint": fingerprint(CANDIDATE),
        "promoted": bool(verdict.get("passed")),
    }
    # Rounded: the drift figures' last bits depend on memory alignment (stage.rounded).
    result = stage.rounded({"model": model_entry, **monitored.report})
    stage.write_json(DRIFT, result)
    stage.write_text(MONITORING_REPORT, render(result, profile, dataset))
    window = monitored.window
    if monitored.replayed:
        window = validate_batch(window.drop(columns=[MONTH_COLUMN]), build_contract(dataset)).valid
    else:  # the applications as sent, stamped when they arrived, outcomes reported so far
        window = stage.parquet_safe(as_dataset_rows(window, dataset))
    stage.write_parquet(WINDOW, window)
    decision = result["decision"]
    verdict_line = "retrain recommended" if decision["retrain"] else "no retraining needed"
    n = len(result["months"])
    print(f"monitor: {n} month{'' if n == 1 else 's'}, {verdict_line}")
    for reason in decision["reasons"]:
        print(f"monitor:   {reason}")
    for column, months in decision["feed_problems"].items():
        print(f"monitor:   fix the feed: {column} ({months[0]}..{months[-1]})")


if __name__ == "__main__":
    stage.run(main)
