"""Typed configuration: `params.yaml` loaded once into frozen, strict pydantic models.

Every stage reads its knobs from one :class:`Params` object instead of indexing raw
dictionaries, so a typo in `params.yaml` fails at start-up with the key's name rather
than as a ``KeyError`` deep inside a stage.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loanrisk.errors import ConfigError

# Dates are quoted strings in params.yaml (DVC cannot diff YAML dates) and parsed here.
Date = Annotated[dt.date, Field(strict=False)]

Scenario = Literal["none", "recession", "new_category", "null_feed", "unit_change"]
SCENARIOS: tuple[str, ...] = get_args(Scenario)


class _Frozen(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class ProblemConfig(_Frozen):
    cost_approve_default: float = Field(gt=0)
    cost_reject_good: float = Field(gt=0)
    target_referral_rate: float = Field(ge=0, lt=1)


class DataConfig(_Frozen):
    declaration: str = Field(min_length=1)
    source: str
    size: str
    sizes: dict[str, int]
    start: Date
    months: int = Field(gt=0)
    as_of: Date
    scenario: Scenario
    scenario_start: Date | None

    @model_validator(mode="after")
    def _size_is_known(self) -> DataConfig:
        if self.size not in self.sizes:
            raise ValueError(f"size {self.size!r} is not one of sizes: {sorted(self.sizes)}")
        return self

    @property
    def n_applications(self) -> int:
        """The number of applications the generator makes at the selected size."""
        return self.sizes[self.size]

    @property
    def uses_generator(self) -> bool:
        return self.source == "generator"


class ContractConfig(_Frozen):
    max_quarantine_share: float = Field(ge=0, le=1)
    max_staleness_days: int = Field(ge=0)


class SplitConfig(_Frozen):
    """Out of time by ``valid_from``/``test_from`` when the dataset declares a timestamp, with
    ``gap_months`` between a part and the next (None: the label horizon); otherwise a seeded
    split stratified by the label, by ``valid_share``/``test_share``."""

    valid_from: Date
    test_from: Date
    gap_months: int | None = Field(ge=0)
    valid_share: float = Field(gt=0, lt=1)
    test_share: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> SplitConfig:
        if self.valid_from >= self.test_from:
            raise ValueError("valid_from must come before test_from")
        if self.valid_share + self.test_share >= 1:
            raise ValueError("valid_share + test_share must leave rows to train on")
        return self


class LogisticConfig(_Frozen):
    C: float = Field(gt=0)
    max_iter: int = Field(gt=0)


class CandidateConfig(_Frozen):
    learning_rate: float = Field(gt=0)
    max_iter: int = Field(gt=0)
    max_leaf_nodes: int = Field(ge=2)
    min_samples_leaf: int = Field(ge=1)
    l2_regularization: float = Field(ge=0)
    early_stopping: bool
    calibration: Literal["auto", "none", "sigmoid", "isotonic"]


class TrainConfig(_Frozen):
    logistic: LogisticConfig
    candidate: CandidateConfig


class EvaluateConfig(_Frozen):
    bootstrap_samples: int = Field(ge=0)
    calibration_bins: int = Field(ge=2)
    min_slice_size: int = Field(ge=1)
    behaviour_tolerance: float = Field(ge=0)


class GateConfig(_Frozen):
    mode: Literal["enforce", "dry_run", "off"]
    min_roc_auc: float = Field(ge=0, le=1)
    min_uplift_over_logistic: float
    max_ece: float = Field(ge=0)
    min_four_fifths_ratio: float = Field(ge=0, le=1)
    max_equalized_odds_difference: float = Field(ge=0, le=1)
    champion_cost_margin: float = Field(ge=0)
    fairness_attributes: list[str] = Field(min_length=1)  # checked against the declaration
    require_behavioural_tests: bool


class MonitorConfig(_Frozen):
    """Drift thresholds, the replayed production window and the retraining trigger."""

    source: str = "generator"
    start: Date = dt.date(2025, 1, 1)
    months: int = Field(default=24, gt=0)
    as_of: Date | None = None
    rows_per_month: int = Field(default=2000, gt=0)
    bins: int = Field(default=10, ge=2, le=50)
    pseudo_count: float = Field(default=0.5, gt=0)
    min_rows: int = Field(default=500, ge=1)
    psi_threshold: float = Field(default=0.1, gt=0)
    js_threshold: float = Field(default=0.1, gt=0)
    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    missing_threshold: float = Field(default=0.05, gt=0, le=1)
    score_psi_threshold: float = Field(default=0.1, gt=0)
    dataset_drift_share: float = Field(default=0.1, gt=0, le=1)
    max_roc_auc_drop: float = Field(default=0.03, ge=0, le=1)
    quality_window_months: int = Field(default=3, ge=1)
    retrain_months: int = Field(default=12, ge=2)


class MlflowConfig(_Frozen):
    experiment: str | None  # None: the dataset's name
    registered_model: str | None  # None: "<dataset name>-risk"


class Params(_Frozen):
    """Every knob of the pipeline; see the comments in `params.yaml`."""

    seed: int
    problem: ProblemConfig
    data: DataConfig
    contract: ContractConfig
    split: SplitConfig
    train: TrainConfig
    evaluate: EvaluateConfig
    gate: GateConfig
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    mlflow: MlflowConfig


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: missing (add it to params.yaml)"
    if kind == "extra_forbidden":
        return f"{where}: unknown key (remove it or check its spelling)"
    got = error.get("input")
    return f"{where}: {error['msg'].lower()}, got {got!r}"


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-parsed mapping; raise :class:`ConfigError` naming each bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate `params.yaml` (or another file with the same shape)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (run from the project's root)") from None
    except yaml.YAMLError as exc:
        raise ConfigError.not_yaml(path, exc) from None
    return parse_params(raw, str(path))
