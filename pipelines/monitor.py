"""DVC stage `monitor`: production traffic against the model's reference profile.

Reads the production window (replayed from the generator under ``data.scenario``, or the
service's captures when ``monitor.source`` is a directory), scores it with the model this
pipeline offers for release (``models/candidate``: the stage stays a function of this
repository's files, so `dvc repro` reproduces it to the byte), and judges every month:
drift per feature and of the score, the contract's quarantine, and quality once outcomes
have matured. Then one decision, retrain or not, with its reasons
(:mod:`loanrisk.monitoring.monitor`).

Writes ``reports/monitoring/drift.json``, ``reports/monitoring/report.html`` (one
self-contained page) and ``data/monitoring/window.parquet``, what `make retrain` trains on.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from functools import partial

import pandas as pd

from loanrisk import paths, stage, tracking
from loanrisk.models.canonical import fingerprint
from loanrisk.monitoring.monitor import monitor, summary, why_not_monitored
from loanrisk.monitoring.profile import read_profile
from loanrisk.monitoring.report import render
from loanrisk.project import load_project
from loanrisk.scoring import score


def main() -> None:
    project = load_project()
    params, dataset = project.params, project.dataset
    why_not = why_not_monitored(params)
    if why_not is not None:  # say why in every output: DVC expects all three
        stage.write_json(paths.DRIFT, {"skipped": why_not})
        page = f"<!doctype html><title>Monitoring</title><p>{why_not}</p>\n"
        stage.write_text(paths.MONITORING_REPORT, page)
        stage.write_parquet(paths.WINDOW, pd.DataFrame(columns=list(dataset.all_columns)))
        print(f"monitor: skipped: {why_not}")
        return
    model, profile = tracking.load_model(paths.CANDIDATE), read_profile(paths.CANDIDATE)
    candidate = stage.read_json(paths.METRICS)["candidate"]
    scorer = partial(score, model, dataset=dataset)
    monitored = monitor(params, dataset, scorer, profile, candidate, pd.read_parquet(paths.TRAIN))
    entry = {
        "path": paths.CANDIDATE,
        "fingerprint": fingerprint(paths.CANDIDATE),
        "promoted": bool(stage.read_json(paths.VERDICT).get("passed")),
    }
    # Rounded: the drift figures' last bits depend on memory alignment (stage.rounded).
    result = stage.rounded({"model": entry, **monitored.report})
    stage.write_json(paths.DRIFT, result)
    stage.write_text(paths.MONITORING_REPORT, render(result, profile, dataset))
    stage.write_parquet(paths.WINDOW, monitored.retraining_rows(dataset))
    for line in summary(result):
        print(f"monitor: {line}")


if __name__ == "__main__":
    stage.run(main)
