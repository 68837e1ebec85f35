"""Which files the documents quote, and where the documents go.

The names double as the sources' names in the ledger, so each fact in a document says which
file it came from. Reading them is the stage's business (`pipelines/document.py`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from loanrisk.models.train import MODEL_NAMES

CANDIDATE = "candidate"
"""The model the card documents; the others in MODEL_NAMES are its baselines."""
BASELINES = tuple(name for name in MODEL_NAMES if name != CANDIDATE)

PARAMS = "params.yaml"
VALIDATION = "reports/validation.json"
SPLIT = "reports/split.json"
TRAIN_METRICS = "reports/train_metrics.json"
METRICS = "reports/metrics.json"
VERDICT = "reports/verdict.json"
MONITORING = "reports/monitoring/drift.json"
VALIDATED = "data/validated/applications.parquet"
"""Not JSON: the stage computes :func:`loanrisk.docs.facts.data_facts` from it."""
CONTRACT = "src/loanrisk/data/contract.py"
"""The contract's column table, built from the declaration by this module."""
GENERATOR = "src/loanrisk/data/generator.py"
SCENARIOS = "src/loanrisk/data/scenarios.py"


def plot(kind: str, model: str) -> str:
    return f"reports/plots/{kind}/{model}.json"


ROC = {name: plot("roc", name) for name in MODEL_NAMES}
CALIBRATION = {name: plot("calibration", name) for name in MODEL_NAMES}
CONFUSION = plot("confusion", CANDIDATE)

REPORTS: tuple[str, ...] = (
    VALIDATION,
    SPLIT,
    TRAIN_METRICS,
    METRICS,
    VERDICT,
    MONITORING,
    *ROC.values(),
    *CALIBRATION.values(),
    CONFUSION,
)
"""The JSON reports the stage reads into the sources, by path."""

MODEL_CARDS = "model_cards"
DATASHEETS = "datasheets"
PROBLEM = "docs/problem.md"
"""The problem framing, rendered from the params and the declaration alone."""


def card_path(registered_model: str, suffix: str) -> PurePosixPath:
    """``model_cards/<registered model>.<suffix>``."""
    return PurePosixPath(MODEL_CARDS) / f"{registered_model}.{suffix}"


def datasheet_path(dataset: str, suffix: str) -> PurePosixPath:
    """``datasheets/<dataset name>.<suffix>``."""
    return PurePosixPath(DATASHEETS) / f"{dataset}.{suffix}"
