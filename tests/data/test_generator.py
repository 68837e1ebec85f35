"""The generator: seeded, monthly, documented, and each scenario has its measurable effect."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loanrisk.data import generator, scenarios
from loanrisk.data.contract import contract_for
from loanrisk.data.generator import generate
from loanrisk.data.validation import validate_batch
from tests.helpers import AS_OF, LOANS, small_spec

TIMESTAMP = LOANS.timestamp.column if LOANS.timestamp else ""
LABEL = LOANS.label.column
FEATURES = LOANS.feature_names
CATEGORIES = LOANS.categories


def test_the_same_seed_gives_the_same_batch(batch: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(small_spec()), batch)


def test_another_seed_gives_another_batch(batch: pd.DataFrame) -> None:
    other = generate(small_spec(seed=8))
    assert not other["income"].equals(batch["income"])


def test_a_month_is_the_same_whatever_range_it_is_generated_in() -> None:
    whole = generate(small_spec(n=1200))
    alone = generate(dataclasses.replace(small_spec(n=100), start=dt.date(2024, 3, 1), months=1))
    march = whole[whole[TIMESTAMP].dt.month == 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(march.drop(columns=LABEL), alone.drop(columns=LABEL))


def test_rows_spread_evenly_over_the_months(batch: pd.DataFrame) -> None:
    per_month = batch[TIMESTAMP].dt.to_period("M").value_counts()
    assert len(per_month) == 12
    assert per_month.max() - per_month.min() <= 1


def test_labels_are_hidden_until_they_mature(batch: pd.DataFrame) -> None:
    matured = batch[TIMESTAMP] + pd.DateOffset(months=12) <= pd.Timestamp(AS_OF)
    assert batch.loc[~matured, LABEL].isna().all()
    spec = dataclasses.replace(small_spec(), as_of=dt.date(2026, 1, 1))
    assert generate(spec)[LABEL].notna().all()


def test_the_generator_makes_exactly_the_declared_columns(batch: pd.DataFrame) -> None:
    assert sorted(batch.columns) == sorted(LOANS.all_columns)
    result = validate_batch(batch, contract_for(LOANS, AS_OF, max_staleness_days=45))
    assert result.quarantine.empty


def test_the_generators_domains_are_the_declarations() -> None:
    assert LOANS.protected["sex"].categories == generator.SEXES
    assert LOANS.categories["region"] == generator.REGIONS
    assert LOANS.categories["loan_purpose"] == generator.LOAN_PURPOSES
    assert LOANS.features["loan_term_months"].values == generator.LOAN_TERMS
    assert generator.DECLARATION == "datasets/loans.yaml"


def test_the_causal_structure_is_documented_for_every_effect() -> None:
    for name, (coefficient, unit) in generator.NUMERIC_EFFECTS.items():
        assert name in FEATURES and coefficient != 0 and unit
    for column, effects in generator.CATEGORY_EFFECTS.items():
        assert set(effects) == set(CATEGORIES[column])


def _default_rate(frame: pd.DataFrame) -> float:
    return float(frame[LABEL].dropna().mean())


def _full_labels(scenario: str) -> pd.DataFrame:
    return generate(dataclasses.replace(small_spec(scenario, n=12000), as_of=dt.date(2027, 1, 1)))


def test_the_feature_effects_point_the_documented_way() -> None:
    frame = _full_labels("none")
    delinquent = frame["past_delinquencies"] > 0
    assert _default_rate(frame[delinquent]) > _default_rate(frame[~delinquent]) + 0.03
    assert _default_rate(frame[frame["debt_to_income"] > 0.45]) > _default_rate(
        frame[frame["debt_to_income"] <= 0.45]
    )


def test_recession_lowers_incomes_and_raises_the_default_rate() -> None:
    normal, recession = _full_labels("none"), _full_labels("recession")
    assert recession["income"].median() < 0.9 * normal["income"].median()
    assert _default_rate(recession) > _default_rate(normal) + 0.03
    assert (recession["employment_type"] == "unemployed").mean() > (
        normal["employment_type"] == "unemployed"
    ).mean() + 0.05


def test_new_category_introduces_an_unseen_loan_purpose() -> None:
    frame = generate(small_spec("new_category"))
    share = (frame["loan_purpose"] == scenarios.NEW_PURPOSE).mean()
    assert scenarios.NEW_PURPOSE not in CATEGORIES["loan_purpose"]
    assert share == pytest.approx(scenarios.NEW_CATEGORY_SHARE, abs=0.03)


def test_null_feed_blanks_the_supplier_columns() -> None:
    frame = generate(small_spec("null_feed"))
    for column in scenarios.NULL_FEED_COLUMNS:
        assert frame[column].isna().mean() == pytest.approx(scenarios.NULL_FEED_SHARE, abs=0.03)
    assert frame["loan_amount"].notna().all()


def test_unit_change_reports_income_in_thousands(batch: pd.DataFrame) -> None:
    frame = generate(small_spec("unit_change"))
    ratio = batch["income"].median() / frame["income"].median()
    assert ratio == pytest.approx(1000, rel=0.01)


def test_a_scenario_starts_at_its_date() -> None:
    spec = dataclasses.replace(small_spec("unit_change"), scenario_start=dt.date(2024, 7, 1))
    frame = generate(spec)
    late = frame[TIMESTAMP] >= pd.Timestamp("2024-07-01")
    assert frame.loc[late, "income"].max() < 1000
    assert frame.loc[~late, "income"].min() >= 1000


def test_generated_values_stay_in_plausible_ranges(batch: pd.DataFrame) -> None:
    assert batch["age"].between(18, 80).all()
    assert np.all(batch["employment_years"] <= batch["age"] - 18)
    labelled = _full_labels("none")
    assert labelled[LABEL].isin([0, 1]).all()
    assert 0.05 < _default_rate(labelled) < 0.2
