"""The gate really gates: each criterion can block, and the modes do what they say."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from loanrisk.config import GateConfig, Params
from loanrisk.evaluation.metrics import paired_auc_difference, paired_cost_difference
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.registry.gate import ChampionComparison, Interval, judge

GOOD: dict[str, Any] = {
    "test": {"roc_auc": 0.80, "ece": 0.01},
    "fairness": {"sex": {"selection_rate_ratio": 0.95, "equalized_odds_difference": 0.02}},
    "behaviour": {"higher_past_delinquencies_never_lowers_risk": {"passed": True}},
}
LOGISTIC = {"test": {"roc_auc": 0.78}}
AUC = Interval(difference=0.0, low=-0.004, high=0.004)
BETTER = ChampionComparison("1", Interval(-0.02, -0.03, -0.01), AUC)


def with_(path: str, value: Any) -> dict[str, Any]:
    report = copy.deepcopy(GOOD)
    node = report
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value
    return report


@pytest.fixture()
def gate(params: Params) -> GateConfig:
    # The reports below are the loan example's: gate its protected attribute, whatever
    # dataset params.yaml names.
    return params.gate.model_copy(
        update={
            "min_roc_auc": 0.7,
            "min_uplift_over_logistic": 0.005,
            "max_ece": 0.03,
            "fairness_attributes": ["sex"],
            "mode": "enforce",
        }
    )


def test_a_good_candidate_passes_and_is_promoted(gate: GateConfig) -> None:
    verdict = judge(GOOD, LOGISTIC, None, gate)
    assert verdict.passed and verdict.promote and verdict.failures == []


@pytest.mark.parametrize(
    ("path", "value", "criterion"),
    [
        ("test.roc_auc", 0.65, "min_roc_auc"),  # also below the logistic: see the assertion
        ("test.roc_auc", 0.782, "min_uplift_over_logistic"),
        ("test.ece", 0.08, "max_ece"),
        ("fairness.sex.selection_rate_ratio", 0.7, "min_four_fifths_ratio.sex"),
        ("fairness.sex.equalized_odds_difference", 0.3, "max_equalized_odds_difference.sex"),
        (
            "behaviour.higher_past_delinquencies_never_lowers_risk",
            {"passed": False},
            "behavioural_tests",
        ),
    ],
)
def test_each_criterion_blocks_promotion_on_its_own(
    gate: GateConfig, path: str, value: Any, criterion: str
) -> None:
    verdict = judge(with_(path, value), LOGISTIC, None, gate)
    assert not verdict.passed and not verdict.promote
    failed = [line.split(":")[0] for line in verdict.failures]
    assert failed[0] == criterion
    assert set(failed) <= {criterion, "min_uplift_over_logistic"}


def test_a_challenger_worse_than_the_champion_is_not_promoted(gate: GateConfig) -> None:
    worse = ChampionComparison("3", Interval(0.05, 0.03, 0.07), AUC)
    verdict = judge(GOOD, LOGISTIC, worse, gate)
    assert not verdict.promote
    assert verdict.failures[0].startswith("not_worse_than_champion")
    assert "[+0.0300, +0.0700]" in verdict.failures[0]


def test_the_champion_comparison_uses_the_cost_intervals_upper_bound_and_the_margin(
    gate: GateConfig,
) -> None:
    margin = gate.champion_cost_margin
    noisy = ChampionComparison("3", Interval(0.001, -0.01, margin + 0.001), AUC)
    assert not judge(GOOD, LOGISTIC, noisy, gate).promote  # the interval reaches too high
    close = ChampionComparison("3", Interval(0.0, -margin, margin), AUC)
    assert judge(GOOD, LOGISTIC, close, gate).promote  # within the margin
    strict = gate.model_copy(update={"champion_cost_margin": 0.0})
    assert not judge(GOOD, LOGISTIC, close, strict).promote


def _compare(
    params: Params, y: np.ndarray, challenger: np.ndarray, champion: np.ndarray
) -> ChampionComparison:
    """What the release computes, on given labels and scores."""
    costs = params.problem
    t = cost_optimal_threshold(costs.cost_approve_default, costs.cost_reject_good)
    cost = paired_cost_difference(
        y, challenger, champion, t, costs.cost_approve_default, costs.cost_reject_good, 200, 0
    )
    auc = paired_auc_difference(y, challenger, champion, 200, 0)
    return ChampionComparison("1", Interval(*cost), Interval(*auc))


def _calibrated(n: int, base_rate_shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from known probabilities (log-odds shifted by ``base_rate_shift``)."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(-2.2, 1.2, n) + base_rate_shift
    p = 1 / (1 + np.exp(-logit))
    return (rng.random(n) < p).astype(int), p


def test_a_miscalibrated_challenger_that_ranks_as_well_is_refused(
    gate: GateConfig, params: Params
) -> None:
    # The same ranking, scores halved: ROC-AUC cannot tell the two apart, the cost can.
    y, p = _calibrated(6000, 0.0, seed=1)
    comparison = _compare(params, y, p / 2, p)
    assert comparison.roc_auc.difference == 0.0
    verdict = judge(GOOD, LOGISTIC, comparison, gate)
    assert not verdict.promote and verdict.failures[0].startswith("not_worse_than_champion")
    assert judge(GOOD, LOGISTIC, _compare(params, y, p, p), gate).promote  # its own equal


def test_after_a_shift_a_recalibrated_challenger_replaces_a_champion_that_ranks_a_bit_better(
    gate: GateConfig, params: Params
) -> None:
    # The world moved: defaults are more likely at every score. The champion still ranks
    # better (less noise) but its probabilities sit too low; the challenger knows the new
    # level. A ranking-only gate would keep the champion.
    y, p = _calibrated(6000, 0.8, seed=2)
    rng = np.random.default_rng(3)
    logit = np.log(p / (1 - p))
    champion = 1 / (1 + np.exp(-(logit - 0.8)))
    challenger = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.25, len(p)))))
    comparison = _compare(params, y, challenger, champion)
    assert comparison.roc_auc.difference < 0
    verdict = judge(GOOD, LOGISTIC, comparison, gate)
    assert verdict.promote, verdict.failures
    assert comparison.cost.high < 0


def test_a_rolled_back_training_run_is_never_promoted_again(gate: GateConfig) -> None:
    verdict = judge(GOOD, LOGISTIC, BETTER, gate, rolled_back=True)
    assert not verdict.promote
    assert [line.split(":")[0] for line in verdict.failures] == ["not_rolled_back"]


def test_dry_run_judges_but_never_promotes(gate: GateConfig) -> None:
    verdict = judge(GOOD, LOGISTIC, None, gate.model_copy(update={"mode": "dry_run"}))
    assert verdict.passed and not verdict.promote


def test_off_promotes_even_a_failing_candidate(gate: GateConfig) -> None:
    off = gate.model_copy(update={"mode": "off"})
    verdict = judge(with_("test.roc_auc", 0.5), LOGISTIC, None, off)
    assert not verdict.passed and verdict.promote


def test_behavioural_tests_can_be_left_out_of_the_gate(gate: GateConfig) -> None:
    lenient = gate.model_copy(update={"require_behavioural_tests": False})
    report = with_("behaviour.higher_past_delinquencies_never_lowers_risk", {"passed": False})
    assert judge(report, LOGISTIC, None, lenient).passed


def test_fairness_is_gated_for_each_configured_attribute(gate: GateConfig) -> None:
    report = with_(
        "fairness.age_band", {"selection_rate_ratio": 0.5, "equalized_odds_difference": 0}
    )
    assert judge(report, LOGISTIC, None, gate).passed  # age_band not gated by default
    both = gate.model_copy(update={"fairness_attributes": ["sex", "age_band"]})
    verdict = judge(report, LOGISTIC, None, both)
    assert verdict.failures[0].startswith("min_four_fifths_ratio.age_band")


def test_every_criterion_reports_threshold_and_value(gate: GateConfig) -> None:
    for criterion in judge(GOOD, LOGISTIC, BETTER, gate).criteria:
        assert criterion.threshold is not None and criterion.value is not None
        assert criterion.why
