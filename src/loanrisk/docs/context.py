"""What both documents are built from: the project and a ledger over every source they quote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from loanrisk.data.contract import contract_for, contract_json_schema
from loanrisk.data.declaration import Declaration
from loanrisk.docs import sources as src
from loanrisk.docs.document import Bullets
from loanrisk.docs.ledger import Cursor, Ledger, plain
from loanrisk.docs.text import code
from loanrisk.project import Project


@dataclass(frozen=True)
class Context:
    """The project, the ledger, and a cursor at the root of each source."""

    project: Project
    ledger: Ledger

    @property
    def dataset(self) -> Declaration:
        return self.project.dataset

    @property
    def params(self) -> Cursor:
        return self.ledger.at(src.PARAMS)

    @property
    def declaration(self) -> Cursor:
        return self.ledger.at(self.declaration_source)

    @property
    def declaration_source(self) -> str:
        return self.project.params.data.declaration

    def report(self, name: str, *path: str | int) -> Cursor:
        return self.ledger.at(name, *path)


def context(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Context:
    """A context whose ledger holds ``reports`` (by path, as the stage read them), plus the
    params, the declaration and the contract's column table, which are derived here from the
    project so that no caller can hand in a stale copy."""
    params = project.params
    contract = contract_for(project.dataset, params.data.as_of, params.contract.max_staleness_days)
    schema = contract_json_schema(contract)
    columns = {
        name: {**schema["properties"][name], "dtype": str(column.dtype)}
        for name, column in contract.columns.items()
    }
    sources = {
        **reports,
        src.PARAMS: params.model_dump(mode="json"),
        params.data.declaration: project.dataset.model_dump(mode="json"),
        src.CONTRACT: {"columns": columns, "row_rules": schema["x-row-rules"]},
    }
    if params.data.uses_generator:
        sources.update(generator_sources())
    return Context(project, Ledger(sources, mark=mark))


def generator_sources() -> dict[str, Any]:
    """The generator's documented causal structure and its scenarios, as data: the very
    constants it draws the label with, so the datasheet cannot describe another world."""
    from loanrisk.config import SCENARIOS
    from loanrisk.data import generator, scenarios

    return {
        src.GENERATOR: {
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
        src.SCENARIOS: {
            "names": list(SCENARIOS),
            "shifts": {name: asdict(scenarios.shift_for(name)) for name in SCENARIOS},
            "new_purpose": scenarios.NEW_PURPOSE,
            "new_category_share": scenarios.NEW_CATEGORY_SHARE,
            "null_feed_share": scenarios.NULL_FEED_SHARE,
            "null_feed_columns": list(scenarios.NULL_FEED_COLUMNS),
        },
    }


def scenario_text(ctx: Context) -> str:
    """Which of the generator's scenarios shaped the data, and from when."""
    p = ctx.params
    name = p.show(plain, "data", "scenario")
    if ctx.project.params.data.scenario == "none":
        return (
            f"No scenario ({code('data.scenario')}: {code(name)}): the reference world throughout."
        )
    return (
        f"Scenario {code(name)} ({code('data.scenario')}) from "
        f"{p.show(plain, 'data', 'scenario_start')} ({code('data.scenario_start')}) on."
    )


def source_list(ctx: Context) -> Bullets:
    """The files every figure so far was quoted or computed from: call it last."""
    return Bullets(tuple(code(s) for s in ctx.ledger.used_sources()))
