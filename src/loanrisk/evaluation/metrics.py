"""Discrimination and calibration measures, as pure functions of labels and scores."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by bin size."""
    y_arr = np.asarray(y, dtype=float)
    p_arr = np.asarray(p, dtype=float)
    bins = np.minimum((p_arr * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=y_arr, minlength=n_bins)
        - np.bincount(bins, weights=p_arr, minlength=n_bins)
    )
    return float(gap.sum() / max(counts.sum(), 1))


def headline_metrics(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier score, log loss and ECE of scores ``p`` for labels ``y``."""
    y_arr = np.asarray(y, dtype=int)
    p_arr = np.asarray(p, dtype=float)
    return {
        "roc_auc": float(roc_auc_score(y_arr, p_arr)),
        "pr_auc": float(average_precision_score(y_arr, p_arr)),
        "brier": float(brier_score_loss(y_arr, p_arr)),
        # Only log loss needs the clip: a score of exactly 0 or 1 would make it infinite.
        "log_loss": float(log_loss(y_arr, np.clip(p_arr, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "ece": expected_calibration_error(y_arr, p_arr, n_bins),
    }


def bootstrap_roc_auc(
    y: ArrayLike, p: ArrayLike, n_samples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """A percentile bootstrap confidence interval for ROC-AUC (resampling applications)."""
    y_arr = np.asarray(y, dtype=int)
    p_arr = np.asarray(p, dtype=float)
    if n_samples == 0:
        auc = float(roc_auc_score(y_arr, p_arr))
        return auc, auc
    aucs = [_fast_auc(y_arr[i], p_arr[i]) for i in _resamples(y_arr, n_samples, seed)]
    lo, hi = np.quantile(aucs, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def decision_cost(
    y: ArrayLike,
    p: ArrayLike,
    threshold: float,
    cost_approve_default: float,
    cost_reject_good: float,
) -> np.ndarray:
    """What each application costs when the model decides alone: approve below
    ``threshold`` (a default then costs ``cost_approve_default``), reject at or above it (a
    good applicant turned away costs ``cost_reject_good``)."""
    y_arr = np.asarray(y, dtype=int)
    approve = np.asarray(p, dtype=float) < threshold
    return np.where(approve, cost_approve_default * y_arr, cost_reject_good * (1 - y_arr))


def paired_difference(
    y: ArrayLike,
    p_new: ArrayLike,
    p_old: ArrayLike,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_samples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``statistic(y, p_new) - statistic(y, p_old)`` on the same rows, with a paired
    percentile bootstrap interval: each resample draws the same applications for both
    models, so the interval measures the difference, not the two models' separate noise.

    Returns ``(difference, low, high)``.
    """
    y_arr = np.asarray(y, dtype=int)
    new = np.asarray(p_new, dtype=float)
    old = np.asarray(p_old, dtype=float)
    difference = statistic(y_arr, new) - statistic(y_arr, old)
    if n_samples == 0:
        return difference, difference, difference
    differences = [
        statistic(y_arr[i], new[i]) - statistic(y_arr[i], old[i])
        for i in _resamples(y_arr, n_samples, seed)
    ]
    lo, hi = np.quantile(differences, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(difference), float(lo), float(hi)


def paired_auc_difference(
    y: ArrayLike, p_new: ArrayLike, p_old: ArrayLike, n_samples: int, seed: int, level: float = 0.95
) -> tuple[float, float, float]:
    """ROC-AUC(p_new) - ROC-AUC(p_old) on the same rows, with its paired bootstrap interval."""
    return paired_difference(y, p_new, p_old, _fast_auc, n_samples, seed, level)


def paired_cost_difference(
    y: ArrayLike,
    p_new: ArrayLike,
    p_old: ArrayLike,
    threshold: float,
    cost_approve_default: float,
    cost_reject_good: float,
    n_samples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean decision cost per application of ``p_new`` minus that of ``p_old`` on the same
    rows (negative: the new scores cost less), with its paired bootstrap interval.

    Unlike ROC-AUC, the cost sees calibration: a model whose scores sit too low approves
    applicants it should not, however well it ranks them.
    """

    def mean_cost(y_: np.ndarray, p_: np.ndarray) -> float:
        return float(
            decision_cost(y_, p_, threshold, cost_approve_default, cost_reject_good).mean()
        )

    return paired_difference(y, p_new, p_old, mean_cost, n_samples, seed, level)


def _resamples(y: np.ndarray, n_samples: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``n_samples`` bootstrap resamples (applications drawn with
    replacement), seeded; a resample holding one outcome only has no ROC-AUC and is skipped."""
    rng = np.random.default_rng(seed)
    n = len(y)
    for _ in range(n_samples):
        idx = rng.integers(0, n, n)
        if y[idx].min() != y[idx].max():
            yield idx


def _fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) identity, ties averaged: equal to sklearn's."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
