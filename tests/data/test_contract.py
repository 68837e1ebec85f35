"""The contract built from the loan declaration: each check catches its own bad input, and
no row is ever lost."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from loanrisk.data.contract import contract_for, contract_json_schema
from loanrisk.data.generator import generate
from loanrisk.data.validation import FAILED_CHECKS, ensure_acceptable, validate_batch
from loanrisk.errors import ContractError
from tests.helpers import AS_OF, LOANS, small_spec

SCHEMA = contract_for(LOANS, AS_OF, max_staleness_days=45)


def test_a_clean_batch_passes_whole(batch: pd.DataFrame) -> None:
    result = validate_batch(batch, SCHEMA)
    assert len(result.valid) == len(batch)
    assert result.quarantine.empty
    assert result.report()["failures"] == []


def _break(frame: pd.DataFrame, row: int, column: str, value: Any) -> pd.DataFrame:
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("age", 12, "age:greater_than_or_equal_to(18)"),
        ("income", -5.0, "income:greater_than_or_equal_to(1000)"),
        ("sex", "unknown", "sex:isin"),
        ("loan_purpose", "yacht", "loan_purpose:isin"),
        ("loan_term_months", 7, "loan_term_months:isin"),
        ("credit_utilization", 3.0, "credit_utilization:less_than_or_equal_to(2)"),
        ("income", None, "income:not_nullable"),
        ("application_id", "loan-17", "application_id:str_matches"),
        ("defaulted", 2, "defaulted:isin"),
        ("income", "a lot", "income:coerce_dtype"),
        ("employment_years", 50.0, "employment_within_working_life"),
        ("credit_history_years", 40.0, "credit_history_within_adult_life"),
        ("loan_amount", 900_000.0, "loan_at_most_five_incomes"),
        ("applied_at", pd.Timestamp("2025-03-01"), "timestamp_not_in_future"),
    ],
)
def test_each_check_quarantines_its_own_bad_value(
    fresh_batch: pd.DataFrame, column: str, value: Any, check: str
) -> None:
    row = 10
    fresh_batch.loc[row, "age"] = 30  # young enough for the cross-column rules to bite
    result = validate_batch(_break(fresh_batch, row, column, value), SCHEMA)
    assert len(result.quarantine) == 1
    assert check in result.quarantine[FAILED_CHECKS].iloc[0]
    assert result.quarantine["application_id"].iloc[0] == fresh_batch.loc[row, "application_id"]
    assert len(result.valid) == len(fresh_batch) - 1


def test_a_duplicate_id_quarantines_every_copy(fresh_batch: pd.DataFrame) -> None:
    fresh_batch.loc[5, "application_id"] = fresh_batch.loc[6, "application_id"]
    result = validate_batch(fresh_batch, SCHEMA)
    assert len(result.quarantine) == 2
    assert (result.quarantine[FAILED_CHECKS] == "application_id:field_uniqueness").all()


def test_a_label_known_before_it_could_mature_is_quarantined(fresh_batch: pd.DataFrame) -> None:
    young = fresh_batch.index[fresh_batch["defaulted"].isna()][0]
    fresh_batch.loc[young, "defaulted"] = 1
    result = validate_batch(fresh_batch, SCHEMA)
    assert result.quarantine[FAILED_CHECKS].tolist() == ["label_not_before_maturity"]


def test_valid_rows_carry_the_contract_types(fresh_batch: pd.DataFrame) -> None:
    fresh_batch["age"] = fresh_batch["age"].astype(float)
    result = validate_batch(_break(fresh_batch, 3, "income", "x"), SCHEMA)
    assert result.valid["age"].dtype == "int64"
    assert result.valid["income"].dtype == "float64"


@pytest.mark.parametrize(
    "scenario", ["none", "recession", "new_category", "null_feed", "unit_change"]
)
def test_every_row_is_accounted_for(scenario: str) -> None:
    frame = generate(small_spec(scenario, n=1500))
    report = validate_batch(frame, SCHEMA).report()
    assert report["rows_in"] == len(frame) == report["rows_valid"] + report["rows_quarantined"]


@pytest.mark.parametrize(
    ("scenario", "column", "check"),
    [
        ("new_category", "loan_purpose", "isin"),
        ("null_feed", "income", "not_nullable"),
        ("unit_change", "income", "greater_than_or_equal_to(1000)"),
    ],
)
def test_data_quality_scenarios_are_caught_and_named(
    scenario: str, column: str, check: str
) -> None:
    result = validate_batch(generate(small_spec(scenario, n=1500)), SCHEMA)
    assert any(f["column"] == column and check in f["check"] for f in result.failures)
    with pytest.raises(ContractError, match="rows quarantined"):
        ensure_acceptable(result, max_quarantine_share=0.02)


def test_recession_is_valid_data_the_contract_must_let_through() -> None:
    result = validate_batch(generate(small_spec("recession", n=1500)), SCHEMA)
    assert result.quarantine.empty


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.drop(columns=["income"]), "column 'income' is missing"),
        (
            lambda f: f.rename(columns={"income": "salary"}),
            "column 'salary' is not in the contract",
        ),
        (lambda f: f.assign(income="n/a"), "column 'income' cannot be read"),
    ],
)
def test_a_broken_schema_fails_the_batch_as_a_whole(
    fresh_batch: pd.DataFrame, mutate: Any, reason: str
) -> None:
    result = validate_batch(mutate(fresh_batch), SCHEMA)
    assert any(reason in error for error in result.batch_errors)
    assert result.valid.empty and len(result.quarantine) == len(fresh_batch)
    with pytest.raises(ContractError, match="as a whole"):
        ensure_acceptable(result, max_quarantine_share=1.0)


def test_a_stale_batch_fails_freshness(batch: pd.DataFrame) -> None:
    later = contract_for(LOANS, dt.date(2025, 6, 1), max_staleness_days=45)
    result = validate_batch(batch, later)
    assert any("newest_row_within_45_days" in e for e in result.batch_errors)


def test_an_empty_batch_is_said_to_be_empty_not_stale(batch: pd.DataFrame) -> None:
    result = validate_batch(batch.iloc[:0], SCHEMA)
    with pytest.raises(ContractError, match="the batch has no rows") as raised:
        ensure_acceptable(result, max_quarantine_share=0.02, declaration="datasets/loans.yaml")
    assert "newest_row" not in str(raised.value)


def test_a_small_share_of_bad_rows_is_acceptable(fresh_batch: pd.DataFrame) -> None:
    result = validate_batch(_break(fresh_batch, 0, "sex", "x"), SCHEMA)
    ensure_acceptable(result, max_quarantine_share=0.02)


def test_the_contract_exports_as_json_schema_of_one_row() -> None:
    exported = contract_json_schema(SCHEMA)
    income = exported["properties"]["income"]
    assert income["type"] == "number" and income["minimum"] == 1000
    assert exported["properties"]["loan_purpose"]["enum"] == list(LOANS.categories["loan_purpose"])
    assert exported["properties"]["defaulted"]["type"] == ["integer", "null"]
    assert exported["properties"]["application_id"]["pattern"] == LOANS.id.pattern
    assert "defaulted" not in exported["required"] and "income" in exported["required"]
    assert {r["name"] for r in exported["x-row-rules"]} >= {r.name for r in LOANS.rules}


def test_without_a_timestamp_no_time_rule_applies(batch: pd.DataFrame) -> None:
    untimed = LOANS.model_copy(update={"timestamp": None})
    schema = contract_for(untimed, dt.date(2030, 1, 1), max_staleness_days=1)
    result = validate_batch(batch.drop(columns=["applied_at"]), schema)
    assert result.batch_errors == [] and result.quarantine.empty


def test_a_label_spelled_as_text_is_read_by_the_declared_values(
    splits: dict[str, pd.DataFrame],
) -> None:
    labelled = splits["train"].drop(columns=["applied_at"]).head(500)
    spelled = LOANS.model_copy(
        update={
            "timestamp": None,
            "label": LOANS.label.model_copy(update={"positive": "bad", "negative": "good"}),
        }
    )
    schema = contract_for(spelled, AS_OF, max_staleness_days=45)
    text = labelled["defaulted"].map({1: "bad", 0: "good"}).astype(object)
    text.iloc[0] = "unknown"
    result = validate_batch(labelled.assign(defaulted=text), schema)
    assert result.valid["defaulted"].dtype == "Int8"
    assert set(labelled["defaulted"].iloc[1:]) == {0, 1}
    expected = labelled["defaulted"].iloc[1:].reset_index(drop=True)
    assert result.valid["defaulted"].tolist() == expected.tolist()
    assert result.quarantine[FAILED_CHECKS].tolist() == ["defaulted:isin((0, 1))"]


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("has_guarantor", "maybe", "has_guarantor:coerce_dtype"),
        ("has_guarantor", None, "has_guarantor:coerce_dtype"),
        ("age", 30.5, "age:coerce_dtype"),
        ("n_dependents", "two", "n_dependents:coerce_dtype"),
        ("defaulted", 0.5, "defaulted:isin"),
    ],
)
def test_coercion_never_turns_a_bad_value_into_a_good_one(
    fresh_batch: pd.DataFrame, column: str, value: Any, check: str
) -> None:
    old = fresh_batch.index[fresh_batch["defaulted"].notna()]
    row = int(old[0]) if column == "defaulted" and len(old) else 10
    result = validate_batch(_break(fresh_batch, row, column, value), SCHEMA)
    assert result.batch_errors == []
    assert len(result.quarantine) == 1
    assert check in result.quarantine[FAILED_CHECKS].iloc[0]


def test_boolean_spellings_from_a_csv_are_read(fresh_batch: pd.DataFrame) -> None:
    spelled = fresh_batch.assign(has_guarantor=fresh_batch["has_guarantor"].map(str))
    result = validate_batch(spelled, SCHEMA)
    assert result.quarantine.empty
    assert result.valid["has_guarantor"].dtype == bool
    assert result.valid["has_guarantor"].tolist() == fresh_batch["has_guarantor"].tolist()
