"""Every model is a scikit-learn estimator over the raw feature frame, with predict_proba."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from loanrisk.config import Params
from loanrisk.models.calibration import choose_calibration
from loanrisk.models.estimators import build_candidate, build_logistic, build_rule
from loanrisk.models.rules import RuleBaseline
from loanrisk.models.train import MODEL_NAMES, features, fit_model, labels


def test_rule_baseline_flags_are_readable_and_raise_the_risk(
    splits: dict[str, pd.DataFrame],
) -> None:
    X, y = features(splits["train"]), labels(splits["train"])
    rule = RuleBaseline().fit(X, y)
    rates = rule.rate_per_flag_count_
    assert rates[0] < rates[1] < rates[2]
    risky = X.iloc[[0]].assign(past_delinquencies=5, debt_to_income=0.9)
    safe = X.iloc[[0]].assign(
        past_delinquencies=0, debt_to_income=0.1, credit_utilization=0.1, employment_type="salaried"
    )
    assert rule.flags(risky)[0] >= 2 and rule.flags(safe)[0] == 0
    assert rule.predict_proba(risky)[0, 1] > rule.predict_proba(safe)[0, 1]
    assert clone(rule).get_params() == rule.get_params()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_fits_and_beats_chance_out_of_time(
    name: str, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    model = fit_model(name, params, splits)
    p = model.estimator.predict_proba(features(splits["test"]))
    assert p.shape == (len(splits["test"]), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert model.metrics["test"]["roc_auc"] > 0.6
    assert set(model.metrics) == {"valid", "test"}


def test_fitting_twice_gives_identical_scores(
    params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"]), labels(splits["train"])
    first = build_candidate(params.train.candidate, params.seed).fit(X, y)
    second = build_candidate(params.train.candidate, params.seed).fit(X, y)
    Xt = features(splits["test"])
    np.testing.assert_array_equal(first.predict_proba(Xt), second.predict_proba(Xt))


@pytest.mark.parametrize("builder", ["logistic", "candidate"])
def test_an_unseen_category_is_scored_not_refused(
    builder: str, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"]), labels(splits["train"])
    model = (
        build_logistic(params.train.logistic)
        if builder == "logistic"
        else build_candidate(params.train.candidate, params.seed)
    ).fit(X, y)
    novel = X.head(3).assign(loan_purpose="green_energy")
    p = model.predict_proba(novel)[:, 1]
    assert np.isfinite(p).all()


def test_the_rule_reads_its_thresholds_from_params(params: Params) -> None:
    rule = build_rule(params.train.rule)
    assert rule.max_delinquencies == params.train.rule.max_delinquencies


def test_calibration_auto_picks_the_lowest_cross_fitted_ece(
    params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"]), labels(splits["train"])
    fitted = build_candidate(params.train.candidate, params.seed).fit(X, y)
    Xv, yv = features(splits["valid"]), labels(splits["valid"])
    choice = choose_calibration(fitted, Xv, yv, "auto", 10, seed=0)
    assert choice.method == min(choice.cross_fitted_ece, key=choice.cross_fitted_ece.__getitem__)
    forced = choose_calibration(fitted, Xv, yv, "sigmoid", 10, seed=0)
    assert forced.method == "sigmoid"
