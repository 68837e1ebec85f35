"""DVC stage `monitor`: production traffic against the model's reference profile.

Reads the production window (replayed from the generator under ``data.scenario``, or the
service's captures when ``monitor.source`` is a directory), scores it with the model this
pipeline released (``models/candidate``, the champion once the gate passed: the stage stays a
function of this repository's files, so `dvc repro` reproduces it to the byte), and judges
every month: drift per feature and of the score, the contract's quarantine, and quality once
outcomes have matured. Then one decision, retrain or not, with its reasons.

Writes ``reports/monitoring/drift.json`` and ``reports/monitoring/report.html`` (one
self-contained page), and, for a replay, ``data/monitoring/window.parquet``: the window as
ingest would see it on the monitoring date (contract-valid rows, outcomes younger than the
label horizon unknown), which is what `make retrain` trains on.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import pandas as pd

from loanrisk import stage, tracking
from loanrisk.data.contract import build_contract
from loanrisk.data.validation import validate_batch
from loanrisk.evaluation.policy import DecisionPolicy
from loanrisk.models.canonical import fingerprint
from loanrisk.monitoring.assess import Baseline, assess
from loanrisk.monitoring.profile import read_profile
from loanrisk.monitoring.report import render
from loanrisk.monitoring.window import (
    MONTH_COLUMN,
    from_captures,
    monitoring_as_of,
    replay,
)
from loanrisk.project import load_project
from loanrisk.scoring import score

MODEL = "models/candidate"
DRIFT = "reports/monitoring/drift.json"
REPORT = "reports/monitoring/report.html"
WINDOW = "data/monitoring/window.parquet"


def skip(why: str, columns: list[str]) -> None:
    """No production traffic to judge: say why in every output (DVC expects all three)."""
    stage.write_json(DRIFT, {"skipped": why})
    stage.write_text(REPORT, f"<!doctype html><title>Monitoring</title><p>{why}</p>\n")
    stage.write_parquet(WINDOW, pd.DataFrame(columns=columns))
    print(f"monitor: skipped: {why}")


def main() -> None:
    project = load_project()
    params, dataset = project.params, project.dataset
    if params.monitor.source == "generator" and params.data.source != "generator":
        skip(
            "the generator replays production only for its own data; set monitor.source to "
            "the service's capture directory (captures) to monitor this dataset",
            list(dataset.all_columns),
        )
        return
    model = tracking.load_model(MODEL)
    profile = read_profile(MODEL)
    evaluated = stage.read_json("reports/metrics.json")["candidate"]
    verdict = stage.read_json("reports/verdict.json")
    policy = DecisionPolicy(**evaluated["policy"])
    baseline = Baseline(
        roc_auc=evaluated["test"]["roc_auc"],
        roc_auc_low=evaluated["roc_auc_ci95"]["low"],
        ece=evaluated["test"]["ece"],
    )
    reference = pd.read_parquet("data/splits/train.parquet")
    as_of = monitoring_as_of(params)
    contract = build_contract(dataset)
    replayed = params.monitor.source == "generator"
    if replayed:
        frame = replay(params, dataset.label.horizon_months or 0)
        result = assess(
            frame,
            lambda rows: score(model, rows, dataset),
            policy,
            profile,
            contract,
            dataset,
            params,
            baseline,
            as_of,
            reference=reference,
        )
    else:
        frame = from_captures(params.monitor.source, dataset)
        result = assess(
            frame, None, policy, profile, None, dataset, params, baseline, as_of, reference
        )
    result = {
        "model": {
            "path": MODEL,
            "fingerprint": fingerprint(MODEL),
            "promoted": bool(verdict.get("passed")),
        },
        "source": params.monitor.source,
        "scenario": params.data.scenario if replayed else None,
        **result,
    }
    # Rounded: the drift figures' last bits depend on memory alignment (stage.rounded).
    result = stage.rounded(result)
    stage.write_json(DRIFT, result)
    stage.write_text(REPORT, render(result, profile, dataset))
    if replayed:
        valid = validate_batch(frame.drop(columns=[MONTH_COLUMN]), contract).valid
        stage.write_parquet(WINDOW, valid)
    decision = result["decision"]
    verdict_line = "retrain recommended" if decision["retrain"] else "no retraining needed"
    print(f"monitor: {len(result['months'])} months, {verdict_line}")
    for reason in decision["reasons"]:
        print(f"monitor:   {reason}")
    for column, months in decision["feed_problems"].items():
        print(f"monitor:   fix the feed: {column} ({months[0]}..{months[-1]})")


if __name__ == "__main__":
    stage.run(main)
