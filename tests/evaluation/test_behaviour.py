"""Behavioural tests pass on the trained models, and each one fails on a model built to break
it: a check that cannot fail teaches nothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.behaviour import BehaviourResult, run_behaviour_tests
from loanrisk.models.train import fit_model
from loanrisk.scoring import features, score
from tests.helpers import LOANS

Scorer = Callable[[pd.DataFrame], np.ndarray]


class Broken:
    """A fitted model with something added to its log-odds: the way to break one promise."""

    def __init__(self, model: object, extra: Scorer) -> None:
        self.model, self.extra = model, extra

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.clip(self.model.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)  # type: ignore[attr-defined]
        logit = np.log(p / (1 - p)) + self.extra(X)
        q = 1 / (1 + np.exp(-logit))
        return np.column_stack([1 - q, q])


class Constant:
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(X), 0.9), np.full(len(X), 0.1)])


def results(model: object, test: pd.DataFrame, params: Params) -> dict[str, BehaviourResult]:
    tolerance = params.evaluate.behaviour_tolerance
    found = run_behaviour_tests(model, test, LOANS, 1 / 6, tolerance, seed=0)
    return {r.name: r for r in found}


@pytest.fixture(scope="module")
def logistic(params: Params, splits: dict[str, pd.DataFrame]) -> object:
    return fit_model("logistic", params, LOANS, splits).estimator


def test_the_tests_are_generated_from_the_declaration(
    logistic: object, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    found = results(logistic, splits["test"], params)
    kinds = {name: r.kind for name, r in found.items()}
    directional = {n for n, k in kinds.items() if k == "directional"}
    assert len(directional) == len(LOANS.directional) == 8
    assert "higher_employment_years_never_raises_risk" in directional  # not constrained
    assert {n for n, k in kinds.items() if k == "invariance"} == {
        "loan_amount_barely_changes_the_score",
        "n_credit_lines_barely_changes_the_score",
    }
    assert sum(k == "minimum_functionality" for k in kinds.values()) == 3
    bare = LOANS.model_copy(update={"reference_applicants": None})
    plain = run_behaviour_tests(logistic, splits["test"], bare, 1 / 6, 0.005, seed=0)
    assert not any(r.kind == "minimum_functionality" for r in plain)


@pytest.mark.parametrize("name", ["rule", "logistic", "candidate"])
def test_the_trained_models_pass_every_behavioural_test(
    name: str, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    model = fit_model(name, params, loans, splits).estimator
    found = results(model, splits["test"], params)
    failed = [f"{n}: {r.detail}" for n, r in found.items() if not r.passed]
    assert failed == []


def _standardised(column: str, frame: pd.DataFrame) -> Scorer:
    values = frame[column].astype(float)
    mean, spread = float(values.mean()), float(values.std()) or 1.0
    return lambda X: (X[column].astype(float).to_numpy() - mean) / spread


@pytest.mark.parametrize("feature", sorted(LOANS.directional))
def test_each_directional_test_fails_for_a_model_that_reverses_its_feature(
    feature: str, logistic: object, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    sign = LOANS.features[feature].sign
    position = _standardised(feature, splits["train"])
    reversed_model = Broken(logistic, lambda X: -sign * 1.0 * position(X))
    name = f"higher_{feature}_never_{'lowers' if sign > 0 else 'raises'}_risk"
    assert results(logistic, splits["test"], params)[name].passed
    assert not results(reversed_model, splits["test"], params)[name].passed


@pytest.mark.parametrize("feature", sorted(LOANS.invariant))
def test_each_invariance_test_fails_for_a_model_that_leans_on_its_feature(
    feature: str, logistic: object, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    leaning = Broken(logistic, lambda X: 0.6 * np.log1p(X[feature].astype(float).to_numpy()))
    name = f"{feature}_barely_changes_the_score"
    assert results(logistic, splits["test"], params)[name].passed
    assert not results(leaning, splits["test"], params)[name].passed


def test_minimum_functionality_fails_for_a_flat_and_for_an_inverted_model(
    logistic: object, params: Params, splits: dict[str, pd.DataFrame]
) -> None:
    flat = results(Constant(), splits["test"], params)
    assert not flat["a_risky_applicant_is_not_approved"].passed
    assert not flat["the_risky_applicant_scores_above_the_safe_one"].passed
    inverted = Broken(logistic, lambda X: -2 * np.log(logistic_odds(logistic, X)))
    upside_down = results(inverted, splits["test"], params)
    assert not upside_down["a_safe_applicant_is_approved"].passed
    assert not upside_down["the_risky_applicant_scores_above_the_safe_one"].passed


def logistic_odds(model: object, X: pd.DataFrame) -> np.ndarray:
    p = np.clip(model.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)  # type: ignore[attr-defined]
    odds: np.ndarray = p / (1 - p)
    return odds


def test_the_protected_attributes_never_reach_a_model(splits: dict[str, pd.DataFrame]) -> None:
    # score() hands a model only the declared features: a model cannot see sex or age, which
    # is why no behavioural test perturbs them (it would pass by construction).
    seen: list[list[str]] = []

    class Peeking:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            seen.append(list(X.columns))
            return Constant().predict_proba(X)

    score(Peeking(), splits["test"], LOANS)
    assert seen == [list(LOANS.feature_names)]
    assert not set(LOANS.protected) & set(features(splits["test"], LOANS).columns)
