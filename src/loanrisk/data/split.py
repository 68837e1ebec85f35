"""Train, validation and test parts: out of time when the data has a timestamp.

With a timestamp the split is out of time: train on the past, choose on the recent past, test
on the latest months, as the model will be used. Only rows whose label has matured take
part: a loan filed less than the label horizon before the snapshot has no outcome yet, and
treating it as "did not default" would bias every metric.

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
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    immature: int
    strategy: str = OUT_OF_TIME

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def out_of_time_split(
    frame: pd.DataFrame,
    dataset: Declaration,
    valid_from: dt.date,
    test_from: dt.date,
    matured_by: pd.Timestamp | None,
) -> Split:
    """Split labelled rows by the timestamp: [.., valid_from), [valid_from, test_from) and
    [test_from, matured_by], where ``matured_by`` comes from ``contract.maturity_cutoff``
    (None when the declaration gives no label horizon)."""
    if dataset.timestamp is None:
        raise ValueError("an out-of-time split needs a declared timestamp")
    stamp, label = dataset.timestamp.column, dataset.label.column
    t = frame[stamp]
    matured = frame[label].notna()
    if matured_by is not None:
        matured &= t <= matured_by
    data = frame[matured].sort_values(stamp, kind="stable")
    t = data[stamp]
    v, s = pd.Timestamp(valid_from), pd.Timestamp(test_from)
    return Split(
        train=data[t < v].reset_index(drop=True),
        valid=data[(t >= v) & (t < s)].reset_index(drop=True),
        test=data[t >= s].reset_index(drop=True),
        immature=int((~matured).sum()),
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
        if stamp is not None:
            entry["first_timestamp"] = str(part[stamp].min()) if len(part) else None
            entry["last_timestamp"] = str(part[stamp].max()) if len(part) else None
        rate = float(part[dataset.label.column].mean()) if len(part) else None
        entry["positive_rate"] = round(rate, 6) if rate is not None else None
        report[name] = entry
    return report
