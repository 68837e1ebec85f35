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
from loanrisk.data.declaration import Declaration
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


def features(frame: pd.DataFrame, dataset: Declaration) -> pd.DataFrame:
    """The model's inputs: the declared feature columns, in the models' order."""
    return frame.loc[:, list(dataset.feature_names)]


def score(model: Any, frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    """Each row's probability of the positive label; the model sees the feature columns
    only, never the protected attributes, whatever else the frame holds."""
    p: np.ndarray = model.predict_proba(features(frame, dataset))[:, 1]
    return p


def labels(frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    """The label as 0/1 (the contract stores the positive value as 1)."""
    return frame[dataset.label.column].to_numpy(dtype=int)


def fit_model(
    name: str, params: Params, dataset: Declaration, splits: dict[str, pd.DataFrame]
) -> TrainedModel:
    """Fit model ``name`` on ``splits['train']`` and measure it on valid and test."""
    cfg = params.train
    X, y = features(splits["train"], dataset), labels(splits["train"], dataset)
    notes: dict[str, Any] = {}
    estimator: Any
    if name == "rule":
        estimator = build_rule(dataset).fit(X, y)
        hyper: dict[str, Any] = {
            f"flag{i}": f"{column} {op} {value}"
            for i, (column, op, value) in enumerate(estimator.rules)
        }
    elif name == "logistic":
        estimator = build_logistic(cfg.logistic, dataset).fit(X, y)
        hyper = cfg.logistic.model_dump()
    elif name == "candidate":
        fitted = build_candidate(cfg.candidate, dataset, params.seed).fit(X, y)
        Xv, yv = features(splits["valid"], dataset), labels(splits["valid"], dataset)
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
            labels(splits[part], dataset),
            score(estimator, splits[part], dataset),
            params.evaluate.calibration_bins,
        )
        for part in ("valid", "test")
    }
    return TrainedModel(name, estimator, hyper, metrics, notes)
