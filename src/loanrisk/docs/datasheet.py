"""The datasheet of the project's dataset, from `docs/templates/datasheet.md.j2`.

The figures come from the validated data (:func:`loanrisk.docs.facts.data_facts`), the
validation and split reports, params, the declaration and the data contract; for the
embedded generator's data also its causal structure and scenarios. This module builds the
template's context: the sources as traced values, each column's role, and the plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loanrisk import paths
from loanrisk.data.declaration import Declaration
from loanrisk.docs import plots
from loanrisk.docs.analysis import successes_from_rate, wilson_interval
from loanrisk.docs.context import common, ledger, page
from loanrisk.docs.template import Page
from loanrisk.project import Project


def datasheet(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Page:
    """The datasheet of ``project``'s dataset. ``reports`` maps file paths to their parsed
    content and must hold ``paths.VALIDATED`` as :func:`~loanrisk.docs.facts.data_facts`.
    ``mark`` as for the model card."""
    book = ledger(project, reports, mark)
    context = common(project, book)
    dataset = project.dataset
    data = book.at(paths.VALIDATED)
    missing = data.missing.raw()
    context |= {
        "data": data,
        "validation": book.at(paths.VALIDATION),
        "split": book.at(paths.SPLIT_REPORT),
        "roles": {column: role(dataset, column) for column in dataset.all_columns},
        "missing": {
            "with_nulls": [c for c in missing if missing[c]["nulls"]],
            "complete": [c for c in missing if not missing[c]["nulls"]],
        },
        "banded": [(g, name) for g, name in dataset.group_names.items() if g != name],
        "figures": _figures(data.raw(), dataset),
    }
    return page(paths.DATASHEET_TEMPLATE, book, context)


def role(dataset: Declaration, column: str) -> str:
    if column == dataset.id.column:
        return "id"
    if dataset.timestamp is not None and column == dataset.timestamp.column:
        return "timestamp"
    if column == dataset.label.column:
        return "label"
    return "protected" if column in dataset.protected else "feature"


def _figures(facts: Mapping[str, Any], dataset: Declaration) -> dict[str, bytes | None]:
    """The positive rate per protected group with its Wilson interval (when any group has a
    label), and rows and positive rate per month (when the data has a timestamp)."""
    panels = {
        grouping: [
            (g, float(row["positive_rate"]), *_interval(row))
            for g, row in groups.items()
            if row["labelled"]
        ]
        for grouping, groups in facts["groups"].items()
    }
    timed = facts["time_range"] is not None
    return {
        "positive_rates": plots.group_rates_figure(panels, "positive rate of labelled rows")
        if any(panels.values())
        else None,
        "periods": plots.periods_figure(facts["months"], dataset.label.column) if timed else None,
    }


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    n = int(row["labelled"])
    return wilson_interval(successes_from_rate(float(row["positive_rate"]), n), n)
