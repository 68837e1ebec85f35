"""The cost-based decision policy and its referral band (`loanrisk/evaluation/policy.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from loanrisk.evaluation.policy import (
    APPROVE,
    REFER,
    REJECT,
    choose_policy,
    cost_optimal_threshold,
    policy_metrics,
)


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
