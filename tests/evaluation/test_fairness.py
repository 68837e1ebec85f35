"""Fairness figures, checked against fairlearn's own helpers (`loanrisk/evaluation/fairness.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loanrisk.evaluation.fairness import fairness_report


def test_the_four_fifths_ratio_and_equalized_odds_come_from_fairlearn() -> None:
    groups = pd.Series(["a"] * 100 + ["b"] * 100)
    y = np.array([0] * 200)
    p = np.array([0.1] * 100 + [0.1] * 60 + [0.9] * 40)  # a: all approved; b: 60 % approved
    report = fairness_report(y, p, threshold=0.5, groups=groups)
    assert report["approval_rate_by_group"] == {"a": 1.0, "b": 0.6}
    assert report["selection_rate_ratio"] == pytest.approx(0.6)
    assert report["selection_rate_difference"] == pytest.approx(0.4)
    assert report["equalized_odds_difference"] == pytest.approx(0.4)


def test_the_report_agrees_with_fairlearns_one_line_helpers() -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(5)
    groups = pd.Series(rng.choice(["f", "m", "x"], 3000))
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(int)
    report = fairness_report(y, p, threshold=0.4, groups=groups)
    approved = (p < 0.4).astype(int)
    assert report["selection_rate_ratio"] == pytest.approx(
        demographic_parity_ratio(y, approved, sensitive_features=groups)
    )
    assert report["selection_rate_difference"] == pytest.approx(
        demographic_parity_difference(y, approved, sensitive_features=groups)
    )
    assert report["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, 1 - approved, sensitive_features=groups)
    )
