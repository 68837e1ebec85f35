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

    def decide_one(self, p: float) -> str:
        """The decision for one score, without building arrays (the serving hot path)."""
        if p < self.refer_from:
            return APPROVE
        return REJECT if p >= self.reject_from else REFER

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def cost_optimal_threshold(cost_approve_default: float, cost_reject_good: float) -> float:
    return cost_reject_good / (cost_reject_good + cost_approve_default)


def choose_policy(
    p_valid: ArrayLike, cost_approve_default: float, cost_reject_good: float, referral_rate: float
) -> DecisionPolicy:
    """The cost-optimal threshold with a referral band around it.

    The band ``[refer_from, reject_from)`` contains the threshold and refers the share of
    ``p_valid`` closest to ``referral_rate``; among equally close bands, the one most centred
    on the threshold's rank. Its edges are score values, so tied scores are never split: a
    model with a few distinct scores (the rule baseline) gets the band that comes nearest the
    target, which may be no band at all.
    """
    t = cost_optimal_threshold(cost_approve_default, cost_reject_good)
    scores = np.sort(np.asarray(p_valid, dtype=float))
    n = len(scores)
    if referral_rate <= 0 or n == 0:
        return DecisionPolicy(t, t, t)
    edges = np.unique(np.append(scores, t))
    share_below = np.searchsorted(scores, edges, side="left") / n  # share of scores < edge
    lows = np.flatnonzero(edges <= t)
    highs = np.append(np.flatnonzero(edges >= t), len(edges))  # len(edges): no upper edge
    high_share = np.append(share_below, 1.0)[highs]
    # For each lower edge, the upper edges whose band share is just below and above target.
    wanted = share_below[lows] + referral_rate
    right = np.clip(np.searchsorted(high_share, wanted), 0, len(highs) - 1)
    left = np.clip(right - 1, 0, len(highs) - 1)
    lo_idx = np.concatenate([lows, lows])
    hi_pos = np.concatenate([right, left])
    band = high_share[hi_pos] - share_below[lo_idx]
    centre = np.searchsorted(scores, t, side="left") / n
    miss = np.abs(band - referral_rate)
    offset = np.abs((high_share[hi_pos] + share_below[lo_idx]) / 2 - centre)
    best = np.lexsort((offset, np.round(miss, 12)))[0]
    refer_from = float(edges[lo_idx[best]])
    high = highs[hi_pos[best]]
    # No upper edge: nothing is rejected automatically (a bound above any probability).
    reject_from = float(edges[high]) if high < len(edges) else float(np.nextafter(1.0, 2.0))
    return DecisionPolicy(threshold=t, refer_from=refer_from, reject_from=reject_from)


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
