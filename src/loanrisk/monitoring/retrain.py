"""Continuous training: the params of a pipeline run on the recent window.

Retraining is the same pipeline, the same gate, on other data: the window the monitor
wrote (``data/monitoring/window.parquet``: production rows as ingest would see them on the
monitoring date). Of its months whose outcomes have matured, the most recent
``monitor.retrain_months`` are used: the last ``monitor.quality_window_months`` are the test
split, on which the gate compares the champion and the challenger row for row; as many
before them are the validation split (calibration and the referral band); the rest train.

No gap between the parts here, unlike the release backtest (``split.gap_months``): every
outcome in the window is already known on the monitoring date, which is when the retrained
model is deployed, so nothing it learns was unknown at its deployment. What the test
measures is how the challenger does on the most recent known months, beside the champion.

The window is the generator's replay or the service's captures (`monitor.source`), in the
dataset's own columns either way. A replay is a snapshot on the monitoring date, its young
outcomes already unknown. Captures are snapshotted the day after the newest request, and an
outcome reported before the label horizon has passed is held back (:func:`hide_young_outcomes`):
a loan reported as repaid three months in is not yet known not to default within twelve,
and keeping only the early defaults would teach the model a default rate that is too high.

The change is written into ``params.yaml`` (comments kept) for `dvc repro` to run: a retrain
is a release like any other, reviewed as a diff of params.yaml and dvc.lock and committed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.errors import ConfigError, LoanriskError


@dataclass(frozen=True)
class RetrainPlan:
    source: str
    as_of: str
    train_from: str
    valid_from: str
    test_from: str
    months: tuple[str, ...]

    def params(self) -> dict[tuple[str, str], str]:
        """(section, key) -> the YAML text of the new value."""
        return {
            ("data", "source"): self.source,
            ("data", "as_of"): f'"{self.as_of}"',
            ("split", "valid_from"): f'"{self.valid_from}"',
            ("split", "test_from"): f'"{self.test_from}"',
            ("split", "gap_months"): "0",
        }


def reasons_to_retrain(monitoring: dict[str, Any], force: bool) -> list[str] | None:
    """Why to retrain, from the monitor's report (`reports/monitoring/drift.json`): its
    reasons, or an empty list when ``force`` overrides a report that recommends nothing;
    None when it recommends nothing and nothing forces it. Refused when the monitor judged
    no window at all."""
    if monitoring.get("skipped"):
        raise LoanriskError(f"retrain: the monitor judged no window ({monitoring['skipped']})")
    decision = monitoring["decision"]
    if not (decision["retrain"] or force):
        return None
    return list(decision["reasons"])


def snapshot_date(window: pd.DataFrame, timestamp: str) -> dt.date:
    """The day after the newest row: when a snapshot of captured traffic is taken."""
    newest = window[timestamp].max()
    if pd.isna(newest):
        raise ConfigError("the monitored window has no rows to retrain on")
    return (pd.Timestamp(newest).normalize() + pd.Timedelta(days=1)).date()


def hide_young_outcomes(
    window: pd.DataFrame, timestamp: str, label: str, matured_by: pd.Timestamp
) -> pd.DataFrame:
    """The window with the outcomes of rows younger than the label horizon set unknown."""
    out = window.copy()
    out[label] = out[label].mask(out[timestamp] > matured_by)
    return out


def matured_months(
    window: pd.DataFrame, timestamp: str, label: str, matured_by: pd.Timestamp
) -> list[str]:
    """The months (``YYYY-MM``, oldest first) that ended by ``matured_by`` and have outcomes."""
    known = window[window[label].notna() & (window[timestamp] <= matured_by)]
    months = sorted(set(known[timestamp].dt.strftime("%Y-%m")))
    second = pd.Timedelta(seconds=1)  # a month's last instant, as the monitor counts them
    return [m for m in months if pd.Timestamp(m) + pd.DateOffset(months=1) - second <= matured_by]


def plan(
    matured: list[str], as_of: dt.date, window: str, retrain_months: int, test_months: int
) -> RetrainPlan:
    """Where each split of the retraining run starts: the most recent ``retrain_months`` of
    the ``matured`` months; the last ``test_months`` test, as many before them validate."""
    recent = matured[-retrain_months:]
    if len(recent) < 2 * test_months + 1:
        raise ConfigError(
            f"{len(recent)} month(s) of matured outcomes in the window; retraining needs at "
            f"least {2 * test_months + 1} (monitor.quality_window_months = {test_months} for "
            "the test split, as many for validation, one to train): wait for outcomes to "
            "mature (and, for captures, to be reported to /feedback), or widen monitor.months "
            "for a replay"
        )
    return RetrainPlan(
        source=window,
        as_of=as_of.isoformat(),
        train_from=f"{recent[0]}-01",
        valid_from=f"{recent[-2 * test_months]}-01",
        test_from=f"{recent[-test_months]}-01",
        months=tuple(recent),
    )


def prepare(
    window: pd.DataFrame,
    monitoring: dict[str, Any],
    dataset: Declaration,
    source: str,
    retrain_months: int,
    test_months: int,
) -> tuple[RetrainPlan, pd.DataFrame]:
    """The plan of a retraining run and the rows it trains on (to be written to ``source``).

    ``window`` is what the monitor wrote, ``monitoring`` its report: a replay is snapshotted
    on the report's date, captures on the day after their newest request.
    """
    if dataset.timestamp is None:
        raise ConfigError("retraining on a window needs a timestamp in the dataset declaration")
    stamp, label = dataset.timestamp.column, dataset.label.column
    replayed = monitoring.get("source") == "generator"
    as_of = dt.date.fromisoformat(monitoring["as_of"]) if replayed else snapshot_date(window, stamp)
    matured_by = maturity_cutoff(as_of, dataset.label.horizon_months or 0)
    window = hide_young_outcomes(window, stamp, label, matured_by)
    matured = matured_months(window, stamp, label, matured_by)
    chosen = plan(matured, as_of, source, retrain_months, test_months)
    # The rest of a month cut by the maturity date would join the test split (which keeps
    # every matured row): its outcomes are held back too, so the test is whole months.
    after_plan = pd.Timestamp(chosen.months[-1]) + pd.DateOffset(months=1)
    window[label] = window[label].mask(window[stamp] >= after_plan)
    return chosen, recent_only(window, stamp, chosen.train_from)


def recent_only(frame: pd.DataFrame, timestamp: str, train_from: str) -> pd.DataFrame:
    """The window's rows from the first retraining month on."""
    return frame[frame[timestamp] >= pd.Timestamp(train_from)]


def set_params(text: str, changes: dict[tuple[str, str], str]) -> str:
    """``params.yaml`` text with ``changes`` applied in place, comments and layout kept."""
    lines = text.splitlines(keepends=True)
    for (section, key), value in changes.items():
        inside, done = False, False
        for i, line in enumerate(lines):
            if re.match(r"^\S", line):
                inside = line.startswith(f"{section}:")
                continue
            match = re.match(rf"^(  {re.escape(key)}:\s*)(\S.*?|)(\s+#.*)?(\n?)$", line)
            if inside and match:
                head, _, comment, end = match.groups()
                lines[i] = f"{head}{value}{comment or ''}{end}"
                done = True
                break
        if not done:
            raise ConfigError(f"params.yaml: no {section}.{key} to set for retraining")
    return "".join(lines)
