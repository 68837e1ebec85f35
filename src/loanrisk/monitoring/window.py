"""The production window the offline monitor reads: replayed from the generator, or captured.

Replay: the months ``monitor.start`` .. ``+ monitor.months`` drawn by the generator with
``data.scenario`` from ``data.scenario_start`` on, exactly as production would have sent
them (every label is drawn; which ones are known is decided by the maturity date, not here).

Captures: what the service wrote under ``captures/`` (`serving/capture.py`): each prediction
record holds the application, its score and decision; ``/feedback`` outcomes are joined by
application id. The month is the month the request arrived.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.errors import DataSourceError

SCORE_COLUMN = "score"
MONTH_COLUMN = "month"


def window_end(params: Params) -> dt.date:
    """The first day after the replayed window."""
    start = pd.Timestamp(params.monitor.start)
    return (start + pd.DateOffset(months=params.monitor.months)).date()


def monitoring_as_of(params: Params) -> dt.date:
    """The date the monitor looks from: ``monitor.as_of``, or the end of the window."""
    return params.monitor.as_of or window_end(params)


def replay(params: Params) -> pd.DataFrame:
    """The generator's production months, with the scenario of ``params.data``."""
    from loanrisk.data import generator

    cfg = params.monitor
    scenario_from = pd.Timestamp(params.data.scenario_start or cfg.start)
    batches = []
    for month in generator.month_starts(cfg.start, cfg.months):
        scenario = params.data.scenario if month >= scenario_from else "none"
        batches.append(generator.generate_month(params.seed, month, cfg.rows_per_month, scenario))
    frame = pd.concat(batches, ignore_index=True)
    frame[MONTH_COLUMN] = frame["applied_at"].dt.strftime("%Y-%m")
    return frame


def from_captures(directory: str | Path, dataset: Declaration) -> pd.DataFrame:
    """Captured predictions joined with their outcomes (the label is null until reported)."""
    root = Path(directory)
    records = [
        json.loads(line)
        for path in sorted((root / "predictions").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]
    if not records:
        raise DataSourceError(f"{root}/predictions: no captured predictions to monitor")
    frame = pd.DataFrame.from_records(records)
    id_column, label = dataset.id.column, dataset.label.column
    outcomes = pd.DataFrame.from_records(
        [
            json.loads(line)
            for path in sorted((root / "feedback").glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line
        ],
        columns=["id", "outcome"],
    ).drop_duplicates("id", keep="last")
    frame = frame.drop_duplicates(id_column, keep="last")
    frame = frame.merge(
        outcomes.rename(columns={"id": id_column, "outcome": label}), on=id_column, how="left"
    )
    frame[label] = frame[label].astype("Int8")
    frame[MONTH_COLUMN] = pd.to_datetime(frame["at"], utc=True).dt.strftime("%Y-%m")
    return frame


def hidden_immature(frame: pd.DataFrame, dataset: Declaration, as_of: dt.date) -> pd.DataFrame:
    """``frame`` as a snapshot on ``as_of`` holds it: outcomes younger than the horizon unknown."""
    if dataset.timestamp is None or dataset.label.horizon_months is None:
        return frame
    young = frame[dataset.timestamp.column] > maturity_cutoff(as_of, dataset.label.horizon_months)
    out = frame.copy()
    label = dataset.label.column
    out[label] = out[label].astype("Int8").mask(young)
    return out
