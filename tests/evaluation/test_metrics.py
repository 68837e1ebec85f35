"""The measures: checked against scikit-learn and against cases with a known answer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from loanrisk.evaluation.metrics import (
    _fast_auc,
    bootstrap_roc_auc,
    expected_calibration_error,
    headline_metrics,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=4, max_size=200).filter(
        lambda rows: 0 < sum(r[0] for r in rows) < len(rows)
    )
)
def test_the_fast_auc_equals_scikit_learns_even_with_ties(rows: list[tuple[int, int]]) -> None:
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows], dtype=float) / 20
    assert np.isclose(_fast_auc(y, p), roc_auc_score(y, p))


def test_ece_is_zero_for_scores_that_match_the_observed_rates() -> None:
    y = np.array([0, 0, 0, 1] * 25 + [1, 1, 1, 0] * 25)
    p = np.array([0.25] * 100 + [0.75] * 100)
    assert expected_calibration_error(y, p) == 0.0
    assert np.isclose(expected_calibration_error(y, np.full(200, 0.9)), 0.4)


def test_headline_metrics_cover_discrimination_and_calibration() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)
    m = headline_metrics(y, p)
    assert set(m) == {"roc_auc", "pr_auc", "brier", "log_loss", "ece"}
    assert 0.7 < m["roc_auc"] < 0.9 and m["ece"] < 0.05


def test_the_bootstrap_interval_brackets_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(1500)
    y = (rng.random(1500) < p).astype(int)
    lo, hi = bootstrap_roc_auc(y, p, n_samples=100, seed=3)
    assert lo < roc_auc_score(y, p) < hi
    assert (lo, hi) == bootstrap_roc_auc(y, p, n_samples=100, seed=3)
