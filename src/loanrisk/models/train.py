"""Fit the three models on the training split; the candidate is calibrated on validation.

Pure: data in, fitted estimators and their validation measures out. The test split is not
an input: it is kept for the verdict (`pipelines/evaluate.py` and the gate), so nothing
chosen here can have been chosen on it. Tracking and files are the train stage's business
(`pipelines/train.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.metrics import headline_metrics
from loanrisk.models.calibration import calibrate, choose_calibration
from loanrisk.models.estimators import build_candidate, build_logistic, build_rule
from loanrisk.scoring import features, labels, score

__all__ = ["MODEL_NAMES", "TrainedModel", "features", "fit_model", "labels", "score"]

MODEL_NAMES = ("rule", "logistic", "candidate")


@dataclass(frozen=True)
class TrainedModel:
    name: str
    estimator: Any
    hyperparameters: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    notes: dict[str, Any] = field(default_factory=dict)


TRAINING_THREADS = 1
"""OpenMP and BLAS threads for fitting. The gradient-boosted model stores the thread count
it was fitted with, and a multi-threaded BLAS sums in an order that depends on the thread
count (the logistic coefficients differed in the 14th digit between one and two threads),
so a count fixed here rather than the machine's core count makes the saved models, and so
`dvc.lock`, the same on every machine. The fits take a few seconds."""


def fit_model(
    name: str, params: Params, dataset: Declaration, splits: dict[str, pd.DataFrame]
) -> TrainedModel:
    """Fit model ``name`` on ``splits['train']`` and measure it on ``splits['valid']``.

    The candidate's calibrator is fitted on the validation rows, so its validation measures
    come from out-of-fold scores (each row scored by a calibrator fitted on the other half):
    measured in-sample they would flatter it.
    """
    with threadpool_limits(limits=TRAINING_THREADS):
        return _fit(name, params, dataset, splits)


def _fit(
    name: str, params: Params, dataset: Declaration, splits: dict[str, pd.DataFrame]
) -> TrainedModel:
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
        valid_scores = choice.out_of_fold
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    if name != "candidate":
        valid_scores = score(estimator, splits["valid"], dataset)
    bins = params.evaluate.calibration_bins
    metrics = {"valid": headline_metrics(labels(splits["valid"], dataset), valid_scores, bins)}
    return TrainedModel(name, estimator, hyper, metrics, notes)
