"""The service's configuration: read once from the environment into one typed object.

Every knob has a default that works after `make repro` on one laptop; a bad value stops the
service at start-up with one line naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loanrisk import paths
from loanrisk.config import MonitorConfig, load_params
from loanrisk.data.declaration import Declaration, load_declaration
from loanrisk.errors import ConfigError
from loanrisk.monitoring.drift import DEFAULTS
from loanrisk.project import load_project

PREFIX = "LOANRISK_"
"""Environment variables are named ``LOANRISK_<FIELD>`` (``MODEL_URI`` also without it)."""


class Settings(BaseModel):
    """What the service reads from the environment (see README, "Serving")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_uri: str = Field(paths.CHAMPION, min_length=1)
    """A serving bundle directory, or ``models:/<name>@<alias>`` resolved through MLflow."""
    challenger_uri: str | None = None
    """A second model for canary or shadow traffic (same forms as ``model_uri``)."""
    traffic: Literal["champion", "canary", "shadow"] = "champion"
    canary_fraction: float = Field(0.1, ge=0, le=1)
    dataset: str | None = None
    """The dataset declaration; by default the one params.yaml names."""
    params: str = "params.yaml"
    max_batch: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1_024)
    timeout_s: float = Field(2.0, gt=0)
    max_concurrency: int = Field(64, ge=1)
    """Requests in flight at once beyond which the service answers 429; the health probes
    and /metrics are never counted, so a flood cannot make the orchestrator restart it."""
    body_timeout_s: float = Field(10.0, gt=0)
    """How long a client may take between two parts of its body before a 408: a client
    that stalls mid-body must not hold a place under the concurrency cap."""
    admin_token: str | None = Field(None, min_length=16)
    """Bearer token for /admin/*; unset, the admin endpoints answer 403. At least 16
    characters (`openssl rand -hex 16` gives 32): a short token is refused at start-up."""
    feedback_token: str | None = Field(None, min_length=16)
    """Bearer token for POST /feedback, whose outcomes become training data; unset, anyone
    who reaches the service may post them (with a JSON content type)."""
    cards_dir: Path = Path(paths.MODEL_CARDS)
    """Where the documentation stage renders model cards (`<model name>.md` and `.html`)."""
    capture_dir: Path = Path(paths.CAPTURES)
    capture_sample: float = Field(1.0, ge=0, le=1)
    capture_queue: int = Field(10_000, ge=1)
    capture_retention_days: int | None = Field(None, ge=1)
    """Captured applications are personal data: day files older than this many days are
    deleted at start and at each new day. Unset, they are kept until someone deletes them."""
    metrics: bool = True
    monitor: bool = True
    """Drift and live quality against the champion's reference profile (GET /drift)."""
    drift_window: int = Field(5_000, ge=1, le=1_000_000)
    """How many recent applications GET /drift judges."""
    log_requests: bool = True
    probe_steps: int = Field(5, ge=0)
    """A client that sends this many values of one feature, everything else the same, and
    sees the decision change is probing the model's boundary (serving/probing.py); 0: off."""


def _fields() -> dict[str, str]:
    return {name: f"{PREFIX}{name.upper()}" for name in Settings.model_fields}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: the process environment); one-line errors."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for name, variable in _fields().items():
        value = env.get(variable)
        if value is None and name == "model_uri":
            value = env.get("MODEL_URI")
        if value is not None and value != "":
            raw[name] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_fields()[str(e['loc'][0])]}: {e['msg'].lower()}" for e in exc.errors()
        )
        raise ConfigError(f"service settings: {problems}") from None


def dataset_for(settings: Settings) -> Declaration:
    if settings.dataset:
        return load_declaration(settings.dataset)
    return load_project(settings.params).dataset


def thresholds_for(settings: Settings) -> MonitorConfig:
    """Drift thresholds from params.yaml's ``monitor`` section; the defaults without one (a
    container that carries only the bundle and a declaration)."""
    try:
        return load_params(settings.params).monitor
    except ConfigError:
        return DEFAULTS
