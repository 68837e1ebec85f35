"""Fairness with fairlearn: approval-rate parity (the four-fifths rule) and equalized odds.

Groups come from the declaration's protected attributes (numeric ones by band, see
:meth:`loanrisk.data.declaration.Declaration.group`). Judged on the automatic cost-optimal
decision (approve when the score is below the threshold), before any referral: that is what
the model alone would do to each group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from numpy.typing import ArrayLike


def fairness_report(
    y: ArrayLike, p: ArrayLike, threshold: float, groups: pd.Series
) -> dict[str, Any]:
    """Approval rate per group, its difference and ratio, and the equalized-odds difference."""
    y_arr = np.asarray(y, dtype=int)
    p_arr = np.asarray(p, dtype=float)
    approved = (p_arr < threshold).astype(int)
    flagged = 1 - approved  # 'predicts default', for equalized odds against the true label
    sensitive = groups.to_numpy()
    # Two MetricFrames give every number fairlearn's one-line helpers would, at a third of the
    # cost: equalized-odds difference is the larger of the TPR and FPR differences.
    approvals = MetricFrame(
        metrics={"approval_rate": selection_rate, "count": count},
        y_true=y_arr,
        y_pred=approved,
        sensitive_features=sensitive,
    )
    odds = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_arr,
        y_pred=flagged,
        sensitive_features=sensitive,
    )
    by_group = approvals.by_group
    return {
        "approval_rate_by_group": {str(g): float(v) for g, v in by_group["approval_rate"].items()},
        "count_by_group": {str(g): int(v) for g, v in by_group["count"].items()},
        "selection_rate_difference": float(approvals.difference()["approval_rate"]),
        "selection_rate_ratio": float(approvals.ratio()["approval_rate"]),
        "equalized_odds_difference": float(odds.difference().max()),
    }
