"""Out-of-time split: train on the past, choose on the recent past, test on the latest months.

Only applications whose label has matured take part: a loan filed less than the label horizon
before the snapshot has no outcome yet, and treating it as "did not default" would bias every
metric.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.data.contract import LABEL, TIMESTAMP
from loanrisk.errors import DataSourceError


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    immature: int

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def out_of_time_split(
    frame: pd.DataFrame, valid_from: dt.date, test_from: dt.date, matured_by: pd.Timestamp
) -> Split:
    """Split matured rows by ``applied_at``: [.., valid_from), [valid_from, test_from) and
    [test_from, matured_by], where ``matured_by`` comes from ``contract.maturity_cutoff``."""
    t = frame[TIMESTAMP]
    matured = frame[LABEL].notna() & (t <= matured_by)
    data = frame[matured].sort_values(TIMESTAMP, kind="stable")
    t = data[TIMESTAMP]
    v, s = pd.Timestamp(valid_from), pd.Timestamp(test_from)
    return Split(
        train=data[t < v].reset_index(drop=True),
        valid=data[(t >= v) & (t < s)].reset_index(drop=True),
        test=data[t >= s].reset_index(drop=True),
        immature=int((~matured).sum()),
    )


def ensure_usable(split: Split) -> None:
    """Raise :class:`DataSourceError` when a part is empty or holds one class only.

    Either makes every later stage meaningless (no fit, no AUC), so the split stage stops with
    the boundaries to move rather than letting scikit-learn fail three stages later.
    """
    for name, part in split.parts().items():
        if part.empty:
            raise DataSourceError(
                f"the {name} split is empty: move split.valid_from / split.test_from inside "
                "the matured months, or ingest a longer range"
            )
        if part[LABEL].nunique() < 2:
            raise DataSourceError(
                f"the {name} split holds only one outcome ({len(part)} rows): it needs both "
                "defaults and repayments"
            )


def split_report(split: Split) -> dict[str, Any]:
    """Boundaries, sizes and default rates of each part."""
    report: dict[str, Any] = {"excluded_immature_or_unlabelled": split.immature}
    for name, part in split.parts().items():
        report[name] = {
            "rows": len(part),
            "first_applied_at": str(part[TIMESTAMP].min()) if len(part) else None,
            "last_applied_at": str(part[TIMESTAMP].max()) if len(part) else None,
            "default_rate": round(float(part[LABEL].mean()), 6) if len(part) else None,
        }
    return report
