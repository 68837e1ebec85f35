"""The decision policy comes from the costs; fairness comes from fairlearn on that decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loanrisk.evaluation.fairness import fairness_report
from loanrisk.evaluation.policy import (
    APPROVE,
    REFER,
    REJECT,
    choose_policy,
    cost_optimal_threshold,
    policy_metrics,
)
from loanrisk.evaluation.slices import slice_report


def test_the_threshold_follows_the_costs_not_one_half() -> None:
    assert cost_optimal_threshold(5.0, 1.0) == pytest.approx(1 / 6)
    assert cost_optimal_threshold(1.0, 1.0) == pytest.approx(0.5)


def test_the_referral_band_holds_the_target_share_around_the_threshold() -> None:
    p = np.random.default_rng(0).beta(2, 10, 20_000)
    policy = choose_policy(p, 5.0, 1.0, referral_rate=0.1)
    assert policy.refer_from <= policy.threshold <= policy.reject_from
    decided = policy.decide(p)
    assert (decided == REFER).mean() == pytest.approx(0.1, abs=0.01)
    assert set(decided) == {APPROVE, REFER, REJECT}


def test_no_referral_band_when_the_rate_is_zero() -> None:
    policy = choose_policy(np.linspace(0, 1, 100), 5.0, 1.0, referral_rate=0.0)
    assert policy.refer_from == policy.reject_from == policy.threshold


def test_policy_metrics_count_rates_and_costs() -> None:
    policy = choose_policy(np.array([0.5]), 1.0, 1.0, referral_rate=0.0)  # threshold 0.5
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.9, 0.2, 0.8])
    m = policy_metrics(y, p, policy, cost_approve_default=5.0, cost_reject_good=1.0)
    assert m["approval_rate"] == 0.5 and m["rejection_rate"] == 0.5 and m["referral_rate"] == 0
    assert m["precision"] == 0.5 and m["recall"] == 0.5
    assert m["cost_per_application"] == pytest.approx((5.0 + 1.0) / 4)


def test_the_four_fifths_ratio_and_equalized_odds_come_from_fairlearn() -> None:
    groups = pd.Series(["a"] * 100 + ["b"] * 100)
    y = np.array([0] * 200)
    p = np.array([0.1] * 100 + [0.1] * 60 + [0.9] * 40)  # a: all approved; b: 60 % approved
    report = fairness_report(y, p, threshold=0.5, groups=groups)
    assert report["approval_rate_by_group"] == {"a": 1.0, "b": 0.6}
    assert report["selection_rate_ratio"] == pytest.approx(0.6)
    assert report["selection_rate_difference"] == pytest.approx(0.4)
    assert report["equalized_odds_difference"] == pytest.approx(0.4)


def test_small_slices_get_no_auc() -> None:
    y = np.array([0, 1] * 60)
    p = np.linspace(0, 1, 120)
    groups = pd.Series(["big"] * 110 + ["tiny"] * 10)
    report = slice_report(y, p, 0.5, groups, min_size=50)
    assert report["big"]["roc_auc"] is not None
    assert report["tiny"]["roc_auc"] is None and report["tiny"]["n"] == 10


def test_the_report_agrees_with_fairlearns_one_line_helpers() -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(5)
    groups = pd.Series(rng.choice(["f", "m", "x"], 3000))
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(int)
    report = fairness_report(y, p, threshold=0.4, groups=groups)
    approved = (p < 0.4).astype(int)
    assert report["selection_rate_ratio"] == pytest.approx(
        demographic_parity_ratio(y, approved, sensitive_features=groups)
    )
    assert report["selection_rate_difference"] == pytest.approx(
        demographic_parity_difference(y, approved, sensitive_features=groups)
    )
    assert report["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, 1 - approved, sensitive_features=groups)
    )


def test_tied_scores_are_never_split_and_the_band_comes_nearest_the_target() -> None:
    # Five score levels, as the rule baseline has: 60 %, 25 %, 10 %, 4 %, 1 %.
    p = np.repeat([0.06, 0.15, 0.30, 0.45, 0.6], [600, 250, 100, 40, 10])
    policy = choose_policy(p, 5.0, 1.0, referral_rate=0.10)  # threshold 1/6
    referred = (policy.decide(p) == REFER).mean()
    assert referred in (0.0, 0.1, 0.25, 0.35, 0.85)  # whole levels only
    assert abs(referred - 0.10) <= 0.10
    assert policy.refer_from <= policy.threshold <= policy.reject_from
    assert (policy.decide(p) == APPROVE).any()


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.3])
def test_on_continuous_scores_the_band_is_centred_and_on_target(rate: float) -> None:
    p = np.random.default_rng(2).beta(2, 8, 5000)
    policy = choose_policy(p, 5.0, 1.0, referral_rate=rate)
    decided = policy.decide(p)
    assert (decided == REFER).mean() == pytest.approx(rate, abs=1 / 5000)
    below = (p < policy.threshold) & (decided == REFER)
    above = (p >= policy.threshold) & (decided == REFER)
    assert abs(below.mean() - above.mean()) <= 0.01
