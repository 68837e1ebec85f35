"""Named scenarios: what production does to a model, injected into generated batches.

- ``none``: nothing changes; the reference behaviour.
- ``recession``: incomes fall 15 %, unemployment rises 8 points and the base default
  log-odds rise by 0.5. Covariate and concept shift: the default rate goes up and the
  income distribution down, while every row still satisfies the contract.
- ``new_category``: 15 % of applications ask for ``green_energy``, a purpose never seen
  before. The contract quarantines them (category not allowed).
- ``null_feed``: a supplier feed drops income, employment years and credit history for
  30 % of rows. The contract quarantines them (not nullable).
- ``unit_change``: income arrives in thousands instead of units. The contract quarantines
  every row (income below its range).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NEW_PURPOSE = "green_energy"
NULL_FEED_SHARE = 0.30
NULL_FEED_COLUMNS = ("income", "employment_years", "credit_history_years")
NEW_CATEGORY_SHARE = 0.15


@dataclass(frozen=True)
class Shift:
    """A change of the world itself, applied before the label is drawn."""

    income_factor: float = 1.0
    unemployment_boost: float = 0.0
    base_log_odds: float = 0.0


_SHIFTS = {"recession": Shift(income_factor=0.85, unemployment_boost=0.08, base_log_odds=0.5)}


def shift_for(scenario: str) -> Shift:
    """The change of the world under ``scenario`` (none for data-quality scenarios)."""
    return _SHIFTS.get(scenario, Shift())


def corrupt(frame: pd.DataFrame, scenario: str, rng: np.random.Generator) -> pd.DataFrame:
    """Apply a data-quality scenario to a drawn batch: the world is unchanged, the feed is not."""
    n = len(frame)
    if scenario == "new_category":
        hit = rng.random(n) < NEW_CATEGORY_SHARE
        frame.loc[hit, "loan_purpose"] = NEW_PURPOSE
    elif scenario == "null_feed":
        hit = rng.random(n) < NULL_FEED_SHARE
        for column in NULL_FEED_COLUMNS:
            frame[column] = frame[column].where(~hit)
    elif scenario == "unit_change":
        frame["income"] = (frame["income"] / 1000).round(2)
    return frame
