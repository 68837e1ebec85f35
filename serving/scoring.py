"""What happens to each scored application besides its answer: counted, binned for drift,
remembered for its outcome, captured. Plain functions over plain values, so the service's
data plane reads as a sequence of named steps.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from loanrisk.data.declaration import Declaration
from serving import metrics
from serving.model import ServedModel
from serving.monitor import OnlineMonitor

CHAMPION, CANARY, SHADOW = "champion", "canary", "shadow"
"""The roles a model plays: every request's default, a sticky share of ids, or a silent
second opinion on the champion's traffic."""


def route(application_id: str, canary_fraction: float) -> str:
    """The role for an application under canary traffic. Sticky: the same id always lands
    in the same bucket of 10,000, so a client asking twice meets the same model."""
    bucket = zlib.crc32(application_id.encode()) % 10_000
    return CANARY if bucket < canary_fraction * 10_000 else CHAMPION


def answer(
    model: ServedModel,
    role: str,
    applications: list[dict[str, Any]],
    dataset: Declaration,
    monitor: OnlineMonitor | None,
    export: bool,
) -> list[dict[str, Any]]:
    """``model`` scores and decides ``applications`` in ``role``: counted when ``export``,
    observed by ``monitor`` (the champion's), one answer per application."""
    features = dataset.feature_names
    p = model.score_rows([{f: a[f] for f in features} for a in applications])
    decisions = model.decide(p)
    if export:
        record(model, role, p, decisions)
    if monitor is not None:
        observe(monitor, dataset, applications, p, decisions)
    id_column = dataset.id.column
    return [
        {
            "id": a[id_column],
            "probability": float(p[j]),
            "decision": str(decisions[j]),
            "model_version": model.version,
        }
        for j, a in enumerate(applications)
    ]


def record(model: ServedModel, role: str, p: np.ndarray, decisions: list[str]) -> None:
    """Decisions and scores by model version and role (labelled children looked up once)."""
    histogram = metrics.child(metrics.SCORES, model.version, role)
    for value, decision in zip(p.tolist(), decisions, strict=True):
        metrics.child(metrics.PREDICTIONS, decision, model.version, role).inc()
        histogram.observe(value)


def observe(
    monitor: OnlineMonitor,
    dataset: Declaration,
    applications: list[dict[str, Any]],
    p: np.ndarray,
    decisions: list[str],
) -> None:
    """Bin each application for drift; remember its prediction until its outcome arrives."""
    id_column = dataset.id.column
    for application, score, decision in zip(applications, p.tolist(), decisions, strict=True):
        monitor.observe(application, score)
        groups = {name: application.get(name) for name in dataset.protected}
        monitor.remember(application[id_column], score, decision, groups)


def capture_records(
    applications: list[dict[str, Any]],
    predictions: list[dict[str, Any]],
    roles: list[str],
    request_id: str,
    stamp: str,
) -> list[dict[str, Any]]:
    """One capture record per application: its fields, the answer, who answered and when."""
    return [
        {
            **application,
            "request_id": request_id,
            "at": stamp,
            "score": prediction["probability"],
            "decision": prediction["decision"],
            "model_version": prediction["model_version"],
            "role": role,
        }
        for application, prediction, role in zip(applications, predictions, roles, strict=True)
    ]
