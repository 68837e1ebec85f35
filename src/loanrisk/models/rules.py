"""The rule baseline: a few thresholds a credit officer can read, as a scikit-learn estimator.

An application collects one red flag per rule it breaks; the rules are data of the dataset
declaration (``rule_baseline``). The estimated probability of the positive label for an
application with ``k`` flags is the (smoothed) positive rate of training applications with
``k`` flags, so the baseline is both readable and calibrated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from loanrisk.data.declaration import compare

SMOOTHING = 20
"""Each flag count's rate is pulled towards the overall rate with the weight of this many
applications, so a count seen a handful of times in training does not get an extreme rate."""


class RuleBaseline(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Count red flags; predict the positive rate observed for that count.

    Parameters
    ----------
    rules : tuple of (column, comparison, value)
        One red flag per rule the application breaks, e.g. ``("debt_to_income", ">", 0.45)``
        or ``("employment_type", "==", "unemployed")``.
    """

    def __init__(self, rules: tuple[tuple[str, str, Any], ...] = ()) -> None:
        self.rules = rules

    def flags(self, X: pd.DataFrame) -> np.ndarray:
        """The number of rules each application breaks (0 to ``len(rules)``)."""
        counts = np.zeros(len(X), dtype=int)
        for column, op, value in self.rules:
            counts += compare(X[column].to_numpy(), op, value).astype(int)
        return counts

    def fit(self, X: pd.DataFrame, y: Any) -> RuleBaseline:
        y = np.asarray(y, dtype=float)
        flags = self.flags(X)
        prior = y.mean()
        most = len(self.rules) + 1
        counts = np.bincount(flags, minlength=most).astype(float)
        positives = np.bincount(flags, weights=y, minlength=most)
        smoothed = (positives + SMOOTHING * prior) / (counts + SMOOTHING)
        # More flags never mean less risk, even where few training rows had that many flags.
        self.rate_per_flag_count_ = np.maximum.accumulate(smoothed)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.rate_per_flag_count_[np.minimum(self.flags(X), len(self.rules))]
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
