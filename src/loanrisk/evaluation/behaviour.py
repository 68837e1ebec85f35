"""Behavioural tests of a trained model: what a domain expert expects, whatever the AUC.

All three kinds are generated from the dataset declaration:

- directional: for each feature with a declared ``direction``, moving it by its ``step`` or
  ``factor`` never moves the score the other way by more than a small tolerance;
- invariance: changing only a protected attribute leaves the score unchanged;
- minimum functionality: the declared ``reference_applicants``, a low-risk one approved and a
  high-risk one not.

Each test returns a :class:`BehaviourResult`; the gate requires all of them to pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from loanrisk.data.declaration import Declaration, Protected, ReferenceApplicants
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


def flipped(attribute: Protected, values: pd.Series) -> pd.Series:
    """Each value moved to another one of the attribute's domain: the next category (so two
    categories swap), the other boolean, or a number moved by its ``step`` or ``factor``."""
    if attribute.categories:
        cycle = list(attribute.categories)
        following = dict(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        return values.map(following).fillna(values)
    if attribute.type == "boolean":
        return ~values.astype(bool)
    return attribute.moved(values)


def run_behaviour_tests(
    model: Any,
    sample: pd.DataFrame,
    dataset: Declaration,
    threshold: float,
    tolerance: float,
    seed: int,
) -> list[BehaviourResult]:
    """Run every behavioural test on ``SAMPLE_SIZE`` rows drawn from ``sample``."""
    rows = sample.sample(n=min(SAMPLE_SIZE, len(sample)), random_state=seed).reset_index(drop=True)
    rows = rows.astype({c: sample[c].dtype for c in sample.columns})
    base = score(model, rows, dataset)
    results = []
    for name, feature in dataset.directional.items():
        moved = rows.assign(**{name: feature.moved(rows[name])})
        change = (score(model, moved, dataset) - base) * feature.sign
        worst = float(change.min())
        verb = "lowers" if feature.sign > 0 else "raises"
        results.append(
            BehaviourResult(
                f"higher_{name}_never_{verb}_risk",
                "directional",
                worst >= -tolerance,
                f"worst change against the expected direction {-worst:+.4f} "
                f"(tolerance {tolerance})",
            )
        )
    for name, attribute in dataset.protected.items():
        perturbed = rows.assign(**{name: flipped(attribute, rows[name])})
        worst = float(np.abs(score(model, perturbed, dataset) - base).max())
        results.append(
            BehaviourResult(
                f"{name}_does_not_change_the_score",
                "invariance",
                worst <= 1e-12,
                f"largest change {worst:.2e}",
            )
        )
    if dataset.reference_applicants is not None:
        results += _minimum_functionality(
            model, rows, dataset, dataset.reference_applicants, threshold
        )
    return results


def _applicant(base: pd.Series, values: dict[str, Any], like: pd.DataFrame) -> pd.DataFrame:
    frame = base.to_frame().T.assign(**values)
    return frame.astype({c: like[c].dtype for c in like.columns})


def _minimum_functionality(
    model: Any,
    rows: pd.DataFrame,
    dataset: Declaration,
    reference: ReferenceApplicants,
    threshold: float,
) -> list[BehaviourResult]:
    """The declared reference applicants, other columns taken from a typical row."""
    median = rows.iloc[len(rows) // 2]
    low = float(score(model, _applicant(median, reference.low_risk, rows), dataset)[0])
    high = float(score(model, _applicant(median, reference.high_risk, rows), dataset)[0])
    return [
        BehaviourResult(
            "a_safe_applicant_is_approved",
            "minimum_functionality",
            low < threshold,
            f"score {low:.3f} vs threshold {threshold:.3f}",
        ),
        BehaviourResult(
            "a_risky_applicant_is_not_approved",
            "minimum_functionality",
            high >= threshold,
            f"score {high:.3f} vs threshold {threshold:.3f}",
        ),
        BehaviourResult(
            "the_risky_applicant_scores_above_the_safe_one",
            "minimum_functionality",
            high > low + 0.1,
            f"{high:.3f} vs {low:.3f}",
        ),
    ]
