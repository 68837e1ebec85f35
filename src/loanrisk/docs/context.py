"""What every document's template is filled from: the project and a ledger over its sources.

The sources are the reports the stage read (by path), the params, the declaration, the
contract's column table and, for the embedded generator's data, the generator's constants:
derived here from the project, so that no caller can hand in a stale copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loanrisk import paths
from loanrisk.data.contract import contract_for, contract_json_schema
from loanrisk.docs.ledger import Ledger
from loanrisk.docs.template import Page, render
from loanrisk.models.train import MODEL_NAMES
from loanrisk.project import Project

CANDIDATE = "candidate"
"""The model the card documents; the others in MODEL_NAMES are its baselines."""
BASELINES = tuple(name for name in MODEL_NAMES if name != CANDIDATE)
MODELS = (CANDIDATE, *BASELINES)
"""The candidate first: it is what the card is about; the baselines are its yardsticks."""
CONTRACT = "src/loanrisk/data/contract.py"
"""The contract's column table, built from the declaration by this module."""
GENERATOR = "src/loanrisk/data/generator.py"
SCENARIOS = "src/loanrisk/data/scenarios.py"
CONFUSION = paths.plot("confusion", CANDIDATE)
REPORTS: tuple[str, ...] = (
    paths.VALIDATION,
    paths.SPLIT_REPORT,
    paths.TRAIN_METRICS,
    paths.METRICS,
    paths.VERDICT,
    paths.DRIFT,
    *(paths.plot(kind, name) for kind in ("roc", "calibration") for name in MODEL_NAMES),
    CONFUSION,
)
"""The JSON reports the stage reads into the sources, by path."""


def ledger(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Ledger:
    """A ledger over ``reports`` (by path, as the stage read them) and what the project
    itself says: params, declaration, contract and the generator's constants."""
    params = project.params
    contract = contract_for(project.dataset, params.data.as_of, params.contract.max_staleness_days)
    schema = contract_json_schema(contract)
    columns = {
        name: {**schema["properties"][name], "dtype": str(column.dtype)}
        for name, column in contract.columns.items()
    }
    sources = {
        **reports,
        paths.PARAMS: params.model_dump(mode="json"),
        params.data.declaration: project.dataset.model_dump(mode="json"),
        CONTRACT: {"columns": columns, "row_rules": schema["x-row-rules"]},
    }
    if params.data.uses_generator:
        sources.update(generator_sources())
    return Ledger(sources, mark=mark)


def generator_sources() -> dict[str, Any]:
    """The generator's documented causal structure and its scenarios, as data: the very
    constants it draws the label with, so the datasheet cannot describe another world."""
    from loanrisk.config import SCENARIOS as NAMES
    from loanrisk.data import generator, scenarios

    return {
        GENERATOR: {
            "base_log_odds": generator.BASE_LOG_ODDS,
            "numeric_effects": {
                name: {"coefficient": c, "unit": unit}
                for name, (c, unit) in generator.NUMERIC_EFFECTS.items()
            },
            "category_effects": generator.CATEGORY_EFFECTS,
            "interactions": {
                name: {"coefficient": c, "description": text}
                for name, (c, text) in generator.INTERACTIONS.items()
            },
            "no_direct_effect": list(generator.NO_DIRECT_EFFECT),
        },
        SCENARIOS: {
            "names": list(NAMES),
            "shifts": {name: asdict(scenarios.shift_for(name)) for name in NAMES},
            "new_purpose": scenarios.NEW_PURPOSE,
            "new_category_share": scenarios.NEW_CATEGORY_SHARE,
            "null_feed_share": scenarios.NULL_FEED_SHARE,
            "null_feed_columns": list(scenarios.NULL_FEED_COLUMNS),
        },
    }


def common(project: Project, book: Ledger) -> dict[str, Any]:
    """What every template may use: the project's names, the files it may cite, and a traced
    value at the root of each source it may quote."""
    params = project.params
    name, dataset = project.registered_model, project.dataset.name
    files = {
        "params": paths.PARAMS,
        "validation": paths.VALIDATION,
        "validated": paths.VALIDATED,
        "split": paths.SPLIT_REPORT,
        "metrics": paths.METRICS,
        "verdict": paths.VERDICT,
        "monitoring": paths.DRIFT,
        "monitoring_report": paths.MONITORING_REPORT,
        "gate": paths.GATE,
        "confusion": CONFUSION,
        "calibration": paths.plot("calibration", CANDIDATE),
        "contract": CONTRACT,
        "generator": GENERATOR,
        "scenarios": SCENARIOS,
        "fairness_concern": paths.FAIRNESS_CONCERN,
        "quarantine": paths.folder(paths.QUARANTINE),
        "raw": paths.folder(paths.RAW),
        "card": str(paths.card(name, "md")),
        "datasheet": str(paths.datasheet(dataset, "md")),
    }
    traced = {
        "params": book.at(paths.PARAMS),
        "declaration": book.at(params.data.declaration),
        "contract": book.at(CONTRACT),
    }
    if params.data.uses_generator:
        traced |= {"generator": book.at(GENERATOR), "scenarios": book.at(SCENARIOS)}
    return {
        "project": project,
        "dataset": project.dataset,
        "registered_model": name,
        "experiment": project.experiment,
        "declaration_source": params.data.declaration,
        "generated": params.data.uses_generator,
        "horizon": traced["declaration"].label.horizon_months
        if project.dataset.label.horizon_months is not None
        else None,
        "files": files,
        **traced,
    }


def page(template: str, book: Ledger, context: Mapping[str, Any]) -> Page:
    """``template`` in ``docs/templates/`` (relative to the working directory: the project's
    root, as for every stage) rendered with ``context``; ``sources`` lists the files quoted."""
    return render(Path(paths.TEMPLATES), template, book, context, sources="sources")
