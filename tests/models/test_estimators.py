"""Every model is a scikit-learn estimator over the raw feature frame, with predict_proba."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.metrics import expected_calibration_error
from loanrisk.models.calibration import choose_calibration
from loanrisk.models.estimators import build_candidate, build_logistic, build_rule
from loanrisk.models.train import MODEL_NAMES, features, fit_model, labels


def test_rule_baseline_flags_are_readable_and_raise_the_risk(
    loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"], loans), labels(splits["train"], loans)
    rule = build_rule(loans).fit(X, y)
    assert len(rule.rate_per_flag_count_) == len(loans.rule_baseline) + 1
    rates = rule.rate_per_flag_count_
    assert rates[0] < rates[1] < rates[2]
    risky = X.iloc[[0]].assign(past_delinquencies=5, debt_to_income=0.9)
    safe = X.iloc[[0]].assign(
        past_delinquencies=0, debt_to_income=0.1, credit_utilization=0.1, employment_type="salaried"
    )
    assert rule.flags(risky)[0] >= 2 and rule.flags(safe)[0] == 0
    assert rule.predict_proba(risky)[0, 1] > rule.predict_proba(safe)[0, 1]
    assert clone(rule).get_params() == rule.get_params()


FLOOR = {"rule": 0.68, "logistic": 0.76, "candidate": 0.77}
"""ROC-AUC each model reaches out of time on the fixture's test split, with some margin."""


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_fits_on_train_and_valid_alone_and_ranks_out_of_time(
    name: str, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    model = fit_model(name, params, loans, {k: splits[k] for k in ("train", "valid")})
    assert set(model.metrics) == {"valid"}  # the test split is not an input of training
    p = model.estimator.predict_proba(features(splits["test"], loans))
    assert p.shape == (len(splits["test"]), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert roc_auc_score(labels(splits["test"], loans), p[:, 1]) > FLOOR[name]
    assert model.metrics["valid"]["roc_auc"] > FLOOR[name]


def test_the_candidates_validation_figures_are_out_of_fold(
    params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    model = fit_model("candidate", params, loans, splits)
    y = labels(splits["valid"], loans)
    in_sample = expected_calibration_error(
        y, model.estimator.predict_proba(features(splits["valid"], loans))[:, 1], 10
    )
    chosen = model.notes["calibration"]
    assert model.metrics["valid"]["ece"] == pytest.approx(
        model.notes["cross_fitted_ece"][chosen], abs=0.01
    )
    if chosen != "none":  # a calibrator judged on its own fitting rows looks better than it is
        assert model.metrics["valid"]["ece"] != in_sample


def test_fitting_twice_gives_identical_scores(
    params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"], loans), labels(splits["train"], loans)
    first = build_candidate(params.train.candidate, loans, params.seed).fit(X, y)
    second = build_candidate(params.train.candidate, loans, params.seed).fit(X, y)
    Xt = features(splits["test"], loans)
    np.testing.assert_array_equal(first.predict_proba(Xt), second.predict_proba(Xt))


@pytest.mark.parametrize("builder", ["logistic", "candidate"])
def test_an_unseen_category_is_scored_not_refused(
    builder: str, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"], loans), labels(splits["train"], loans)
    model = (
        build_logistic(params.train.logistic, loans)
        if builder == "logistic"
        else build_candidate(params.train.candidate, loans, params.seed)
    ).fit(X, y)
    novel = X.head(3).assign(loan_purpose="green_energy")
    p = model.predict_proba(novel)[:, 1]
    assert np.isfinite(p).all()


def test_the_rule_reads_its_flags_from_the_declaration(loans: Declaration) -> None:
    rule = build_rule(loans)
    assert rule.rules[0] == ("past_delinquencies", ">", 1)
    assert [r[0] for r in rule.rules] == [f.column for f in loans.rule_baseline]


def test_the_candidate_is_constrained_on_the_declared_monotone_features(
    params: Params, loans: Declaration
) -> None:
    model = build_candidate(params.train.candidate, loans, params.seed)
    constraints = model.named_steps["model"].monotonic_cst
    order = loans.categorical_features + loans.numeric_features
    assert dict(zip(order, constraints, strict=True)) == {
        name: loans.monotone.get(name, 0) for name in order
    }


def test_calibration_auto_picks_the_lowest_cross_fitted_ece(
    params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    X, y = features(splits["train"], loans), labels(splits["train"], loans)
    fitted = build_candidate(params.train.candidate, loans, params.seed).fit(X, y)
    Xv, yv = features(splits["valid"], loans), labels(splits["valid"], loans)
    choice = choose_calibration(fitted, Xv, yv, "auto", 10, seed=0)
    assert choice.method == min(choice.cross_fitted_ece, key=choice.cross_fitted_ece.__getitem__)
    forced = choose_calibration(fitted, Xv, yv, "sigmoid", 10, seed=0)
    assert forced.method == "sigmoid"
