"""The offline monitor as one function: which window, scored by which model, judged how.

Shared by the `monitor` stage (`pipelines/monitor.py`, which adds the model's identity and
writes the files) and by anything else that needs the same report from a model in memory
(the documentation tests build a card's monitoring section this way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.contract import build_contract
from loanrisk.data.declaration import Declaration
from loanrisk.data.validation import validate_batch
from loanrisk.evaluation.policy import DecisionPolicy
from loanrisk.monitoring.assess import Baseline, Scorer, assess
from loanrisk.monitoring.profile import Profile
from loanrisk.monitoring.window import (
    MONTH_COLUMN,
    VERSION_COLUMN,
    as_dataset_rows,
    from_captures,
    monitoring_as_of,
    replay,
)
from loanrisk.stage import parquet_safe

NOT_REPLAYABLE = (
    "data.source is a file, and the generator replays production only for a model trained "
    "on its own draws (data.source: generator); to monitor this model, point monitor.source "
    "at the service's capture directory (captures)"
)


@dataclass(frozen=True)
class Monitored:
    """The report (JSON-ready) and the window it judged (``replayed``: drawn by the generator,
    so the stage keeps it for `make retrain`)."""

    report: dict[str, Any]
    window: pd.DataFrame
    replayed: bool

    def retraining_rows(self, dataset: Declaration) -> pd.DataFrame:
        """The window as `make retrain` reads it: for a replay, the contract-valid rows as
        ingest would see them on the monitoring date (outcomes younger than the label
        horizon unknown); for captures, every captured application as a dataset row,
        stamped when it arrived, with the outcomes reported so far."""
        if self.replayed:
            rows = self.window.drop(columns=[MONTH_COLUMN])
            return validate_batch(rows, build_contract(dataset)).valid
        return parquet_safe(as_dataset_rows(self.window, dataset))


def summary(report: dict[str, Any]) -> list[str]:
    """The monitor's decision in a few lines: the verdict, its reasons, the broken feeds."""
    decision = report["decision"]
    verdict = "retrain recommended" if decision["retrain"] else "no retraining needed"
    n = len(report["months"])
    lines = [f"{n} month{'' if n == 1 else 's'}, {verdict}"]
    lines += [f"  {reason}" for reason in decision["reasons"]]
    lines += [
        f"  fix the feed: {column} ({months[0]}..{months[-1]})"
        for column, months in decision["feed_problems"].items()
    ]
    return lines


def served_by(captured: pd.DataFrame) -> dict[str, int]:
    """How many captured predictions each model version made."""
    if VERSION_COLUMN not in captured:
        return {}
    counts = captured[VERSION_COLUMN].astype(str).value_counts().sort_index()
    return {str(version): int(n) for version, n in counts.items()}


def why_not_monitored(params: Params) -> str | None:
    """Why this project has no production window to judge, or None when it has one."""
    if params.monitor.source == "generator" and params.data.source != "generator":
        return NOT_REPLAYABLE
    return None


def monitor(
    params: Params,
    dataset: Declaration,
    scorer: Scorer,
    profile: Profile,
    evaluated: dict[str, Any],
    reference: pd.DataFrame,
) -> Monitored:
    """Judge the production window against ``profile``, month by month, and decide.

    ``evaluated`` is the model's entry of reports/metrics.json: its policy and the test
    figures live quality is compared with. Every row is scored by ``scorer``, the model
    judged, captured rows too: the service may have answered them with another version (a
    previous champion, a canary), and the question is how this model does on that traffic.
    Which versions answered is reported (``served_by``); where it was this model, the
    service's scores are this model's to 1e-9 (tests/serving/test_monitor.py).
    """
    policy = DecisionPolicy(**evaluated["policy"])
    baseline = Baseline(
        roc_auc=evaluated["test"]["roc_auc"],
        roc_auc_low=evaluated["roc_auc_ci95"]["low"],
        ece=evaluated["test"]["ece"],
    )
    replayed = params.monitor.source == "generator"
    if replayed:
        frame = replay(params, dataset.label.horizon_months or 0)
        contract = build_contract(dataset)
        as_of = monitoring_as_of(params)
        result = assess(
            frame, scorer, policy, profile, contract, dataset, params, baseline, as_of, reference
        )
    else:  # an outcome is known once /feedback reported it
        frame = from_captures(params.monitor.source, dataset)
        result = assess(
            frame, scorer, policy, profile, None, dataset, params, baseline, None, reference
        )
    report = {
        "source": params.monitor.source,
        "scenario": params.data.scenario if replayed else None,
        "served_by": None if replayed else served_by(frame),
        **result,
    }
    return Monitored(report, frame, replayed)
