"""Ingest: produce the raw batch from the configured source (the generator or a file/URL)."""

from __future__ import annotations

import pandas as pd

from loanrisk.config import Params
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.readers import read_table


def generator_spec(params: Params) -> GeneratorSpec:
    data = params.data
    return GeneratorSpec(
        seed=params.seed,
        start=data.start,
        months=data.months,
        n_applications=data.n_applications,
        as_of=data.as_of,
        label_horizon_months=params.problem.label_horizon_months,
        scenario=data.scenario,
        scenario_start=data.scenario_start,
    )


def ingest(params: Params) -> pd.DataFrame:
    """The raw batch: generated when ``data.source`` is ``generator``, else read from it."""
    if params.data.uses_generator:
        return generate(generator_spec(params))
    return read_table(params.data.source)
