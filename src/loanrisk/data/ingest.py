"""Ingest: produce the raw batch from the configured source (the generator or a file/URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.data.readers import read_table
from loanrisk.errors import DataSourceError

if TYPE_CHECKING:
    from loanrisk.data.generator import GeneratorSpec


def generator_spec(params: Params, dataset: Declaration) -> GeneratorSpec:
    """What the embedded generator makes under these params."""
    from loanrisk.data.generator import GeneratorSpec

    data = params.data
    return GeneratorSpec(
        seed=params.seed,
        start=data.start,
        months=data.months,
        n_applications=data.n_applications,
        as_of=data.as_of,
        label_horizon_months=dataset.label.horizon_months or 0,
        scenario=data.scenario,
        scenario_start=data.scenario_start,
    )


def ingest(params: Params, dataset: Declaration) -> pd.DataFrame:
    """The raw batch: generated when ``data.source`` is ``generator``, else read from it.

    The generator is imported only here, only when it is the source: a project that brought
    its own data never loads it.
    """
    source = params.data.source
    if params.data.uses_generator:
        from loanrisk.data.generator import generate

        return generate(generator_spec(params, dataset))
    frame = read_table(source, dataset.timestamp.column if dataset.timestamp else None)
    if frame.empty:
        raise DataSourceError(
            f"{source}: no rows (its header and nothing else); check the export that wrote it"
        )
    ensure_declared_columns(frame, dataset, source)
    return frame


def ensure_declared_columns(frame: pd.DataFrame, dataset: Declaration, source: str) -> None:
    """Raise :class:`DataSourceError` when the data lacks a declared column.

    Checked at ingest, the first stage that sees both: a missing column would otherwise only
    surface as a broken batch at validate. Extra columns are left to the contract, which
    quarantines the batch and names them.
    """
    missing = [c for c in dataset.all_columns if c not in frame.columns]
    if missing:
        raise DataSourceError(
            f"{source}: lacks {', '.join(repr(c) for c in missing)} declared in "
            f"{dataset.where()}; rename the columns (an adapter script) or fix the declaration"
        )
