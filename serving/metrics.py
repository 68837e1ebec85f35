"""Prometheus metrics of the service, named and labelled per Prometheus conventions.

Label values are bounded: routes are the app's route templates (not raw paths), statuses
HTTP codes, decisions the policy's three, versions the few models loaded, fields the
contract's columns. Under several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` (`make
serve` does) and the exposition aggregates every worker's samples.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Seconds: fine below 10 ms, where a single application is answered, coarse above."""
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 20))

REQUESTS = Counter(
    "loanrisk_http_requests_total", "HTTP requests by route and status.", ["route", "status"]
)
LATENCY = Histogram(
    "loanrisk_http_request_duration_seconds",
    "Time to answer a request, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
PREDICTIONS = Counter(
    "loanrisk_predictions_total",
    "Applications scored, by decision, model version and role (champion, canary, shadow).",
    ["decision", "version", "role"],
)
SCORES = Histogram(
    "loanrisk_prediction_score",
    "Predicted probability of the positive label, by model version and role.",
    ["version", "role"],
    buckets=SCORE_BUCKETS,
)
VALIDATION_FAILURES = Counter(
    "loanrisk_validation_failures_total",
    "Request fields refused at the door, by field.",
    ["field"],
)
CAPTURE_DROPPED = Counter(
    "loanrisk_capture_dropped_total",
    "Prediction records dropped: the queue was full or the disk refused the write.",
)
PROBES = Counter(
    "loanrisk_probes_total",
    "Boundary probes seen: one client walking one feature across the decision threshold.",
    ["feature"],
)
REFUSED_TOKENS = Counter(
    "loanrisk_refused_tokens_total",
    "Bearer tokens refused on the admin and feedback routes (missing, wrong or throttled).",
    ["route"],
)
CAPTURED = Counter("loanrisk_capture_written_total", "Prediction records written to disk.")
MODEL_INFO = Gauge(
    "loanrisk_model_info",
    "1 for each model loaded, by name, version, role and inference path.",
    ["name", "version", "role", "path"],
    multiprocess_mode="liveall",
)
READY = Gauge(
    "loanrisk_ready", "1 when the champion is loaded and warmed up.", multiprocess_mode="liveall"
)
DRIFT_BINS = Counter(
    "loanrisk_drift_bin_total",
    "Applications scored by the champion, by feature and reference-profile bin "
    '(feature="_score" for the score). Recording rules turn these into PSI.',
    ["feature", "bin"],
)
REFERENCE_SHARE = Gauge(
    "loanrisk_drift_reference_share",
    "The served model's reference profile: each bin's share of the training data, smoothed "
    "by the pseudo-count the recording rules add.",
    ["feature", "bin"],
    multiprocess_mode="livemax",  # a stopped worker's profile leaves the view
)
FEEDBACK = Counter(
    "loanrisk_feedback_total",
    "Outcomes received, by whether they joined a prediction this process remembers.",
    ["joined"],
)
LIVE_OUTCOMES = Gauge(
    "loanrisk_live_outcomes",
    "Matured outcomes in the live-quality window.",
    multiprocess_mode="liveall",
)
LIVE_ROC_AUC = Gauge(
    "loanrisk_live_roc_auc",
    "ROC-AUC over the live-quality window (NaN below the minimum number of outcomes).",
    multiprocess_mode="liveall",
)
LIVE_ECE = Gauge(
    "loanrisk_live_ece",
    "Expected calibration error over the live-quality window.",
    multiprocess_mode="liveall",
)
LIVE_POSITIVE_RATE = Gauge(
    "loanrisk_live_positive_rate",
    "Share of positive outcomes (defaults) in the live-quality window.",
    multiprocess_mode="liveall",
)
LIVE_APPROVAL_RATE = Gauge(
    "loanrisk_live_approval_rate",
    "Approval rate over the live-quality window by protected group (attribute, group).",
    ["attribute", "group"],
    multiprocess_mode="liveall",
)
RELOADS = Counter("loanrisk_model_reloads_total", "Model reloads by outcome.", ["outcome"])


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: the lookup costs microseconds per request,
    and the label sets are few (bounded by design)."""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


def forget(*metrics: Any) -> None:
    """Remove every labelled child of ``metrics`` (a new champion brings other bins).

    Under several workers a removed child lives on: its value stays in the worker's file
    under ``PROMETHEUS_MULTIPROC_DIR``, which every scrape reads. So a gauge's children are
    set to 0 first, which the rules and the dashboard read as absent (a share of 0 is no
    bin, a ``loanrisk_model_info`` of 0 is a model no longer loaded). A counter needs
    nothing: its series simply stops growing.
    """
    for metric in metrics:
        if isinstance(metric, Gauge):
            for family in metric.collect():
                for sample in family.samples:
                    metric.labels(**sample.labels).set(0)
        metric.clear()
        # list() copies the keys in one step under the GIL: request threads may be adding
        # children meanwhile, and iterating the dict itself would then raise.
        for key in [k for k in list(_CHILDREN) if k[0] == id(metric)]:
            _CHILDREN.pop(key, None)


def retire(metric: Gauge, *labels: str) -> None:
    """Remove one child of a gauge, zeroed first for the reason :func:`forget` gives."""
    metric.labels(*labels).set(0)
    metric.remove(*labels)
    _CHILDREN.pop((id(metric), labels), None)


def leave() -> None:
    """Take this worker's gauges out of the shared view when it stops (several workers).

    A worker uvicorn restarts (``kill -HUP``, the way to reload every worker at once) would
    otherwise leave its last ``loanrisk_ready``, ``loanrisk_model_info`` and reference shares
    (the ``live*`` modes) in every scrape.
    A worker that crashes cannot do this; its gauges stay until the directory is emptied,
    which `make serve` does at start.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric (all workers' under multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
