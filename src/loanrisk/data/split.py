"""Train, validation and test parts: out of time when the data has a timestamp.

With a timestamp the split is an honest backtest: train on the past, choose on the recent
past, test on the latest months, as the model will be used, and with a gap of one label
horizon before each later part. A model deployed on the first test day could only know the
outcomes of loans filed a horizon earlier; without the gap its training labels would carry
news from inside the test period (a recession starting there, say) that it could not have
had. Only rows whose label has matured take part: a loan filed less than the label horizon
before the snapshot has no outcome yet, and treating it as "did not default" would bias
every metric.

Without a timestamp there is no past and future to respect: the split is random, seeded and
stratified by the label, and `reports/split.json` says so. Unlabelled rows are left out
either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loanrisk.data.declaration import Declaration
from loanrisk.errors import DataSourceError

OUT_OF_TIME = "out_of_time"
STRATIFIED = "stratified_random"


@dataclass(frozen=True)
class Window:
    """The applications a part holds, ``[start, end)``, and when their outcomes were all
    known: what a model fitted or chosen on the part has seen."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    outcomes_known_by: pd.Timestamp | None

    def as_dict(self) -> dict[str, str | None]:
        def text(t: pd.Timestamp | None) -> str | None:
            return None if t is None else str(t.date()) if t == t.normalize() else str(t)

        return {
            "applications_from": text(self.start),
            "applications_before": text(self.end),
            "outcomes_known_by": text(self.outcomes_known_by),
        }


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    immature: int
    strategy: str = OUT_OF_TIME
    windows: dict[str, Window] | None = None

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def out_of_time_split(
    frame: pd.DataFrame,
    dataset: Declaration,
    valid_from: dt.date,
    test_from: dt.date,
    matured_by: pd.Timestamp | None,
    gap_months: int = 0,
) -> Split:
    """Split labelled rows by the timestamp into a deployment-faithful backtest.

    - train: ``[.., valid_from - gap)``
    - valid: ``[valid_from, test_from - gap)``
    - test: ``[test_from, matured_by]``

    where ``matured_by`` comes from ``contract.maturity_cutoff`` (None when the declaration
    gives no label horizon) and ``gap_months`` is normally the label horizon: the outcomes
    of every training loan are known by ``valid_from``, and those of every validation loan
    by ``test_from``. Rows inside a gap take part in no part (counted in ``immature`` if
    their label is missing, otherwise simply unused).
    """
    if dataset.timestamp is None:
        raise ValueError("an out-of-time split needs a declared timestamp")
    stamp, label = dataset.timestamp.column, dataset.label.column
    t = frame[stamp]
    matured = frame[label].notna()
    if matured_by is not None:
        matured &= t <= matured_by
    data = frame[matured].sort_values(stamp, kind="stable")
    t = data[stamp]
    gap = pd.DateOffset(months=gap_months)
    v, s = pd.Timestamp(valid_from), pd.Timestamp(test_from)
    horizon = pd.DateOffset(months=dataset.label.horizon_months or 0)
    first = t.min() if len(t) else None
    windows = {
        "train": Window(first, v - gap, v - gap + horizon),
        "valid": Window(v, s - gap, s - gap + horizon),
        "test": Window(s, matured_by, None if matured_by is None else matured_by + horizon),
    }
    return Split(
        train=data[t < v - gap].reset_index(drop=True),
        valid=data[(t >= v) & (t < s - gap)].reset_index(drop=True),
        test=data[t >= s].reset_index(drop=True),
        immature=int((~matured).sum()),
        windows=windows,
    )


def stratified_split(
    frame: pd.DataFrame, dataset: Declaration, valid_share: float, test_share: float, seed: int
) -> Split:
    """A seeded random split of the labelled rows, each part with the label's overall rate.

    Rows keep their input order within each part, so the same data and seed always give the
    same three files.
    """
    label = dataset.label.column
    labelled = frame[label].notna()
    data = frame[labelled].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    part = np.empty(len(data), dtype=object)
    for _, rows in data.groupby(label, sort=True).indices.items():
        rows = rng.permutation(rows)
        n_test = round(len(rows) * test_share)
        n_valid = round(len(rows) * valid_share)
        part[rows[:n_test]] = "test"
        part[rows[n_test : n_test + n_valid]] = "valid"
        part[rows[n_test + n_valid :]] = "train"
    return Split(
        train=data[part == "train"].reset_index(drop=True),
        valid=data[part == "valid"].reset_index(drop=True),
        test=data[part == "test"].reset_index(drop=True),
        immature=int((~labelled).sum()),
        strategy=STRATIFIED,
    )


def ensure_usable(split: Split, dataset: Declaration) -> None:
    """Raise :class:`DataSourceError` when a part is empty or holds one class only.

    Either makes every later stage meaningless (no fit, no AUC), so the split stage stops with
    what to change rather than letting scikit-learn fail three stages later.
    """
    move = (
        "move split.valid_from / split.test_from inside the labelled months, or ingest a "
        "longer range"
        if split.strategy == OUT_OF_TIME
        else "raise split.valid_share / split.test_share, or bring more rows"
    )
    for name, part in split.parts().items():
        if part.empty:
            raise DataSourceError(f"the {name} split is empty: {move}")
        if part[dataset.label.column].nunique() < 2:
            raise DataSourceError(
                f"the {name} split holds only one outcome ({len(part)} rows): it needs both "
                f"labels; {move}"
            )


def split_report(split: Split, dataset: Declaration) -> dict[str, Any]:
    """The strategy, and the sizes, positive rates and (with a timestamp) time range of each
    part."""
    stamp = dataset.timestamp.column if dataset.timestamp else None
    report: dict[str, Any] = {
        "strategy": split.strategy,
        "excluded_immature_or_unlabelled": split.immature,
    }
    for name, part in split.parts().items():
        entry: dict[str, Any] = {"rows": len(part)}
        if split.windows is not None:
            entry["window"] = split.windows[name].as_dict()
        if stamp is not None:
            entry["first_timestamp"] = str(part[stamp].min()) if len(part) else None
            entry["last_timestamp"] = str(part[stamp].max()) if len(part) else None
        rate = float(part[dataset.label.column].mean()) if len(part) else None
        entry["positive_rate"] = round(rate, 6) if rate is not None else None
        report[name] = entry
    return report
