"""The production window the offline monitor reads: replayed from the generator, or captured.

Replay: the months ``monitor.start`` .. ``+ monitor.months`` drawn by the generator with
``data.scenario`` from ``data.scenario_start`` on, exactly as production would have sent
them, with the outcomes a snapshot on the monitoring date would know.

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
from loanrisk.data.declaration import Declaration
from loanrisk.errors import DataSourceError
from loanrisk.monitoring.captures import FEEDBACK, PREDICTIONS

VERSION_COLUMN = "model_version"
"""The registry version of the model that answered a captured request."""
ARRIVED_COLUMN = "at"
"""When the service received a captured request (UTC, ISO 8601)."""
MONTH_COLUMN = "month"


def window_end(params: Params) -> dt.date:
    """The first day after the replayed window."""
    start = pd.Timestamp(params.monitor.start)
    return (start + pd.DateOffset(months=params.monitor.months)).date()


def monitoring_as_of(params: Params) -> dt.date:
    """The date the monitor looks from: ``monitor.as_of``, or the end of the window."""
    return params.monitor.as_of or window_end(params)


def replay(params: Params, horizon_months: int) -> pd.DataFrame:
    """The generator's production months under the scenario of ``params.data``, as a
    snapshot on the monitoring date holds them: outcomes younger than the horizon unknown."""
    from loanrisk.data import generator

    cfg = params.monitor
    spec = generator.GeneratorSpec(
        seed=params.seed,
        start=cfg.start,
        months=cfg.months,
        n_applications=cfg.rows_per_month * cfg.months,
        as_of=monitoring_as_of(params),
        label_horizon_months=horizon_months,
        scenario=params.data.scenario,
        scenario_start=params.data.scenario_start,
    )
    frame = generator.generate(spec)
    frame[MONTH_COLUMN] = frame["applied_at"].dt.strftime("%Y-%m")
    return frame


def from_captures(directory: str | Path, dataset: Declaration) -> pd.DataFrame:
    """Every captured prediction joined with its outcome (the label is null until reported).

    Canary requests are kept: they are applicants like the others, and the monitor scores
    every row again with the model it judges. (Shadow scoring is never captured: the
    champion's record of the same request is.)
    """
    root = Path(directory)
    records = _records(root / PREDICTIONS)
    if not records:
        raise DataSourceError(f"{root}/{PREDICTIONS}: no captured predictions to monitor")
    frame = pd.DataFrame.from_records(records)
    id_column, label = dataset.id.column, dataset.label.column
    outcomes = pd.DataFrame.from_records(
        _records(root / FEEDBACK), columns=["id", "outcome"]
    ).drop_duplicates("id", keep="last")
    frame = frame.drop_duplicates(id_column, keep="last")
    frame = frame.merge(
        outcomes.rename(columns={"id": id_column, "outcome": label}), on=id_column, how="left"
    )
    frame[label] = frame[label].astype("Int8")
    frame[MONTH_COLUMN] = arrival(frame).dt.strftime("%Y-%m")
    return frame


def as_dataset_rows(captured: pd.DataFrame, dataset: Declaration) -> pd.DataFrame:
    """Captured predictions as rows of the dataset (its declared columns, nothing else).

    A request carries no timestamp: the moment the service received it stands for one (in
    UTC, without a zone, as ingest reads timestamps), since an application is scored when it
    is filed. Protected attributes a request left out stay null, and the contract says so
    when the rows are ingested.
    """
    rows = captured.copy()
    if dataset.timestamp is not None:
        rows[dataset.timestamp.column] = arrival(rows).dt.tz_localize(None)
    for column in dataset.all_columns:
        if column not in rows:
            rows[column] = None
    return rows[list(dataset.all_columns)].reset_index(drop=True)


def arrival(captured: pd.DataFrame) -> pd.Series:
    """When each captured request arrived, in UTC. ISO 8601 in any of its forms: a stamp
    written on a whole second has no fraction, and pandas would otherwise guess one format
    from the first stamp and refuse the other."""
    return pd.to_datetime(captured[ARRIVED_COLUMN], utc=True, format="ISO8601")


def _records(folder: Path) -> list[dict[str, object]]:
    """Every record of the day files in ``folder``, oldest day first."""
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]
