"""Alarm quality: the monitor raises the alarms it should, names the right columns, and stays
quiet when nothing changed. Each scenario is replayed through a candidate trained on the
session's splits, exactly as the monitor stage does it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loanrisk.config import Params
from loanrisk.data.contract import build_contract
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.metrics import bootstrap_roc_auc, expected_calibration_error
from loanrisk.evaluation.policy import choose_policy
from loanrisk.models.train import fit_model
from loanrisk.monitoring.assess import Baseline, assess
from loanrisk.monitoring.profile import Profile, build_profile
from loanrisk.monitoring.window import monitoring_as_of, replay
from loanrisk.scoring import labels, score

RECESSION_TOUCHES = {
    "income",
    "loan_amount",
    "employment_type",
    "employment_years",
    "debt_to_income",
    "housing",
}
"""What the recession scenario moves: incomes (and with them amounts, debt ratios and
housing) and employment."""


@pytest.fixture(scope="module")
def world(params: Params, splits: dict[str, pd.DataFrame], loans: Declaration) -> dict[str, Any]:
    model = fit_model("candidate", params, loans, splits).estimator
    test = splits["test"]
    p_test = score(model, test, loans)
    y_test = labels(test, loans)
    low, _ = bootstrap_roc_auc(y_test, p_test, 200, params.seed)
    from sklearn.metrics import roc_auc_score

    return {
        "model": model,
        "profile": build_profile(splits["train"], loans, score(model, splits["train"], loans)),
        "policy": choose_policy(score(model, splits["valid"], loans), 5.0, 1.0, 0.1),
        "baseline": Baseline(
            float(roc_auc_score(y_test, p_test)), low, expected_calibration_error(y_test, p_test)
        ),
        "reference": splits["train"],
    }


def monitor(
    world: dict[str, Any],
    params: Params,
    loans: Declaration,
    scenario: str,
    scorer: Any = None,
) -> dict[str, Any]:
    """Twelve months from 2025-01, the scenario from 2025-07, outcomes known for the first
    half (monitoring date 2026-07-01)."""
    changed = params.model_copy(
        update={
            "data": params.data.model_copy(
                update={"scenario": scenario, "scenario_start": dt.date(2025, 7, 1)}
            ),
            "monitor": params.monitor.model_copy(
                update={
                    "start": dt.date(2025, 1, 1),
                    "months": 12,
                    "rows_per_month": 1500,
                    "as_of": dt.date(2026, 7, 1),
                }
            ),
        }
    )
    profile: Profile = world["profile"]
    return assess(
        replay(changed, 12),
        scorer or (lambda rows: score(world["model"], rows, loans)),
        world["policy"],
        profile,
        build_contract(loans),
        loans,
        changed,
        world["baseline"],
        monitoring_as_of(changed),
        reference=world["reference"],
    )


def test_no_false_alarm_over_a_year_of_an_unchanged_world(
    world: dict[str, Any], params: Params, loans: Declaration
) -> None:
    result = monitor(world, params, loans, "none")
    assert [m["drift"]["drifted_features"] for m in result["months"]] == [[]] * 12
    assert [m["outcomes_known"] for m in result["months"]] == [True] * 6 + [False] * 6
    assert "roc_auc" in result["decision"]["recent_quality"]
    assert result["decision"]["retrain"] is False, result["decision"]["reasons"]
    assert result["decision"]["feed_problems"] == {}


def test_a_recession_is_flagged_in_its_first_month(
    world: dict[str, Any], params: Params, loans: Declaration
) -> None:
    result = monitor(world, params, loans, "recession")
    by_month = {m["month"]: m for m in result["months"]}
    assert all(not by_month[f"2025-0{i}"]["drift"]["drifted_features"] for i in range(1, 7))
    first = by_month["2025-07"]["drift"]["drifted_features"]
    assert "income" in first and set(first) <= RECESSION_TOUCHES
    decision = result["decision"]
    assert decision["retrain"] is True and decision["first_drift_month"] == "2025-07"
    assert decision["feed_problems"] == {}


@pytest.mark.parametrize(
    ("scenario", "columns"),
    [
        ("null_feed", {"income", "employment_years", "credit_history_years"}),
        ("unit_change", {"income"}),
        ("new_category", {"loan_purpose"}),
    ],
)
def test_a_broken_feed_names_its_columns_and_is_not_a_reason_to_retrain(
    world: dict[str, Any], params: Params, loans: Declaration, scenario: str, columns: set[str]
) -> None:
    decision = monitor(world, params, loans, scenario)["decision"]
    assert set(decision["feed_problems"]) == columns
    assert all(months[0] == "2025-07" for months in decision["feed_problems"].values())
    assert decision["retrain"] is False, decision["reasons"]


def test_a_model_that_stopped_ranking_is_caught_by_live_quality(
    world: dict[str, Any], params: Params, loans: Declaration
) -> None:
    """The quality check can fail: the same traffic scored by a broken model (the right
    scores, shuffled: calibrated on average, ranking nothing) raises the ROC-AUC reason
    while no feature drifts."""
    rng = np.random.default_rng(0)

    def shuffled(rows: pd.DataFrame) -> np.ndarray:
        return rng.permutation(score(world["model"], rows, loans))

    decision = monitor(world, params, loans, "none", scorer=shuffled)["decision"]
    assert decision["retrain"] is True
    assert any(r.startswith("ROC-AUC") for r in decision["reasons"]), decision["reasons"]
    assert decision["drift_months"] == []


def test_a_model_that_lost_its_calibration_is_caught_by_live_quality(
    world: dict[str, Any], params: Params, loans: Declaration
) -> None:
    """The calibration check can fail: the same ranking with every score halved (as a model
    misses a base rate that doubled) raises the calibration reason, not the ROC-AUC one (and
    the score's distribution drifts, which is also true)."""

    def halved(rows: pd.DataFrame) -> np.ndarray:
        return score(world["model"], rows, loans) / 2

    decision = monitor(world, params, loans, "none", scorer=halved)["decision"]
    kinds = [r.split()[0] for r in decision["reasons"]]
    assert "calibration" in kinds and "ROC-AUC" not in kinds, decision["reasons"]
