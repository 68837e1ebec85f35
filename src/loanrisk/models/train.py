"""Fit the three models on the training split; the candidate is calibrated on validation.

Pure: data in, fitted estimators and their measures out. Tracking and files are the train
stage's business (`pipelines/train.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loanrisk.config import Params
from loanrisk.data.contract import FEATURES, LABEL
from loanrisk.evaluation.metrics import headline_metrics
from loanrisk.models.calibration import calibrate, choose_calibration
from loanrisk.models.estimators import build_candidate, build_logistic, build_rule

MODEL_NAMES = ("rule", "logistic", "candidate")


@dataclass(frozen=True)
class TrainedModel:
    name: str
    estimator: Any
    hyperparameters: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    notes: dict[str, Any] = field(default_factory=dict)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs: the contract's feature columns, in the contract's order."""
    return frame.loc[:, list(FEATURES)]


def score(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Each row's probability of default; the model sees the feature columns only, never the
    protected attributes, whatever else the frame holds."""
    p: np.ndarray = model.predict_proba(features(frame))[:, 1]
    return p


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL].to_numpy(dtype=int)


def fit_model(name: str, params: Params, splits: dict[str, pd.DataFrame]) -> TrainedModel:
    """Fit model ``name`` on ``splits['train']`` and measure it on valid and test."""
    cfg = params.train
    X, y = features(splits["train"]), labels(splits["train"])
    notes: dict[str, Any] = {}
    estimator: Any
    if name == "rule":
        estimator = build_rule(cfg.rule).fit(X, y)
        hyper: dict[str, Any] = cfg.rule.model_dump()
    elif name == "logistic":
        estimator = build_logistic(cfg.logistic).fit(X, y)
        hyper = cfg.logistic.model_dump()
    elif name == "candidate":
        fitted = build_candidate(cfg.candidate, params.seed).fit(X, y)
        Xv, yv = features(splits["valid"]), labels(splits["valid"])
        choice = choose_calibration(
            fitted,
            Xv,
            yv,
            cfg.candidate.calibration,
            params.evaluate.calibration_bins,
            params.seed,
        )
        estimator = calibrate(fitted, choice.method, Xv, yv)
        hyper = cfg.candidate.model_dump()
        notes = {"calibration": choice.method, "cross_fitted_ece": choice.cross_fitted_ece}
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    metrics = {
        part: headline_metrics(
            labels(splits[part]),
            score(estimator, splits[part]),
            params.evaluate.calibration_bins,
        )
        for part in ("valid", "test")
    }
    return TrainedModel(name, estimator, hyper, metrics, notes)
