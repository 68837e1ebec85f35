"""The embedded data source: a seeded generator of monthly batches of loan applications.

It makes the columns declared in ``datasets/loans.yaml`` and is imported only when
``data.source`` is ``generator``. The causal structure is explicit: :data:`NUMERIC_EFFECTS`,
:data:`CATEGORY_EFFECTS` and :data:`INTERACTIONS` are both what the generator uses to draw
the label and what the datasheet prints, so a student can check a trained model against the truth.

Each month is drawn from its own random stream, seeded by ``(seed, year, month)``: a
month's batch depends only on the seed, the month and its number of rows, not on the range
it is generated in. Named scenarios
(:mod:`loanrisk.data.scenarios`) then change the months from ``scenario_start`` on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from loanrisk.data import scenarios
from loanrisk.data.contract import maturity_cutoff

DECLARATION = "datasets/loans.yaml"
"""The declaration of the data this generator makes: its columns, types and domains. A test
checks that every generated batch satisfies it and that the categories below are its own."""

SEXES = ("female", "male")
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

BASE_LOG_ODDS = -3.2
"""Log-odds of default for the reference applicant: salaried, renting, a car loan, no debt."""

NUMERIC_EFFECTS: dict[str, tuple[float, str]] = {
    "past_delinquencies": (0.45, "per past delinquency"),
    "credit_utilization": (1.6, "per unit of utilisation above 0.30"),
    "debt_to_income": (2.4, "per unit of debt-to-income above 0.30"),
    "income": (-0.55, "per natural-log unit of income relative to 40,000"),
    "employment_years": (-0.03, "per year with the current employer"),
    "credit_history_years": (-0.03, "per year of credit history"),
    "n_dependents": (0.08, "per dependent"),
    "has_guarantor": (-0.5, "when a guarantor co-signs"),
    "loan_term_months": (0.25, "when the term is longer than 36 months"),
}
"""Additive effects on the log-odds of default: (coefficient, unit)."""

CATEGORY_EFFECTS: dict[str, dict[str, float]] = {
    "employment_type": {
        "salaried": 0.0,
        "self_employed": 0.25,
        "unemployed": 0.9,
        "retired": -0.1,
        "student": 0.35,
    },
    "housing": {"rent": 0.0, "mortgage": -0.15, "own": -0.3, "family": 0.1},
    "loan_purpose": {
        "car": 0.0,
        "home_improvement": -0.1,
        "debt_consolidation": 0.3,
        "education": 0.15,
        "business": 0.45,
        "medical": 0.25,
        "other": 0.2,
    },
    "region": {"north": 0.0, "south": 0.15, "east": 0.1, "west": -0.05, "central": -0.1},
}
"""Additive log-odds effect of each category (0 marks the reference category)."""

INTERACTIONS: dict[str, tuple[float, str]] = {
    "dti_over_0.45": (1.2, "extra log-odds when debt-to-income exceeds 0.45 (a cliff)"),
    "utilization_x_delinquent": (
        2.5,
        "extra per unit of utilisation above 0.30 when there is any past delinquency",
    ),
    "thin_file": (0.8, "extra when the credit history is shorter than two years"),
}
"""Non-additive effects: the reason a tree model can beat a logistic regression here."""

NO_DIRECT_EFFECT = ("sex", "age", "interest_rate")
"""Drawn, but with no direct effect on default. Sex moves income (a historical pay gap), age
moves employment and credit history: proxies that the fairness evaluation has to watch."""


@dataclass(frozen=True)
class GeneratorSpec:
    """What to generate: a date range, a size, a snapshot date and a scenario."""

    seed: int
    start: dt.date
    months: int
    n_applications: int
    as_of: dt.date
    label_horizon_months: int = 12
    scenario: str = "none"
    scenario_start: dt.date | None = None


def month_starts(start: dt.date, months: int) -> list[pd.Timestamp]:
    first = pd.Timestamp(start.year, start.month, 1)
    return [first + pd.DateOffset(months=i) for i in range(months)]


def generate(
    spec: GeneratorSpec, on_month: Callable[[pd.Timestamp], None] | None = None
) -> pd.DataFrame:
    """Generate ``spec.n_applications`` applications spread evenly over ``spec.months`` months.

    ``on_month`` is called before each month is drawn (the CLI shows progress with it).
    """
    starts = month_starts(spec.start, spec.months)
    base, extra = divmod(spec.n_applications, spec.months)
    scenario_from = pd.Timestamp(spec.scenario_start) if spec.scenario_start else starts[0]
    batches = []
    for i, month in enumerate(starts):
        if on_month is not None:
            on_month(month)
        n = base + (1 if i < extra else 0)
        scenario = spec.scenario if month >= scenario_from else "none"
        batches.append(generate_month(spec.seed, month, n, scenario))
    frame = pd.concat(batches, ignore_index=True)
    return hide_immature_labels(frame, spec.as_of, spec.label_horizon_months)


def hide_immature_labels(frame: pd.DataFrame, as_of: dt.date, horizon_months: int) -> pd.DataFrame:
    """Blank the label of applications that have not been observed for the full horizon.

    In production the outcome of a loan is only known ``horizon_months`` after it was granted;
    the snapshot must not know the future.
    """
    matured = frame["applied_at"] <= maturity_cutoff(as_of, horizon_months)
    out = frame.copy()
    out["defaulted"] = out["defaulted"].where(matured, pd.NA).astype("Int8")
    return out


def generate_month(seed: int, month: pd.Timestamp, n: int, scenario: str = "none") -> pd.DataFrame:
    """One monthly batch with every label drawn (maturity is applied by :func:`generate`)."""
    rng = np.random.default_rng([seed, month.year, month.month])
    shift = scenarios.shift_for(scenario)

    age = np.clip(rng.normal(41, 12, n), 18, 80).round().astype(np.int64)
    sex = rng.choice(SEXES, n)
    female = sex == "female"

    employment = _draw_employment(rng, age, shift.unemployment_boost)
    employment_years = np.minimum(rng.exponential(6.0, n), np.maximum(age - 18, 0)).round(1)
    employment_years[np.isin(employment, ["unemployed", "student"])] = 0.0

    log_income = (
        np.log(40_000)
        + 0.012 * (np.minimum(age, 55) - 40)
        - 0.12 * female
        + np.select(
            [employment == "unemployed", employment == "student", employment == "retired"],
            [-0.9, -1.0, -0.35],
            0.0,
        )
        + rng.normal(0, 0.4, n)
    )
    income = np.clip(np.exp(log_income) * shift.income_factor, 6_000, 400_000).round(-1)

    housing = _draw_housing(rng, age, income)
    region = rng.choice(REGIONS, n, p=[0.22, 0.2, 0.18, 0.2, 0.2])
    purpose = rng.choice(LOAN_PURPOSES, n, p=[0.22, 0.16, 0.22, 0.08, 0.1, 0.07, 0.15])
    loan_amount = np.clip(income * rng.lognormal(np.log(0.25), 0.5, n), 1_000, 80_000).round(-1)
    term = np.where(
        loan_amount > 20_000,
        rng.choice(LOAN_TERMS, n, p=[0.05, 0.1, 0.25, 0.3, 0.3]),
        rng.choice(LOAN_TERMS, n, p=[0.3, 0.3, 0.25, 0.1, 0.05]),
    )
    credit_history_years = np.minimum(rng.gamma(2.5, 4.0, n), np.maximum(age - 18, 0)).round(1)
    n_credit_lines = rng.poisson(1 + credit_history_years / 4)
    past_delinquencies = rng.poisson(np.clip(0.35 - 0.01 * credit_history_years, 0.05, None))
    utilization = rng.beta(2, 5, n).round(3)
    existing_monthly_debt = income / 12 * rng.beta(2, 8, n)
    installment = loan_amount / term * 1.08
    debt_to_income = np.clip((existing_monthly_debt + installment) / (income / 12), 0, 3).round(3)
    interest_rate = np.clip(
        3.5 + 6 * utilization + 1.2 * past_delinquencies + rng.normal(0, 1, n), 1.0, 25.0
    ).round(2)
    n_dependents = rng.poisson(0.8, n)
    has_guarantor = rng.random(n) < 0.1

    log_odds = (
        BASE_LOG_ODDS
        + shift.base_log_odds
        + NUMERIC_EFFECTS["past_delinquencies"][0] * past_delinquencies
        + NUMERIC_EFFECTS["credit_utilization"][0] * (utilization - 0.3)
        + NUMERIC_EFFECTS["debt_to_income"][0] * (debt_to_income - 0.3)
        + NUMERIC_EFFECTS["income"][0] * np.log(income / 40_000)
        + NUMERIC_EFFECTS["employment_years"][0] * employment_years
        + NUMERIC_EFFECTS["credit_history_years"][0] * credit_history_years
        + NUMERIC_EFFECTS["n_dependents"][0] * n_dependents
        + NUMERIC_EFFECTS["has_guarantor"][0] * has_guarantor
        + NUMERIC_EFFECTS["loan_term_months"][0] * (term > 36)
        + _category_effect("employment_type", employment)
        + _category_effect("housing", housing)
        + _category_effect("loan_purpose", purpose)
        + _category_effect("region", region)
        + INTERACTIONS["dti_over_0.45"][0] * (debt_to_income > 0.45)
        + INTERACTIONS["utilization_x_delinquent"][0]
        * (utilization - 0.3)
        * (past_delinquencies > 0)
        + INTERACTIONS["thin_file"][0] * (credit_history_years < 2)
    )
    defaulted = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(np.int8)

    seconds = np.sort(rng.integers(0, _seconds_in_month(month), n))
    frame = pd.DataFrame(
        {
            "application_id": [f"A{month:%Y%m}-{i:06d}" for i in range(n)],
            "applied_at": month + pd.to_timedelta(seconds, unit="s"),
            "age": age,
            "sex": sex,
            "income": income,
            "employment_type": employment,
            "employment_years": employment_years,
            "housing": housing,
            "region": region,
            "loan_purpose": purpose,
            "loan_amount": loan_amount,
            "loan_term_months": term.astype(np.int64),
            "interest_rate": interest_rate,
            "credit_history_years": credit_history_years,
            "n_credit_lines": n_credit_lines.astype(np.int64),
            "past_delinquencies": past_delinquencies.astype(np.int64),
            "credit_utilization": utilization,
            "debt_to_income": debt_to_income,
            "n_dependents": n_dependents.astype(np.int64),
            "has_guarantor": has_guarantor,
            "defaulted": pd.array(defaulted, dtype="Int8"),
        }
    )
    frame["applied_at"] = frame["applied_at"].astype("datetime64[ns]")
    return scenarios.corrupt(frame, scenario, rng)


def _category_effect(column: str, values: np.ndarray) -> np.ndarray:
    effects = CATEGORY_EFFECTS[column]
    lookup = np.vectorize(effects.__getitem__, otypes=[float])
    out: np.ndarray = lookup(values)
    return out


def _draw_employment(rng: np.random.Generator, age: np.ndarray, boost: float) -> np.ndarray:
    n = len(age)
    u = rng.random(n)
    out = np.where(u < 0.78 - boost, "salaried", "self_employed")
    out = np.where(u >= 0.95 - boost, "unemployed", out)
    out = np.where((age >= 65) & (rng.random(n) < 0.8), "retired", out)
    out = np.where((age < 25) & (rng.random(n) < 0.35), "student", out)
    return out.astype(object)


def _draw_housing(rng: np.random.Generator, age: np.ndarray, income: np.ndarray) -> np.ndarray:
    n = len(age)
    own_p = np.clip(0.05 + 0.006 * (age - 18) + 0.1 * (income > 60_000), 0, 0.6)
    u = rng.random(n)
    out = np.where(u < own_p, "own", np.where(u < own_p + 0.3, "mortgage", "rent"))
    out = np.where((age < 26) & (rng.random(n) < 0.4), "family", out)
    return out.astype(object)


def _seconds_in_month(month: pd.Timestamp) -> int:
    return int(((month + pd.DateOffset(months=1)) - month).total_seconds())
