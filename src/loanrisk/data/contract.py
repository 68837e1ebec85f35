"""The data contract: what a batch of loan applications must look like, defined once.

The generator draws from these categories, the validate stage enforces the schema, the
feature lists below feed the models, and the serving bundle carries the contract as JSON
Schema. Whatever else needs the columns (an API's request model, a datasheet's column table)
derives them from :class:`ApplicationContract` rather than retyping them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

SEXES = ("female", "male")
EMPLOYMENT_TYPES = ("salaried", "self_employed", "unemployed", "retired", "student")
HOUSING = ("rent", "mortgage", "own", "family")
REGIONS = ("north", "south", "east", "west", "central")
LOAN_PURPOSES = (
    "car",
    "home_improvement",
    "debt_consolidation",
    "education",
    "business",
    "medical",
    "other",
)
LOAN_TERMS = (12, 24, 36, 48, 60)

ID = "application_id"
TIMESTAMP = "applied_at"
LABEL = "defaulted"
PROTECTED = ("sex", "age")
"""Kept with the data for fairness evaluation and monitoring; never a model input."""

NUMERIC_FEATURES = (
    "income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "interest_rate",
    "credit_history_years",
    "n_credit_lines",
    "past_delinquencies",
    "credit_utilization",
    "debt_to_income",
    "n_dependents",
    "has_guarantor",
)
CATEGORICAL_FEATURES = ("employment_type", "housing", "region", "loan_purpose")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
CATEGORIES: dict[str, tuple[str, ...]] = {
    "employment_type": EMPLOYMENT_TYPES,
    "housing": HOUSING,
    "region": REGIONS,
    "loan_purpose": LOAN_PURPOSES,
}


class ApplicationContract(pa.DataFrameModel):
    """One row per loan application, as the lender's intake system delivers it.

    Row-level failures (a value out of range, a category never agreed on, a null where none
    is allowed, a duplicate id, a cross-column rule broken) quarantine the row. A missing or
    unexpected column breaks the batch as a whole. Cross-column rules pass on nulls: a null
    is reported once, by the column's own nullability check.
    """

    application_id: Series[str] = pa.Field(
        unique=True, str_matches=r"^A\d{6}-\d{6}$", description="Unique id: A<yyyymm>-<serial>."
    )
    applied_at: Series[pd.Timestamp] = pa.Field(description="When the application was filed.")
    age: Series[int] = pa.Field(ge=18, le=100, description="Age in years (protected).")
    sex: Series[str] = pa.Field(isin=SEXES, description="Sex as declared (protected).")
    income: Series[float] = pa.Field(
        ge=1_000, le=10_000_000, description="Declared gross annual income, in currency units."
    )
    employment_type: Series[str] = pa.Field(isin=EMPLOYMENT_TYPES)
    employment_years: Series[float] = pa.Field(
        ge=0, le=60, description="Years with the current employer."
    )
    housing: Series[str] = pa.Field(isin=HOUSING)
    region: Series[str] = pa.Field(isin=REGIONS)
    loan_purpose: Series[str] = pa.Field(isin=LOAN_PURPOSES)
    loan_amount: Series[float] = pa.Field(ge=500, le=1_000_000, description="Principal asked.")
    loan_term_months: Series[int] = pa.Field(isin=LOAN_TERMS)
    interest_rate: Series[float] = pa.Field(ge=0, le=40, description="Offered rate, percent.")
    credit_history_years: Series[float] = pa.Field(ge=0, le=80)
    n_credit_lines: Series[int] = pa.Field(ge=0, le=60)
    past_delinquencies: Series[int] = pa.Field(ge=0, le=50)
    credit_utilization: Series[float] = pa.Field(
        ge=0, le=2, description="Revolving balance over limit (may exceed 1 when over limit)."
    )
    debt_to_income: Series[float] = pa.Field(
        ge=0, le=5, description="Monthly debt service, this loan included, over monthly income."
    )
    n_dependents: Series[int] = pa.Field(ge=0, le=20)
    has_guarantor: Series[bool] = pa.Field()
    defaulted: Series[pd.Int8Dtype] = pa.Field(
        nullable=True,
        isin=(0, 1),
        description="1 if the loan defaulted within the label horizon; null until it matured.",
    )

    # Parsers run before coercion. Plain coercion would silently accept a bad value: "maybe"
    # and null cast to bool are True, 30.5 cast to int is 30. Each parser turns a value it
    # cannot read exactly into a null (or, for the nullable label, an out-of-set value), so
    # coercion or a check quarantines that row, and only that row.
    @pa.parser("has_guarantor")
    @classmethod
    def _strict_bool(cls, series: pd.Series) -> pd.Series:
        if series.dtype == bool:
            return series
        return series.map(_as_bool).astype("boolean")

    @pa.parser("age", "loan_term_months", "n_credit_lines", "past_delinquencies", "n_dependents")
    @classmethod
    def _whole_numbers(cls, series: pd.Series) -> pd.Series:
        if pd.api.types.is_integer_dtype(series.dtype):
            return series
        numbers = pd.to_numeric(series, errors="coerce")
        return numbers.where(numbers == numbers.round())

    @pa.parser("defaulted")
    @classmethod
    def _label(cls, series: pd.Series) -> pd.Series:
        if pd.api.types.is_integer_dtype(series.dtype):
            return series
        numbers = pd.to_numeric(series, errors="coerce")
        unreadable = series.notna() & ~numbers.isin([0, 1])
        return numbers.mask(unreadable, -1)

    @pa.dataframe_check(name="employment_within_working_life")
    @classmethod
    def _employment_within_working_life(cls, df: pd.DataFrame) -> pd.Series:
        """Nobody has worked for their employer since before the age of 14."""
        return ~(df["employment_years"] > df["age"] - 14)

    @pa.dataframe_check(name="credit_history_within_adult_life")
    @classmethod
    def _credit_history_within_adult_life(cls, df: pd.DataFrame) -> pd.Series:
        """Credit history starts at 16 at the earliest."""
        return ~(df["credit_history_years"] > df["age"] - 16)

    @pa.dataframe_check(name="loan_at_most_five_incomes")
    @classmethod
    def _loan_at_most_five_incomes(cls, df: pd.DataFrame) -> pd.Series:
        """A consumer loan above five years of income is a data error, not an application."""
        return ~(df["loan_amount"] > 5 * df["income"])

    class Config:
        strict = True
        coerce = True
        unique_column_names = True


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _as_bool(value: Any) -> Any:
    """True or False for the usual spellings of a boolean; NA for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return pd.NA


def maturity_cutoff(as_of: dt.date, label_horizon_months: int) -> pd.Timestamp:
    """Applications filed on or before this instant have a known outcome at ``as_of``.

    The one definition of label maturity: the generator hides younger labels, the contract
    refuses them, the split keeps only older rows.
    """
    return pd.Timestamp(as_of) - pd.DateOffset(months=label_horizon_months)


def contract_json_schema() -> dict[str, Any]:
    """The contract as JSON Schema: what the serving bundle and API clients read."""
    schema: dict[str, Any] = ApplicationContract.to_json_schema()  # type: ignore[no-untyped-call]
    return schema


def contract_for(
    as_of: dt.date, label_horizon_months: int, max_staleness_days: int
) -> pa.DataFrameSchema:
    """The contract for a batch snapshotted on ``as_of``: the static schema plus time rules.

    - no application from the future (row level);
    - no label before it could be known: ``defaulted`` must be null for applications younger
      than the label horizon (row level);
    - freshness: the newest application is at most ``max_staleness_days`` old (batch level).
    """
    as_of_ts = pd.Timestamp(as_of)
    maturity = maturity_cutoff(as_of, label_horizon_months)

    def not_in_future(df: pd.DataFrame) -> pd.Series:
        return ~(df[TIMESTAMP] > as_of_ts)  # a null is reported by not_nullable alone

    def label_not_before_maturity(df: pd.DataFrame) -> pd.Series:
        return df[LABEL].isna() | (df[TIMESTAMP] <= maturity)

    def fresh(df: pd.DataFrame) -> bool:
        newest = df[TIMESTAMP].max()
        return bool(pd.notna(newest) and as_of_ts - newest <= pd.Timedelta(days=max_staleness_days))

    schema = ApplicationContract.to_schema()
    time_rules = [
        pa.Check(not_in_future, name="applied_not_in_future"),
        pa.Check(label_not_before_maturity, name="label_not_before_maturity"),
        pa.Check(fresh, name=f"newest_application_within_{max_staleness_days}_days_of_as_of"),
    ]
    return _with_checks(schema, time_rules)


def _with_checks(schema: pa.DataFrameSchema, checks: list[pa.Check]) -> pa.DataFrameSchema:
    extended = schema.__class__(
        columns=schema.columns,
        checks=[*schema.checks, *checks],
        index=schema.index,
        coerce=schema.coerce,
        strict=schema.strict,
        name=schema.name,
        unique_column_names=schema.unique_column_names,
        description=schema.description,
    )
    return extended
