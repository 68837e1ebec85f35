"""Quality once outcomes are known: one definition for the offline monitor and the service.

The offline monitor measures it per matured month and over the recent months; the service
over its window of outcomes joined from ``POST /feedback``. Same figures, same minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.metrics import expected_calibration_error

MIN_OUTCOMES = 200
"""Fewer outcomes than this: no ROC-AUC or calibration error (a ROC-AUC of fifty outcomes
swings by ten points)."""


def quality(
    y: np.ndarray,
    p: np.ndarray,
    approved: np.ndarray | None = None,
    groups: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """ROC-AUC, calibration error and rates of scored rows with known outcomes ``y``; with
    ``approved`` and ``groups`` (:func:`protected_groups`), the approval rate per group (rows
    whose group is unknown left out)."""
    out: dict[str, Any] = {"outcomes": len(y)}
    if len(y) == 0:
        return out
    out["positive_rate"] = float(np.mean(y))
    out["mean_score"] = float(np.mean(p))
    if len(y) >= MIN_OUTCOMES and 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["ece"] = expected_calibration_error(y, p)
    if approved is not None and groups is not None:
        rates = {}
        for column in groups.columns:
            known = groups[column].notna().to_numpy()
            if known.any():
                by = pd.Series(approved[known]).groupby(groups[column].to_numpy()[known]).mean()
                rates[column] = {str(k): float(v) for k, v in by.items()}
        out["approval_rate"] = rates
    return out


def protected_groups(frame: pd.DataFrame, dataset: Declaration) -> pd.DataFrame:
    """Each row's group under every protected grouping (``sex``, ``age_band``), missing where
    the attribute is (the API takes protected attributes as optional)."""
    out = pd.DataFrame(index=frame.index)
    for group, column in dataset.group_names.items():
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        known = values.notna()
        out[group] = pd.Series(pd.NA, index=frame.index, dtype="object")
        if known.any():
            out.loc[known, group] = dataset.group(frame[known], group)
    return out
