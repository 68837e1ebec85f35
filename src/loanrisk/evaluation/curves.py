"""Curve data for DVC plots: ROC, precision-recall, calibration and the confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_curve, roc_curve

MAX_POINTS = 200


def _thin(*columns: np.ndarray) -> list[np.ndarray]:
    """At most MAX_POINTS points, first and last kept, so plot files stay small."""
    n = len(columns[0])
    if n <= MAX_POINTS:
        return list(columns)
    keep = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
    return [c[keep] for c in columns]


def roc_points(y: ArrayLike, p: ArrayLike) -> list[dict[str, float]]:
    fpr, tpr, _ = roc_curve(y, p)
    fpr, tpr = _thin(fpr, tpr)
    return [
        {"fpr": round(float(a), 6), "tpr": round(float(b), 6)}
        for a, b in zip(fpr, tpr, strict=True)
    ]


def pr_points(y: ArrayLike, p: ArrayLike) -> list[dict[str, float]]:
    precision, recall, _ = precision_recall_curve(y, p)
    recall, precision = _thin(recall[::-1], precision[::-1])
    return [
        {"recall": round(float(r), 6), "precision": round(float(q), 6)}
        for r, q in zip(recall, precision, strict=True)
    ]


def calibration_points(y: ArrayLike, p: ArrayLike, n_bins: int) -> list[dict[str, Any]]:
    """Observed default rate against mean score, per equal-width score bin (empty bins left out)."""
    y_arr = np.asarray(y, dtype=float)
    p_arr = np.asarray(p, dtype=float)
    bins = np.minimum((p_arr * n_bins).astype(int), n_bins - 1)
    points = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            points.append(
                {
                    "mean_predicted": round(float(p_arr[mask].mean()), 6),
                    "observed": round(float(y_arr[mask].mean()), 6),
                    "n": int(mask.sum()),
                }
            )
    return points


def confusion_rows(
    y: ArrayLike, decision: np.ndarray, outcomes: tuple[str, str] = ("positive", "negative")
) -> list[dict[str, str]]:
    """One row per application: actual outcome (named by ``outcomes``, positive first, as the
    declaration names them) and policy decision, for DVC's confusion template."""
    actual = np.where(np.asarray(y, dtype=int) == 1, *outcomes)
    return [{"actual": a, "decision": str(d)} for a, d in zip(actual, decision, strict=True)]
