"""Evaluate one fitted model on the test split: every measure the gate reads.

Pure: the model, the declaration and the splits in, a JSON-ready report and plot data out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation import curves
from loanrisk.evaluation.behaviour import run_behaviour_tests
from loanrisk.evaluation.fairness import fairness_report
from loanrisk.evaluation.metrics import bootstrap_roc_auc, headline_metrics
from loanrisk.evaluation.policy import choose_policy, policy_metrics
from loanrisk.evaluation.slices import slice_report
from loanrisk.scoring import labels, score


@dataclass(frozen=True)
class Evaluation:
    report: dict[str, Any]
    plots: dict[str, list[dict[str, Any]]]


def evaluate_model(
    model: Any, valid: pd.DataFrame, test: pd.DataFrame, params: Params, dataset: Declaration
) -> Evaluation:
    """Measure ``model`` on ``test``; the decision policy is chosen on ``valid``.

    Slices are the declaration's ``slices``, fairness groups its protected attributes (a
    numeric one by band).
    """
    problem, cfg = params.problem, params.evaluate
    y = labels(test, dataset)
    p = score(model, test, dataset)
    policy = choose_policy(
        score(model, valid, dataset),
        problem.cost_approve_default,
        problem.cost_reject_good,
        problem.target_referral_rate,
    )
    lo, hi = bootstrap_roc_auc(y, p, cfg.bootstrap_samples, params.seed)
    grouped = dataset.with_groups(test)
    behaviour = run_behaviour_tests(
        model, test, dataset, policy.threshold, cfg.behaviour_tolerance, params.seed
    )
    report = {
        "test": headline_metrics(y, p, cfg.calibration_bins),
        "roc_auc_ci95": {"low": lo, "high": hi},
        "policy": policy.as_dict(),
        "decisions": policy_metrics(
            y, p, policy, problem.cost_approve_default, problem.cost_reject_good
        ),
        "slices": {
            group: slice_report(
                y, p, policy.threshold, grouped[group], cfg.min_slice_size, cfg.calibration_bins
            )
            for group in dataset.slice_groups
        },
        "fairness": {
            group: fairness_report(y, p, policy.threshold, grouped[group])
            for group in dataset.fairness_groups
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
        "confusion": curves.confusion_rows(
            y, policy.decide(p), (dataset.label.outcomes.positive, dataset.label.outcomes.negative)
        ),
    }
    return Evaluation(report=report, plots=plots)
