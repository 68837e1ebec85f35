"""Month by month: drift, data quality and (once outcomes have matured) live quality; then
one decision, with its reasons.

Pure: frames and a scoring function in, a JSON-ready report out. The offline monitor stage
(`pipelines/monitor.py`) feeds it the replayed or captured window.

Why the decision separates two kinds of trouble: a feed that sends nulls or another unit is
fixed at the feed, and retraining on it would teach the model the bug; the world moving
(incomes falling, defaults rising) is what retraining is for. So a month whose rows the
contract quarantines beyond ``contract.max_quarantine_share``, or whose drift comes from
missing values or unseen categories, names its columns as a feed problem and does not count
towards retraining.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from loanrisk.config import MonitorConfig, Params
from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.data.validation import validate_batch
from loanrisk.evaluation.policy import APPROVE, DecisionPolicy
from loanrisk.monitoring.drift import DriftReport, compare
from loanrisk.monitoring.profile import SCORE, Profile, smoothed
from loanrisk.monitoring.quality import protected_groups, quality
from loanrisk.monitoring.window import MONTH_COLUMN

Scorer = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Baseline:
    """What the monitored model achieved on its test split (reports/metrics.json).

    Quality counts as fallen when the recent ROC-AUC is below the *lower* end of the test
    ROC-AUC's 95 % interval by more than ``monitor.max_roc_auc_drop``: the test figure is one
    draw of a few thousand rows too, and comparing with its point estimate raised false
    alarms in a world that had not changed (monthly ROC-AUC 0.79-0.81 against a test 0.82).
    """

    roc_auc: float
    roc_auc_low: float
    ece: float


def assess(
    frame: pd.DataFrame,
    scorer: Scorer,
    policy: DecisionPolicy,
    profile: Profile,
    contract: pa.DataFrameSchema | None,
    dataset: Declaration,
    params: Params,
    baseline: Baseline,
    as_of: dt.date | None,
    reference: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The whole window, month by month, and the decision.

    ``scorer`` is the model judged, scoring the rows the contract accepts. ``contract``
    None: the rows were checked already (the service checks every request against the
    contract before scoring it). ``as_of`` None: an outcome counts as known once reported
    (captures joined with ``/feedback``); with a date, only outcomes older than the label
    horizon on that date (a replayed snapshot).
    """
    thresholds = params.monitor
    label = dataset.label.column
    matured_before = (
        maturity_cutoff(as_of, dataset.label.horizon_months or 0)
        if dataset.timestamp is not None and as_of is not None
        else None
    )
    months: list[dict[str, Any]] = []
    matured_rows: list[pd.DataFrame] = []
    checked = [_check(rows, contract) for _, rows in frame.groupby(MONTH_COLUMN, sort=True)]
    # One call for the whole window: per month it cost 20 times more.
    everything = pd.concat([valid for _, valid, _, _ in checked], ignore_index=True)
    all_scores = scorer(everything) if len(everything) else np.empty(0)
    bounds = np.cumsum([0, *(len(valid) for _, valid, _, _ in checked)])
    for i, (rows, valid, quarantined, failures) in enumerate(checked):
        month = rows[MONTH_COLUMN].iloc[0]
        scores = all_scores[bounds[i] : bounds[i + 1]]
        features = compare(profile, rows, thresholds, reference=reference)
        scored = compare(profile, valid, thresholds, scores=scores) if len(valid) else None
        entry: dict[str, Any] = {
            "month": str(month),
            "rows": len(rows),
            "scored": len(valid),
            "quarantined_share": quarantined,
            "quarantined_columns": sorted({f["column"] for f in failures if f.get("column")}),
            "drift": features.to_dict(),
            "score": _score_entry(scored, profile, scores, thresholds) if scored else None,
            "score_drift": bool(scored and scored.score_drift),
        }
        last_day = pd.Timestamp(str(month)) + pd.DateOffset(months=1) - pd.Timedelta(seconds=1)
        known = valid[label].notna().to_numpy(copy=True)
        if matured_before is not None:
            entry["outcomes_known"] = bool(last_day <= matured_before)
            known &= entry["outcomes_known"]
        else:
            entry["outcomes_known"] = bool(known.any())
        if known.any():
            approved = policy.decide(scores[known]) == APPROVE
            groups = protected_groups(valid[known], dataset)
            y = valid[label].to_numpy()[known].astype(int)
            entry["quality"] = quality(y, scores[known], approved, groups)
            matured_rows.append(pd.DataFrame({"month": str(month), "y": y, "p": scores[known]}))
        months.append(entry)
    decision = decide(months, matured_rows, params, baseline)
    return {
        "as_of": as_of.isoformat() if as_of is not None else None,
        "thresholds": thresholds.model_dump(mode="json"),
        "baseline": baseline.__dict__,
        "months": months,
        "decision": decision,
    }


def _score_entry(
    scored: DriftReport, profile: Profile, scores: np.ndarray, thresholds: MonitorConfig
) -> dict[str, Any]:
    """The score's drift figures and its smoothed shares per reference bin (for the plot)."""
    binned = profile.features[SCORE]
    counts = np.bincount(binned.bin_of(scores), minlength=binned.n_bins)
    entry: dict[str, Any] = scored.to_dict()["score"]
    entry["current_shares"] = smoothed(counts, thresholds.pseudo_count).tolist()
    return entry


def _check(
    rows: pd.DataFrame, contract: pa.DataFrameSchema | None
) -> tuple[pd.DataFrame, pd.DataFrame, float, list[dict[str, Any]]]:
    """The month's rows, those the contract accepts, the quarantined share and why."""
    if contract is None:
        return rows, rows, 0.0, []
    result = validate_batch(rows.drop(columns=[MONTH_COLUMN]), contract)
    return rows, result.valid, result.quarantined_share, result.failures


def decide(
    months: list[dict[str, Any]],
    matured: list[pd.DataFrame],
    params: Params,
    baseline: Baseline,
) -> dict[str, Any]:
    """Retrain or not, and why; which feed columns need fixing."""
    max_quarantine = params.contract.max_quarantine_share
    feed: dict[str, list[str]] = {}
    drift_months: list[str] = []
    reasons: list[str] = []
    for m in months:
        drift = m["drift"]
        broken_feed = m["quarantined_share"] > max_quarantine or drift["feed_problems"]
        if broken_feed:
            columns = set(drift["feed_problems"]) | set(m["quarantined_columns"])
            if m["quarantined_share"] > max_quarantine:
                columns |= set(drift["drifted_features"])
            for column in sorted(columns):
                feed.setdefault(column, []).append(m["month"])
            continue
        if drift["dataset_drift"] or m["score_drift"]:
            drift_months.append(m["month"])
    if drift_months:
        first = next(m for m in months if m["month"] == drift_months[0])
        what = first["drift"]["drifted_features"] + (["the score"] if first["score_drift"] else [])
        reasons.append(
            f"drift in {len(drift_months)} month(s) from {drift_months[0]} ({', '.join(what)})"
        )
    recent: dict[str, Any] = {}
    if matured:
        pooled = pd.concat(matured)
        window = sorted(pooled["month"].unique())[-params.monitor.quality_window_months :]
        last = pooled[pooled["month"].isin(window)]
        recent = {"months": window, **quality(last["y"].to_numpy(), last["p"].to_numpy())}
        if "roc_auc" in recent:
            floor = baseline.roc_auc_low - params.monitor.max_roc_auc_drop
            if recent["roc_auc"] < floor:
                reasons.append(
                    f"ROC-AUC {recent['roc_auc']:.3f} over {window[0]}..{window[-1]}, below "
                    f"{floor:.3f} (test interval low {baseline.roc_auc_low:.3f} - "
                    f"{params.monitor.max_roc_auc_drop})"
                )
            if recent["ece"] > params.gate.max_ece:
                reasons.append(
                    f"calibration error {recent['ece']:.3f} over {window[0]}..{window[-1]}, "
                    f"above {params.gate.max_ece}"
                )
    return {
        "retrain": bool(reasons),
        "reasons": reasons,
        "drift_months": drift_months,
        "first_drift_month": drift_months[0] if drift_months else None,
        "feed_problems": feed,
        "recent_quality": recent,
    }
