"""Shared fixtures: the project's params, the generator's declaration and generated data.

Tests that use generated data pass the generator's own declaration (``loans``) explicitly,
not the one params.yaml names: after a user points params.yaml at their own dataset, these
tests still describe the generator and still pass.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from loanrisk.config import Params, load_params
from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.split import out_of_time_split
from tests.helpers import AS_OF, LOANS, ROOT, small_spec


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def loans() -> Declaration:
    return LOANS


@pytest.fixture(scope="session")
def splits() -> dict[str, pd.DataFrame]:
    """Out-of-time splits of a year of fully matured applications, for fitting models."""
    spec = GeneratorSpec(
        seed=3,
        start=dt.date(2023, 1, 1),
        months=12,
        n_applications=16000,
        as_of=dt.date(2025, 1, 1),
    )
    return out_of_time_split(
        generate(spec), LOANS, dt.date(2023, 8, 1), dt.date(2023, 10, 1), maturity_cutoff(AS_OF, 12)
    ).parts()


@pytest.fixture(scope="session")
def batch() -> pd.DataFrame:
    return generate(small_spec())


@pytest.fixture()
def fresh_batch(batch: pd.DataFrame) -> pd.DataFrame:
    """A copy a test may break on purpose."""
    return batch.copy()
