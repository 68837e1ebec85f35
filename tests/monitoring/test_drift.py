"""The drift engine's figures against independent implementations, and its small-sample rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loanrisk.config import MonitorConfig
from loanrisk.data.declaration import Declaration
from loanrisk.data.generator import generate_month
from loanrisk.monitoring.drift import EXACT_KS_P_UP_TO, compare, ks_two_sample
from loanrisk.monitoring.profile import MISSING, SCORE, UNSEEN, Profile, build_profile, smoothed


@pytest.fixture(scope="module")
def reference(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return splits["train"]


@pytest.fixture(scope="module")
def profile(reference: pd.DataFrame, loans: Declaration) -> Profile:
    scores = np.random.default_rng(0).random(len(reference))
    return build_profile(reference, loans, scores)


def month(scenario: str = "none", n: int = 2000) -> pd.DataFrame:
    return generate_month(42, pd.Timestamp("2025-07-01"), n, scenario)


def independent_psi(reference: np.ndarray, current: np.ndarray, edges: np.ndarray) -> float:
    """PSI written out the textbook way: histogram counts, half a count per bin, one sum."""
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    # np.histogram's bins are [a, b) and the profile's (a, b]: shift the edges by one ulp.
    r = np.histogram(reference, np.nextafter(bins, np.inf))[0].astype(float)
    c = np.histogram(current, np.nextafter(bins, np.inf))[0].astype(float)
    r, c = np.append(r, 0), np.append(c, 0)  # the missing bin, empty on both sides here
    p, q = (r + 0.5) / (r.sum() + 0.5 * len(r)), (c + 0.5) / (c.sum() + 0.5 * len(c))
    return float(np.sum((q - p) * np.log(q / p)))


def test_profile_round_trips_and_bins_cover_every_value(profile: Profile) -> None:
    assert Profile.from_json(profile.to_json()) == profile
    income = profile.features["income"]
    assert income.rows == profile.rows and len(income.edges) == 9
    assert income.labels()[-1] == MISSING
    term = profile.features["loan_term_months"]
    assert len(term.edges) <= 4  # five distinct terms: no empty decile bins
    purpose = profile.features["loan_purpose"]
    assert purpose.labels()[-2:] == [UNSEEN, MISSING] and purpose.counts[-2:] == (0, 0)
    guarantor = profile.features["has_guarantor"]  # a boolean bins as 0/1
    assert guarantor.bin_of_one(True) != guarantor.bin_of_one(False)
    assert SCORE in profile.features


def test_single_values_fall_in_the_same_bins_as_arrays(profile: Profile) -> None:
    batch = month()
    for name, feature in profile.features.items():
        if name == SCORE:
            continue
        vectorised = feature.bin_of(batch[name])
        one_by_one = [feature.bin_of_one(v) for v in batch[name].head(300)]
        assert vectorised[:300].tolist() == one_by_one, name


def test_psi_agrees_with_a_textbook_implementation(
    profile: Profile, reference: pd.DataFrame
) -> None:
    current = month("recession")
    report = compare(profile, current)
    for name in ("income", "loan_amount", "debt_to_income", "credit_utilization"):
        edges = np.array(profile.features[name].edges)
        expected = independent_psi(reference[name].to_numpy(), current[name].to_numpy(), edges)
        assert report.features[name].psi == pytest.approx(expected, rel=1e-9), name


def test_jensen_shannon_agrees_with_scipy(profile: Profile) -> None:
    current = month("new_category")
    report = compare(profile, current)
    for name in ("loan_purpose", "income", "region"):
        feature = profile.features[name]
        r = smoothed(np.array(feature.counts), 0.5)
        c = smoothed(np.bincount(feature.bin_of(current[name]), minlength=feature.n_bins), 0.5)
        assert report.features[name].js == pytest.approx(jensenshannon(r, c), abs=1e-12), name


def test_ks_agrees_with_scipy(reference: pd.DataFrame) -> None:
    current = month("recession")
    for name in ("income", "employment_years", "n_credit_lines"):
        a, b = reference[name].to_numpy(float), current[name].to_numpy(float)
        ours = ks_two_sample(a, b)
        theirs = stats.ks_2samp(a, b, method="asymp")
        assert ours[0] == pytest.approx(theirs.statistic, abs=1e-12), name
        assert ours[1] == pytest.approx(theirs.pvalue, rel=1e-6, abs=1e-300), name


def test_ks_p_value_beyond_the_finite_n_range_stays_close_to_scipy() -> None:
    """Above EXACT_KS_P_UP_TO the p-value comes from the limit distribution: the statistic
    is still exact, the p-value within 1 % of scipy's finite-n one (0.15 % at 500,000)."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 30_000), rng.normal(0.02, 1, 30_000)  # effective size 15,000
    d, p = ks_two_sample(a, b)
    theirs = stats.ks_2samp(a, b, method="asymp")
    assert EXACT_KS_P_UP_TO < 15_000 and 0.01 < theirs.pvalue < 0.99
    assert d == pytest.approx(theirs.statistic, abs=1e-12)
    assert p == pytest.approx(theirs.pvalue, rel=1e-2)


def test_the_same_world_does_not_drift_and_a_shifted_one_does(
    profile: Profile, reference: pd.DataFrame
) -> None:
    calm = compare(profile, month(), reference=reference)
    assert calm.drifted_features == () and not calm.drift
    shifted = month()
    shifted["credit_utilization"] = np.minimum(shifted["credit_utilization"] + 0.2, 1.0)
    report = compare(profile, shifted, reference=reference)
    assert report.drifted_features == ("credit_utilization",)
    assert any(r.startswith("KS") for r in report.features["credit_utilization"].reasons)


def test_small_samples_get_figures_but_no_verdict(profile: Profile) -> None:
    broken = month(n=100)
    broken["income"] = broken["income"] / 1000
    report = compare(profile, broken, MonitorConfig(min_rows=500))
    assert report.features["income"].psi > 1 and not report.enough_rows
    assert report.drifted_features == () and not report.drift


def test_an_empty_bin_does_not_make_psi_infinite(profile: Profile) -> None:
    nulls = month()
    nulls["income"] = np.nan
    report = compare(profile, nulls)
    assert np.isfinite(report.features["income"].psi)
    assert report.features["income"].missing_current == 1.0
    assert report.feed_problems == ("income",)
