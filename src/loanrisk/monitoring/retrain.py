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

The change is written into ``params.yaml`` (comments kept) for `dvc repro` to run: a retrain
is a release like any other, reviewed as a diff of params.yaml and dvc.lock and committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loanrisk.errors import ConfigError


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


def plan(
    monitoring: dict[str, Any], window: str, retrain_months: int, test_months: int
) -> RetrainPlan:
    """Where each split of the retraining run starts, from the monitor's report."""
    matured = [m["month"] for m in monitoring["months"] if m.get("outcomes_known")]
    recent = matured[-retrain_months:]
    if len(recent) < 2 * test_months + 1:
        raise ConfigError(
            f"{len(recent)} month(s) of matured outcomes in the window; retraining needs at "
            f"least {2 * test_months + 1} (monitor.quality_window_months = {test_months} for "
            "the test split, as many for validation, one to train): wait for outcomes to "
            "mature or widen monitor.months"
        )
    return RetrainPlan(
        source=window,
        as_of=monitoring["as_of"],
        train_from=f"{recent[0]}-01",
        valid_from=f"{recent[-2 * test_months]}-01",
        test_from=f"{recent[-test_months]}-01",
        months=tuple(recent),
    )


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
