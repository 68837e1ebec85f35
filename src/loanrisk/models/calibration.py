"""Choose whether, and how, to calibrate a fitted model's probabilities on the validation split.

Calibrating on a split and judging the result on the same split always flatters isotonic
regression, so each method is judged by two-fold cross-fitting on the validation split:
fit the calibrator on one half, measure ECE on the other, and swap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from loanrisk.evaluation.metrics import expected_calibration_error

METHODS = ("none", "sigmoid", "isotonic")


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen method, each method's cross-fitted ECE, and the chosen method's
    out-of-fold scores on the validation rows (each row scored by a calibrator that did not
    see it): what the candidate's validation metrics are computed from."""

    method: str
    cross_fitted_ece: dict[str, float]
    out_of_fold: np.ndarray


def calibrate(model: Any, method: str, X: pd.DataFrame, y: np.ndarray) -> Any:
    """Wrap the fitted ``model`` in a calibrator fitted on ``(X, y)``; ``none`` returns it."""
    if method == "none":
        return model
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X, y)


def choose_calibration(
    model: Any, X: pd.DataFrame, y: np.ndarray, requested: str, n_bins: int, seed: int
) -> CalibrationChoice:
    """The requested method, or under ``auto`` the one with the lowest cross-fitted ECE."""
    rng = np.random.default_rng(seed)
    half = rng.random(len(X)) < 0.5
    scores = {}
    out_of_fold = {}
    for method in METHODS:
        eces = []
        oof = np.empty(len(X))
        for fit_part in (half, ~half):
            calibrated = calibrate(model, method, X[fit_part], y[fit_part])
            p = calibrated.predict_proba(X[~fit_part])[:, 1]
            oof[~fit_part] = p
            eces.append(expected_calibration_error(y[~fit_part], p, n_bins))
        scores[method] = float(np.mean(eces))
        out_of_fold[method] = oof
    chosen = min(scores, key=scores.__getitem__) if requested == "auto" else requested
    return CalibrationChoice(chosen, scores, out_of_fold[chosen])
