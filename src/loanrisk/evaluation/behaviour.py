"""Behavioural tests of a trained model: what a credit officer expects, whatever the AUC.

- directional: more past delinquencies, a higher debt-to-income or utilisation never lower
  the risk, and a higher income never raises it, by more than a small tolerance;
- invariance: changing only the protected attributes (sex, age) leaves the score unchanged;
- minimum functionality: a few cases any credit officer would write down.

Each test returns a :class:`BehaviourResult`; the gate requires all of them to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from loanrisk.models.train import score

SAMPLE_SIZE = 500


@dataclass(frozen=True)
class BehaviourResult:
    name: str
    kind: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Perturbation = Callable[[pd.DataFrame], pd.DataFrame]

DIRECTIONAL: dict[str, tuple[Perturbation, int]] = {
    "more_delinquencies_never_lower_risk": (
        lambda f: f.assign(past_delinquencies=f["past_delinquencies"] + 1),
        +1,
    ),
    "higher_debt_to_income_never_lowers_risk": (
        lambda f: f.assign(debt_to_income=f["debt_to_income"] + 0.2),
        +1,
    ),
    "higher_utilization_never_lowers_risk": (
        lambda f: f.assign(credit_utilization=(f["credit_utilization"] + 0.3).clip(upper=2)),
        +1,
    ),
    "higher_income_never_raises_risk": (lambda f: f.assign(income=f["income"] * 1.5), -1),
}

INVARIANT: dict[str, Perturbation] = {
    "sex_does_not_change_the_score": lambda f: f.assign(
        sex=np.where(f["sex"] == "female", "male", "female")
    ),
    "age_does_not_change_the_score": lambda f: f.assign(age=(f["age"] + 10).clip(upper=100)),
}


SAFE_APPLICANT = {
    "income": 95_000.0,
    "employment_type": "salaried",
    "employment_years": 12.0,
    "housing": "own",
    "loan_purpose": "home_improvement",
    "loan_amount": 8_000.0,
    "loan_term_months": 24,
    "credit_history_years": 15.0,
    "past_delinquencies": 0,
    "credit_utilization": 0.1,
    "debt_to_income": 0.12,
    "has_guarantor": True,
}
RISKY_APPLICANT = {
    "income": 14_000.0,
    "employment_type": "unemployed",
    "employment_years": 0.0,
    "housing": "rent",
    "loan_purpose": "business",
    "loan_amount": 30_000.0,
    "loan_term_months": 60,
    "credit_history_years": 1.0,
    "past_delinquencies": 4,
    "credit_utilization": 0.95,
    "debt_to_income": 0.9,
    "has_guarantor": False,
}
"""Two applicants any credit officer would decide at a glance (other fields: a typical row)."""


def _applicant(base: pd.Series, values: dict[str, Any], like: pd.DataFrame) -> pd.DataFrame:
    frame = base.to_frame().T.assign(**values)
    return frame.astype({c: like[c].dtype for c in like.columns})


def run_behaviour_tests(
    model: Any, sample: pd.DataFrame, threshold: float, tolerance: float, seed: int
) -> list[BehaviourResult]:
    """Run every behavioural test on ``SAMPLE_SIZE`` rows drawn from ``sample``."""
    rows = sample.sample(n=min(SAMPLE_SIZE, len(sample)), random_state=seed).reset_index(drop=True)
    rows = rows.astype({c: sample[c].dtype for c in sample.columns})
    base = score(model, rows)
    results = []
    for name, (perturb, direction) in DIRECTIONAL.items():
        change = (score(model, perturb(rows)) - base) * direction
        worst = float(change.min())
        results.append(
            BehaviourResult(
                name,
                "directional",
                worst >= -tolerance,
                f"worst change against the expected direction {-worst:+.4f} "
                f"(tolerance {tolerance})",
            )
        )
    for name, perturb in INVARIANT.items():
        worst = float(np.abs(score(model, perturb(rows)) - base).max())
        results.append(
            BehaviourResult(name, "invariance", worst <= 1e-12, f"largest change {worst:.2e}")
        )
    median = rows.iloc[len(rows) // 2]
    safe = float(score(model, _applicant(median, SAFE_APPLICANT, rows))[0])
    risky = float(score(model, _applicant(median, RISKY_APPLICANT, rows))[0])
    results += [
        BehaviourResult(
            "a_safe_applicant_is_approved",
            "minimum_functionality",
            safe < threshold,
            f"score {safe:.3f} vs threshold {threshold:.3f}",
        ),
        BehaviourResult(
            "a_risky_applicant_is_not_approved",
            "minimum_functionality",
            risky >= threshold,
            f"score {risky:.3f} vs threshold {threshold:.3f}",
        ),
        BehaviourResult(
            "the_risky_applicant_scores_above_the_safe_one",
            "minimum_functionality",
            risky > safe + 0.1,
            f"{risky:.3f} vs {safe:.3f}",
        ),
    ]
    return results
