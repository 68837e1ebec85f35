"""Behavioural tests of a trained model: what a domain expert expects, whatever the AUC.

All three kinds are generated from the dataset declaration, and each can fail for a model
that reads its data wrongly (tests/evaluation/test_behaviour.py shows each failing once):

- directional: for each feature with a declared ``direction``, moving it (``step``,
  ``factor`` or ``to``) does not move the score the other way on average. Features the
  candidate is constrained on are covered too, but the ones it is free on are where the test
  bites. The average, not the worst row: a flexible model wiggles on single rows by more
  than a reversed effect moves the average, so a worst-row test cannot separate them;
- invariance: for each feature declared ``invariance``, moving it changes the score by at
  most that much on average. Only features the model reads are tested: changing a protected
  attribute would pass by construction, since the model never sees one (``score`` drops it,
  which a code test checks);
- minimum functionality: the declared ``reference_applicants``, a low-risk one approved and a
  high-risk one not.

Each test returns a :class:`BehaviourResult`; the gate requires all of them to pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from loanrisk.data.declaration import Declaration, ReferenceApplicants
from loanrisk.scoring import score

SAMPLE_SIZE = 500


@dataclass(frozen=True)
class BehaviourResult:
    name: str
    kind: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_behaviour_tests(
    model: Any,
    sample: pd.DataFrame,
    dataset: Declaration,
    threshold: float,
    tolerance: float,
    seed: int,
) -> list[BehaviourResult]:
    """Run every behavioural test on ``SAMPLE_SIZE`` rows drawn from ``sample``.

    ``tolerance`` is how far the average change of a directional test may go the wrong way.
    """
    rows = sample.sample(n=min(SAMPLE_SIZE, len(sample)), random_state=seed).reset_index(drop=True)
    rows = rows.astype({c: sample[c].dtype for c in sample.columns})
    base = score(model, rows, dataset)
    results = []
    for name, feature in dataset.directional.items():
        moved = rows.assign(**{name: feature.moved(rows[name])})
        change = (score(model, moved, dataset) - base) * feature.sign
        mean = float(change.mean())
        verb = "lowers" if feature.sign > 0 else "raises"
        results.append(
            BehaviourResult(
                f"higher_{name}_never_{verb}_risk",
                "directional",
                mean >= -tolerance,
                f"average change in the expected direction {mean:+.4f} (at least {-tolerance}); "
                f"worst row {float(change.min()):+.4f}, "
                f"{float((change < -1e-12).mean()):.0%} of rows the wrong way",
            )
        )
    for name, feature in dataset.invariant.items():
        moved = rows.assign(**{name: feature.moved(rows[name])})
        change = np.abs(score(model, moved, dataset) - base)
        mean = float(change.mean())
        limit = float(feature.invariance or 0.0)
        results.append(
            BehaviourResult(
                f"{name}_barely_changes_the_score",
                "invariance",
                mean <= limit,
                f"average change {mean:.4f} (at most {limit}); largest {float(change.max()):.4f}",
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
