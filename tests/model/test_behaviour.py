"""Behavioural tests pass on the trained candidate and catch models that break the promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.behaviour import run_behaviour_tests
from loanrisk.models.train import fit_model
from tests.conftest import LOANS


class SexAware:
    """A model that wrongly reads a protected attribute (it sees the whole frame)."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.where(X["employment_type"] == "unemployed", 0.5, 0.1)
        return np.column_stack([1 - p, p])


class Backwards:
    """A model that lowers the risk with every delinquency."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.clip(0.5 - 0.1 * X["past_delinquencies"].to_numpy(), 0.01, 0.99)
        return np.column_stack([1 - p, p])


def _results(model: object, test: pd.DataFrame) -> dict[str, bool]:
    results = run_behaviour_tests(model, test, LOANS, threshold=1 / 6, tolerance=0.01, seed=0)
    return {r.name: r.passed for r in results}


def test_the_tests_are_generated_from_the_declaration(splits: dict[str, pd.DataFrame]) -> None:
    names = set(_results(SexAware(), splits["test"]))
    assert names == {
        "higher_income_never_raises_risk",
        "higher_past_delinquencies_never_lowers_risk",
        "higher_credit_utilization_never_lowers_risk",
        "higher_debt_to_income_never_lowers_risk",
        "sex_does_not_change_the_score",
        "age_does_not_change_the_score",
        "a_safe_applicant_is_approved",
        "a_risky_applicant_is_not_approved",
        "the_risky_applicant_scores_above_the_safe_one",
    }
    bare = LOANS.model_copy(update={"reference_applicants": None})
    results = run_behaviour_tests(SexAware(), splits["test"], bare, 1 / 6, 0.01, seed=0)
    assert not any(r.kind == "minimum_functionality" for r in results)


@pytest.mark.parametrize("name", ["logistic", "candidate"])
def test_the_trained_models_pass_every_behavioural_test(
    name: str, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> None:
    model = fit_model(name, params, loans, splits).estimator
    failed = [n for n, ok in _results(model, splits["test"]).items() if not ok]
    assert failed == []


def test_a_model_that_lowers_risk_with_delinquencies_fails(splits: dict[str, pd.DataFrame]) -> None:
    results = _results(Backwards(), splits["test"])
    assert results["higher_past_delinquencies_never_lowers_risk"] is False
    assert results["sex_does_not_change_the_score"] is True


def test_the_protected_attributes_never_reach_a_model(splits: dict[str, pd.DataFrame]) -> None:
    # score() hands a model only the declared features: a model cannot see sex or age.
    class Peeking:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            assert "sex" not in X.columns and "age" not in X.columns
            return SexAware().predict_proba(X)

    results = _results(Peeking(), splits["test"])
    assert results["sex_does_not_change_the_score"] and results["age_does_not_change_the_score"]


def test_a_model_that_scores_everyone_alike_fails_minimum_functionality(
    splits: dict[str, pd.DataFrame],
) -> None:
    class Constant:
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            return np.column_stack([np.full(len(X), 0.9), np.full(len(X), 0.1)])

    results = _results(Constant(), splits["test"])
    assert results["a_risky_applicant_is_not_approved"] is False
    assert results["the_risky_applicant_scores_above_the_safe_one"] is False
