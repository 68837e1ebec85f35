"""The rule baseline: a few thresholds a credit officer can read, as a scikit-learn estimator.

An application collects one red flag per rule it breaks. The estimated probability of
default for an application with ``k`` flags is the (smoothed) default rate of training
applications with ``k`` flags, so the baseline is both readable and calibrated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin


class RuleBaseline(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Count red flags; predict the default rate observed for that count.

    Parameters
    ----------
    max_delinquencies : int
        More past delinquencies than this is a flag.
    max_debt_to_income : float
        A debt-to-income ratio above this is a flag.
    max_credit_utilization : float
        Revolving utilisation above this is a flag.
    """

    def __init__(
        self,
        max_delinquencies: int = 1,
        max_debt_to_income: float = 0.45,
        max_credit_utilization: float = 0.8,
    ) -> None:
        self.max_delinquencies = max_delinquencies
        self.max_debt_to_income = max_debt_to_income
        self.max_credit_utilization = max_credit_utilization

    def flags(self, X: pd.DataFrame) -> np.ndarray:
        """The number of rules each application breaks (0 to 4)."""
        flags: np.ndarray = (
            (X["past_delinquencies"].to_numpy() > self.max_delinquencies).astype(int)
            + (X["debt_to_income"].to_numpy() > self.max_debt_to_income)
            + (X["credit_utilization"].to_numpy() > self.max_credit_utilization)
            + (X["employment_type"].to_numpy() == "unemployed")
        )
        return flags

    def fit(self, X: pd.DataFrame, y: Any) -> RuleBaseline:
        y = np.asarray(y, dtype=float)
        flags = self.flags(X)
        prior = y.mean()
        counts = np.bincount(flags, minlength=5).astype(float)
        defaults = np.bincount(flags, weights=y, minlength=5)
        # Smooth each rate towards the overall rate with the weight of 20 applications.
        smoothed = (defaults + 20 * prior) / (counts + 20)
        # More flags never mean less risk, even where few training rows had that many flags.
        self.rate_per_flag_count_ = np.maximum.accumulate(smoothed)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.rate_per_flag_count_[np.minimum(self.flags(X), 4)]
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
