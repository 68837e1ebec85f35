"""Per-slice figures (`loanrisk/evaluation/slices.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loanrisk.evaluation.slices import slice_report


def test_small_slices_get_no_auc() -> None:
    y = np.array([0, 1] * 60)
    p = np.linspace(0, 1, 120)
    groups = pd.Series(["big"] * 110 + ["tiny"] * 10)
    report = slice_report(y, p, 0.5, groups, min_size=50)
    assert report["big"]["roc_auc"] is not None
    assert report["tiny"]["roc_auc"] is None and report["tiny"]["n"] == 10
