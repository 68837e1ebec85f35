"""Which files the documents quote, and where the documents go.

The names double as the sources' names in the ledger, so each fact in a document says which
file it came from. Reading them is the stage's business (`pipelines/document.py`); the paths
themselves are named in :mod:`loanrisk.paths`.
"""

from __future__ import annotations

from loanrisk import paths
from loanrisk.models.train import MODEL_NAMES

CANDIDATE = "candidate"
"""The model the card documents; the others in MODEL_NAMES are its baselines."""
BASELINES = tuple(name for name in MODEL_NAMES if name != CANDIDATE)

PARAMS = "params.yaml"
VALIDATION = paths.VALIDATION
SPLIT = paths.SPLIT_REPORT
TRAIN_METRICS = paths.TRAIN_METRICS
METRICS = paths.METRICS
VERDICT = paths.VERDICT
MONITORING = paths.DRIFT
VALIDATED = paths.VALIDATED
"""Not JSON: the stage computes :func:`loanrisk.docs.facts.data_facts` from it."""
CONTRACT = "src/loanrisk/data/contract.py"
"""The contract's column table, built from the declaration by this module."""
GENERATOR = "src/loanrisk/data/generator.py"
FAIRNESS_CONCERN = ".github/ISSUE_TEMPLATE/fairness-concern.yml"
"""The issue form for an ethical or fairness concern, which the card's readers are sent to."""
SCENARIOS = "src/loanrisk/data/scenarios.py"


ROC = {name: paths.plot("roc", name) for name in MODEL_NAMES}
CALIBRATION = {name: paths.plot("calibration", name) for name in MODEL_NAMES}
CONFUSION = paths.plot("confusion", CANDIDATE)

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

MODEL_CARDS = paths.MODEL_CARDS
DATASHEETS = paths.DATASHEETS
PROBLEM = paths.PROBLEM
"""The problem framing, rendered from the params and the declaration alone."""
plot = paths.plot
card_path = paths.card
datasheet_path = paths.datasheet
