"""Performance by segment: where the model is weaker is where it will fail first."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

from loanrisk.evaluation.metrics import expected_calibration_error


def slice_report(
    y: ArrayLike,
    p: ArrayLike,
    threshold: float,
    groups: pd.Series,
    min_size: int,
    n_bins: int = 10,
) -> dict[str, dict[str, Any]]:
    """Per group: size, default rate, mean score, approval rate, ROC-AUC and ECE.

    ROC-AUC and ECE are left out (null) for groups smaller than ``min_size`` or with one class:
    a number from thirty applications is noise presented as a fact.
    """
    y_arr = np.asarray(y, dtype=int)
    p_arr = np.asarray(p, dtype=float)
    out: dict[str, dict[str, Any]] = {}
    for group in sorted(pd.unique(groups.astype(str))):
        mask = (groups.astype(str) == group).to_numpy()
        yg, pg = y_arr[mask], p_arr[mask]
        measurable = mask.sum() >= min_size and 0 < yg.sum() < len(yg)
        out[group] = {
            "n": int(mask.sum()),
            "default_rate": float(yg.mean()),
            "mean_score": float(pg.mean()),
            "approval_rate": float((pg < threshold).mean()),
            "roc_auc": float(roc_auc_score(yg, pg)) if measurable else None,
            "ece": expected_calibration_error(yg, pg, n_bins) if measurable else None,
        }
    return out
