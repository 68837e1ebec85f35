"""Evaluate one fitted model on the out-of-time test split: every measure the gate reads.

Pure: the model and the splits in, a JSON-ready report and plot data out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.contract import LABEL
from loanrisk.evaluation import curves
from loanrisk.evaluation.behaviour import run_behaviour_tests
from loanrisk.evaluation.fairness import age_band, fairness_report
from loanrisk.evaluation.metrics import bootstrap_roc_auc, headline_metrics
from loanrisk.evaluation.policy import choose_policy, policy_metrics
from loanrisk.evaluation.slices import slice_report
from loanrisk.models.train import score

SLICES = ("loan_purpose", "region", "employment_type", "age_band", "sex")
FAIRNESS_GROUPS = ("sex", "age_band")


@dataclass(frozen=True)
class Evaluation:
    report: dict[str, Any]
    plots: dict[str, list[dict[str, Any]]]


def with_age_band(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(age_band=age_band(frame["age"]))


def evaluate_model(
    model: Any, valid: pd.DataFrame, test: pd.DataFrame, params: Params
) -> Evaluation:
    """Measure ``model`` on ``test``; the decision policy is chosen on ``valid``."""
    problem, cfg = params.problem, params.evaluate
    y = test[LABEL].to_numpy(dtype=int)
    p = score(model, test)
    policy = choose_policy(
        score(model, valid),
        problem.cost_approve_default,
        problem.cost_reject_good,
        problem.target_referral_rate,
    )
    lo, hi = bootstrap_roc_auc(y, p, cfg.bootstrap_samples, params.seed)
    banded = with_age_band(test)
    behaviour = run_behaviour_tests(
        model, test, policy.threshold, cfg.behaviour_tolerance, params.seed
    )
    report = {
        "test": headline_metrics(y, p, cfg.calibration_bins),
        "roc_auc_ci95": {"low": lo, "high": hi},
        "policy": policy.as_dict(),
        "decisions": policy_metrics(
            y, p, policy, problem.cost_approve_default, problem.cost_reject_good
        ),
        "slices": {
            column: slice_report(
                y, p, policy.threshold, banded[column], cfg.min_slice_size, cfg.calibration_bins
            )
            for column in SLICES
        },
        "fairness": {
            column: fairness_report(y, p, policy.threshold, banded[column])
            for column in FAIRNESS_GROUPS
        },
        "behaviour": {
            r.name: {"kind": r.kind, "passed": r.passed, "detail": r.detail} for r in behaviour
        },
        "behaviour_passed": all(r.passed for r in behaviour),
    }
    plots = {
        "roc": curves.roc_points(y, p),
        "precision_recall": curves.pr_points(y, p),
        "calibration": curves.calibration_points(y, p, cfg.calibration_bins),
        "confusion": curves.confusion_rows(y, policy.decide(p)),
    }
    return Evaluation(report=report, plots=plots)
