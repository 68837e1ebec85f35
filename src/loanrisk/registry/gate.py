"""The promotion gate: "good enough" as data, judged by one pure function.

Thresholds come from `params.yaml`; the measured values from `reports/metrics.json` and,
for the comparison with the current champion, from scoring both on the same test split.
The gate has three modes, as a team rolling it out needs them: ``enforce`` (promote only on
a pass), ``dry_run`` (judge and report, promote nothing) and ``off`` (promote without judging).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from loanrisk.config import GateConfig


@dataclass(frozen=True)
class Criterion:
    name: str
    threshold: float | bool | None
    value: float | bool | None
    passed: bool
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    mode: str
    passed: bool
    promote: bool
    criteria: list[Criterion]

    @property
    def failures(self) -> list[str]:
        """One line per failed criterion."""
        return [f"{c.name}: {c.why}" for c in self.criteria if not c.passed]


def _at_least(name: str, value: float, threshold: float, what: str) -> Criterion:
    passed = value >= threshold
    relation = ">=" if passed else "<"
    return Criterion(name, threshold, value, passed, f"{what} {value:.4f} {relation} {threshold}")


def _at_most(name: str, value: float, threshold: float, what: str) -> Criterion:
    passed = value <= threshold
    relation = "<=" if passed else ">"
    return Criterion(name, threshold, value, passed, f"{what} {value:.4f} {relation} {threshold}")


@dataclass(frozen=True)
class Interval:
    """A paired difference, challenger minus champion, and its bootstrap 95% interval."""

    difference: float
    low: float
    high: float


@dataclass(frozen=True)
class ChampionComparison:
    """The challenger against the champion on the same test rows.

    ``cost`` is the mean decision cost per application at the cost-optimal threshold
    (negative: the challenger costs less); it judges. ``roc_auc`` is reported beside it: a
    ranking measure alone would keep a champion whose scores the world has moved away from
    (after a recession its scores sit too low and it approves applicants it should not,
    while it still ranks them well).
    """

    version: str
    cost: Interval
    roc_auc: Interval

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_criteria(
    candidate: dict[str, Any], logistic: dict[str, Any], config: GateConfig
) -> list[Criterion]:
    """The criteria that judge the candidate alone: its own figures against the thresholds.

    They depend only on the evaluation report, never on a registry's history, so the same
    data, params and code always give the same list.
    """
    uplift = candidate["test"]["roc_auc"] - logistic["test"]["roc_auc"]
    criteria = [
        _at_least("min_roc_auc", candidate["test"]["roc_auc"], config.min_roc_auc, "ROC-AUC"),
        _at_least(
            "min_uplift_over_logistic",
            uplift,
            config.min_uplift_over_logistic,
            "ROC-AUC uplift over the logistic baseline (below it, the simpler model wins)",
        ),
        _at_most("max_ece", candidate["test"]["ece"], config.max_ece, "expected calibration error"),
    ]
    for attribute in config.fairness_attributes:
        fairness = candidate["fairness"][attribute]
        criteria += [
            _at_least(
                f"min_four_fifths_ratio.{attribute}",
                fairness["selection_rate_ratio"],
                config.min_four_fifths_ratio,
                f"approval-rate ratio across {attribute}",
            ),
            _at_most(
                f"max_equalized_odds_difference.{attribute}",
                fairness["equalized_odds_difference"],
                config.max_equalized_odds_difference,
                f"equalized-odds difference across {attribute}",
            ),
        ]
    if config.require_behavioural_tests:
        failed = [n for n, r in candidate["behaviour"].items() if not r["passed"]]
        criteria.append(
            Criterion(
                "behavioural_tests",
                True,
                not failed,
                not failed,
                "all passed" if not failed else "failed: " + ", ".join(failed),
            )
        )
    return criteria


def alone(
    fingerprint: str, candidate: dict[str, Any], logistic: dict[str, Any], config: GateConfig
) -> dict[str, Any]:
    """The candidate judged alone, as `reports/verdict.json` holds it: the criteria that need
    no champion, whether they all pass, and the fingerprint of the model they judged."""
    criteria = candidate_criteria(candidate, logistic, config)
    return {
        "fingerprint": fingerprint,
        "passed": all(c.passed for c in criteria),
        "criteria": [c.as_dict() for c in criteria],
    }


def champion_criterion(comparison: ChampionComparison | None, margin: float) -> Criterion:
    """Not worse than the champion at the decision the model supports: the upper bound of
    the paired interval of the cost difference is at most ``margin`` (in the cost of one
    average loan per application). A point comparison would let noise decide; the interval
    says how sure."""
    if comparison is None:
        return Criterion("not_worse_than_champion", margin, None, True, "no champion yet")
    cost, auc = comparison.cost, comparison.roc_auc
    passed = cost.high <= margin
    return Criterion(
        "not_worse_than_champion",
        margin,
        cost.high,
        passed,
        f"decision cost per application minus champion v{comparison.version}'s on the same "
        f"rows {cost.difference:+.4f}, paired bootstrap 95% interval [{cost.low:+.4f}, "
        f"{cost.high:+.4f}]; upper bound {'<=' if passed else '>'} {margin} (ROC-AUC "
        f"difference {auc.difference:+.4f} [{auc.low:+.4f}, {auc.high:+.4f}])",
    )


def judge(
    candidate: dict[str, Any],
    logistic: dict[str, Any],
    champion: ChampionComparison | None,
    config: GateConfig,
    rolled_back: bool = False,
) -> Verdict:
    """Judge the candidate's evaluation report against the gate's thresholds.

    ``champion`` compares it with the current champion on the same test rows (None when
    there is no champion yet). ``rolled_back`` says this very model was rolled back before:
    a person decided against it, and only a different model may replace that decision.
    """
    criteria = candidate_criteria(candidate, logistic, config)
    criteria.append(champion_criterion(champion, config.champion_cost_margin))
    criteria.append(
        Criterion(
            "not_rolled_back",
            False,
            rolled_back,
            not rolled_back,
            "this model was rolled back before" if rolled_back else "never rolled back",
        )
    )
    passed = all(c.passed for c in criteria)
    promote = {"enforce": passed, "dry_run": False, "off": True}[config.mode]
    return Verdict(mode=config.mode, passed=passed, promote=promote, criteria=criteria)
