"""Facts about a dataset that no report holds: computed once from the validated rows.

The datasheet quotes these (size, time range, class balance, missing values, how the
protected groups are represented); they are JSON-ready so they can be quoted through the
ledger like any report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from loanrisk.data.declaration import Declaration


def data_facts(frame: pd.DataFrame, dataset: Declaration) -> dict[str, Any]:
    """Rows, time range, label balance, nulls per column, protected groups, and per period
    (month with a timestamp) the rows and positive rate."""
    label = frame[dataset.label.column]
    labelled = label.notna()
    positives = int((label[labelled] == 1).sum())
    facts: dict[str, Any] = {
        "rows": len(frame),
        "columns": frame.shape[1],
        "label": {
            "labelled": int(labelled.sum()),
            "unlabelled": int((~labelled).sum()),
            "positive": positives,
            "negative": int(labelled.sum()) - positives,
            "positive_rate": positives / int(labelled.sum()) if labelled.any() else None,
        },
        "missing": {
            column: {"nulls": int(nulls), "share": float(nulls) / len(frame) if len(frame) else 0.0}
            for column, nulls in frame.isna().sum().items()
        },
        "groups": {
            group: _distribution(dataset.group(frame, group), label)
            for group in dataset.fairness_groups
        },
        "time_range": None,
        "months": [],
        "years": [],
    }
    if dataset.timestamp is not None and len(frame):
        stamps = frame[dataset.timestamp.column]
        facts["time_range"] = {"first": str(stamps.min()), "last": str(stamps.max())}
        facts["months"] = _by_period(stamps.dt.strftime("%Y-%m"), label)
        facts["years"] = _by_period(stamps.dt.strftime("%Y"), label)
    return facts


def _distribution(groups: pd.Series, label: pd.Series) -> dict[str, dict[str, Any]]:
    out = {}
    total = len(groups)
    for group in sorted(groups.unique()):
        mask = (groups == group).to_numpy()
        known = label[mask].dropna()
        out[str(group)] = {
            "rows": int(mask.sum()),
            "share": float(mask.sum()) / total,
            "labelled": len(known),
            "positive_rate": float((known == 1).mean()) if len(known) else None,
        }
    return out


def _by_period(period: pd.Series, label: pd.Series) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(period.unique()):
        mask = (period == key).to_numpy()
        known = label[mask].dropna()
        rows.append(
            {
                "period": str(key),
                "rows": int(mask.sum()),
                "labelled": len(known),
                "positive_rate": float((known == 1).mean()) if len(known) else None,
            }
        )
    return rows
