"""Every file the pipeline reads or writes, named once, relative to the project's root.

The stage scripts, the command line, the documents and the service take their paths from
here and nowhere else; `dvc.yaml` names the same files for DVC, and
`tests/code/test_paths.py` fails when the two disagree (a stage's outputs here and there)
or when a module types one of these paths itself. Rename a file here and in `dvc.yaml`,
nowhere else.

It imports nothing: any layer may use it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

# -- data: ingest, validate, split ------------------------------------------------------------

RAW = "data/raw/applications.parquet"
"""The batch as the source gave it, before the contract."""
VALIDATED = "data/validated/applications.parquet"
QUARANTINE = "data/quarantine/applications.parquet"
"""The rows the contract refused, each with the checks it failed: kept, never dropped."""
VALIDATION = "reports/validation.json"
VALIDATION_SUMMARY = "reports/validation.md"

SPLITS = "data/splits"
SPLIT_NAMES = ("train", "valid", "test")


def split(name: str) -> str:
    """``data/splits/<name>.parquet`` for ``train``, ``valid`` or ``test``."""
    return f"{SPLITS}/{name}.parquet"


TRAIN, VALID, TEST = (split(name) for name in SPLIT_NAMES)
SPLIT_REPORT = "reports/split.json"

# -- models: train, evaluate, verdict ---------------------------------------------------------

MODELS = "models"


def model(name: str) -> str:
    """``models/<name>``: a fitted model in MLflow's format, written canonically."""
    return f"{MODELS}/{name}"


CANDIDATE = model("candidate")
TRAIN_METRICS = "reports/train_metrics.json"
"""Validation figures: what `dvc exp show` puts beside the params."""
METRICS = "reports/metrics.json"
"""Test figures: the verdict's, never a DVC metric."""
PLOTS = "reports/plots"
PLOT_KINDS = ("roc", "precision_recall", "calibration", "confusion")


def plot(kind: str, model_name: str) -> str:
    """``reports/plots/<kind>/<model>.json``: one curve's rows, for `dvc plots`."""
    return f"{PLOTS}/{kind}/{model_name}.json"


VERDICT = "reports/verdict.json"
"""The candidate judged alone against the gate's thresholds, with its fingerprint."""

# -- monitoring --------------------------------------------------------------------------------

DRIFT = "reports/monitoring/drift.json"
MONITORING_REPORT = "reports/monitoring/report.html"
WINDOW = "data/monitoring/window.parquet"
"""The monitored window as ingest would see it on the monitoring date: `make retrain` reads it."""
RETRAIN = "data/monitoring/retrain.parquet"
"""The recent rows `make retrain` adds to the training data."""

# -- documents ---------------------------------------------------------------------------------

MODEL_CARDS = "model_cards"
DATASHEETS = "datasheets"
PROBLEM = "docs/problem.md"
PROBLEM_HTML = "docs/problem.html"
TEMPLATES = "docs/templates"
"""The documents' Jinja2 templates, all the prose a team rewrites for its own problem: not
beside the documents in `model_cards/` and `datasheets/`, which DVC owns as the `document`
stage's outputs and empties before each run."""
CARD_TEMPLATE, DATASHEET_TEMPLATE, PROBLEM_TEMPLATE = (
    f"{name}.md.j2" for name in ("model_card", "datasheet", "problem")
)
PARAMS = "params.yaml"
FAIRNESS_CONCERN = ".github/ISSUE_TEMPLATE/fairness-concern.yml"
"""The issue form for an ethical or fairness concern, which the card's readers are sent to."""


def folder(path: str) -> str:
    """The folder ``path`` is in, with a trailing slash: ``data/raw/`` for `RAW`."""
    return path.rsplit("/", 1)[0] + "/"


def card(registered_model: str, suffix: str) -> PurePosixPath:
    """``model_cards/<registered model>.<suffix>`` (``md`` or ``html``)."""
    return PurePosixPath(MODEL_CARDS) / f"{registered_model}.{suffix}"


def datasheet(dataset: str, suffix: str) -> PurePosixPath:
    """``datasheets/<dataset name>.<suffix>`` (``md`` or ``html``)."""
    return PurePosixPath(DATASHEETS) / f"{dataset}.{suffix}"


def documents(registered_model: str, dataset: str) -> tuple[PurePosixPath, ...]:
    """The card and the datasheet, Markdown and HTML: what the release logs to the run."""
    card_files = (card(registered_model, suffix) for suffix in ("md", "html"))
    sheet_files = (datasheet(dataset, suffix) for suffix in ("md", "html"))
    return (*card_files, *sheet_files)


RELEASE = "reports/release.json"
"""What the pipeline offered for release: the model's fingerprint and policy and the SHA-256
of its documents; the same bytes on every clone."""

# -- one store's state: git-ignored, not DVC outputs -------------------------------------------

GATE = "reports/gate.json"
"""What the release did in this MLflow store: versions, the comparison, the champion."""
CHAMPION = model("champion")
"""The champion's serving bundle: what the service loads."""
CAPTURES = "captures"
"""Where the service writes the requests it answered, for the monitor and for retraining."""

OUTPUTS: dict[str, tuple[str, ...]] = {
    "ingest": (RAW,),
    "validate": (VALIDATED, QUARANTINE, VALIDATION_SUMMARY, VALIDATION),
    "split": (TRAIN, VALID, TEST, SPLIT_REPORT),
    "train": (model("rule"), model("logistic"), CANDIDATE, TRAIN_METRICS),
    "evaluate": (METRICS, *(f"{PLOTS}/{kind}" for kind in PLOT_KINDS)),
    "verdict": (VERDICT,),
    "monitor": (DRIFT, MONITORING_REPORT, WINDOW),
    "document": (MODEL_CARDS, DATASHEETS, PROBLEM, PROBLEM_HTML),
    "release": (RELEASE,),
}
"""Each DVC stage's outputs (outs, metrics and plots in `dvc.yaml`), in the pipeline's order.
What `release` changes besides `RELEASE` is one MLflow store, and `GATE` and `CHAMPION` with
it: those are git-ignored, not DVC outputs."""
