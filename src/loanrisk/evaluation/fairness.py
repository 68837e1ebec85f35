"""Fairness with fairlearn: approval-rate parity (the four-fifths rule) and equalized odds.

Judged on the automatic cost-optimal decision (approve when the score is below the
threshold), before any referral: that is what the model alone would do to each group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)
from numpy.typing import ArrayLike

AGE_BANDS = (18, 25, 35, 50, 65, 120)


def age_band(age: pd.Series) -> pd.Series:
    """Age in bands for slicing and fairness: 18-24, 25-34, 35-49, 50-64, 65+."""
    labels = ["18-24", "25-34", "35-49", "50-64", "65+"]
    return pd.cut(age, bins=list(AGE_BANDS), labels=labels, right=False).astype(str)


def fairness_report(
    y: ArrayLike, p: ArrayLike, threshold: float, groups: pd.Series
) -> dict[str, Any]:
    """Approval rate per group, its difference and ratio, and the equalized-odds difference."""
    y_arr = np.asarray(y, dtype=int)
    p_arr = np.asarray(p, dtype=float)
    approved = (p_arr < threshold).astype(int)
    flagged = 1 - approved  # 'predicts default', for equalized odds against the true label
    sensitive = groups.to_numpy()
    by_group = MetricFrame(
        metrics={"approval_rate": selection_rate, "count": lambda yt, yp: len(yt)},
        y_true=y_arr,
        y_pred=approved,
        sensitive_features=sensitive,
    ).by_group
    return {
        "approval_rate_by_group": {str(g): float(v) for g, v in by_group["approval_rate"].items()},
        "count_by_group": {str(g): int(v) for g, v in by_group["count"].items()},
        "selection_rate_difference": float(
            demographic_parity_difference(y_arr, approved, sensitive_features=sensitive)
        ),
        "selection_rate_ratio": float(
            demographic_parity_ratio(y_arr, approved, sensitive_features=sensitive)
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(y_arr, flagged, sensitive_features=sensitive)
        ),
    }
