"""The decision policy: approve, refer to a credit officer, or reject, chosen from the costs.

With calibrated probabilities, approving costs ``p * cost_approve_default`` in expectation
and rejecting costs ``(1 - p) * cost_reject_good``, so the cost-optimal threshold is
``cost_reject_good / (cost_reject_good + cost_approve_default)``, not 0.5. Scores close to
that threshold are the ones the model is least sure about: a band around it, wide enough to
hold ``target_referral_rate`` of the validation applications, goes to a human.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import f1_score, precision_score, recall_score

APPROVE, REFER, REJECT = "approve", "refer", "reject"


@dataclass(frozen=True)
class DecisionPolicy:
    """Approve below ``refer_from``, reject at or above ``reject_from``, refer in between."""

    threshold: float
    refer_from: float
    reject_from: float

    def decide(self, p: ArrayLike) -> np.ndarray:
        scores = np.asarray(p, dtype=float)
        return np.where(
            scores < self.refer_from, APPROVE, np.where(scores >= self.reject_from, REJECT, REFER)
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def cost_optimal_threshold(cost_approve_default: float, cost_reject_good: float) -> float:
    return cost_reject_good / (cost_reject_good + cost_approve_default)


def choose_policy(
    p_valid: ArrayLike, cost_approve_default: float, cost_reject_good: float, referral_rate: float
) -> DecisionPolicy:
    """The cost-optimal threshold with a referral band holding ``referral_rate`` of ``p_valid``.

    The band is centred on the threshold's rank among the validation scores, so it holds the
    applications whose scores are nearest the decision, whatever the score distribution.
    """
    t = cost_optimal_threshold(cost_approve_default, cost_reject_good)
    scores = np.sort(np.asarray(p_valid, dtype=float))
    if referral_rate <= 0 or len(scores) == 0:
        return DecisionPolicy(t, t, t)
    centre = np.searchsorted(scores, t) / len(scores)
    lo_q = max(0.0, centre - referral_rate / 2)
    hi_q = min(1.0, lo_q + referral_rate)
    lo_q = max(0.0, hi_q - referral_rate)
    lo, hi = np.quantile(scores, [lo_q, hi_q])
    return DecisionPolicy(threshold=t, refer_from=float(min(lo, t)), reject_from=float(max(hi, t)))


def policy_metrics(
    y: ArrayLike,
    p: ArrayLike,
    policy: DecisionPolicy,
    cost_approve_default: float,
    cost_reject_good: float,
) -> dict[str, Any]:
    """How the policy does: automatic decisions judged as 'reject predicts default'.

    Precision, recall and F1 are computed on the applications decided automatically (approve
    or reject); referred ones are a credit officer's call. The cost counts automatic mistakes
    per application, referrals costing nothing here (their cost is the officer's time).
    """
    y_arr = np.asarray(y, dtype=int)
    decision = policy.decide(p)
    auto = decision != REFER
    rejected = (decision == REJECT).astype(int)
    cost = (
        cost_approve_default * ((decision == APPROVE) & (y_arr == 1))
        + cost_reject_good * ((decision == REJECT) & (y_arr == 0))
    ).sum()
    has_both = auto.any() and rejected[auto].any()
    return {
        "approval_rate": float((decision == APPROVE).mean()),
        "referral_rate": float((decision == REFER).mean()),
        "rejection_rate": float((decision == REJECT).mean()),
        "precision": float(precision_score(y_arr[auto], rejected[auto], zero_division=0))
        if has_both
        else 0.0,
        "recall": float(recall_score(y_arr[auto], rejected[auto], zero_division=0))
        if auto.any()
        else 0.0,
        "f1": float(f1_score(y_arr[auto], rejected[auto], zero_division=0)) if auto.any() else 0.0,
        "default_rate_of_approved": float(y_arr[decision == APPROVE].mean())
        if (decision == APPROVE).any()
        else 0.0,
        "cost_per_application": float(cost / max(len(y_arr), 1)),
    }
