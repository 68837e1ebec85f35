"""The project: `params.yaml` and the dataset declaration it names, loaded and checked
against each other. Every stage and command starts here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loanrisk.config import Params, load_params
from loanrisk.data.declaration import Declaration, load_declaration
from loanrisk.errors import ConfigError

GENERATED_DATASET = "loan-default"
"""The name of the dataset the embedded generator makes (declared in datasets/loans.yaml)."""


@dataclass(frozen=True)
class Project:
    """The params and the dataset declaration they name, checked against each other."""

    params: Params
    dataset: Declaration

    @property
    def experiment(self) -> str:
        return self.params.mlflow.experiment or self.dataset.name

    @property
    def registered_model(self) -> str:
        return self.params.mlflow.registered_model or self.dataset.model_name


def load_project(path: str | Path = "params.yaml") -> Project:
    """Load `params.yaml` and the declaration it names; refuse params that the declaration
    cannot serve (an undeclared fairness attribute, the generator with another dataset)."""
    params = load_params(path)
    dataset = load_declaration(params.data.declaration)
    check_against(params, dataset, str(path))
    return Project(params, dataset)


def check_against(params: Params, dataset: Declaration, source: str = "params.yaml") -> None:
    """Raise :class:`ConfigError` where ``params`` names what ``dataset`` does not declare."""
    groups = dataset.fairness_groups
    for attribute in params.gate.fairness_attributes:
        if attribute not in groups:
            raise ConfigError(
                f"{source}: gate.fairness_attributes: {attribute!r} is not a protected attribute "
                f"of {dataset.where()} (declared: {', '.join(groups) or 'none'})"
            )
    if params.data.uses_generator and dataset.name != GENERATED_DATASET:
        raise ConfigError(
            f"{source}: data.source is generator, which makes the {GENERATED_DATASET!r} data, "
            f"but data.declaration is {dataset.where()} ({dataset.name!r}); point data.source "
            "at your CSV/Parquet file or URL"
        )
