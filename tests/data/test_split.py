"""The splits: out of time with a timestamp, stratified without; nothing shared, nothing lost."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.split import ensure_usable, out_of_time_split, split_report, stratified_split
from loanrisk.errors import DataSourceError
from tests.helpers import LOANS

TIMESTAMP = "applied_at"


def test_parts_follow_each_other_in_time_and_hold_only_matured_rows() -> None:
    frame = generate(
        GeneratorSpec(
            seed=1,
            start=dt.date(2023, 1, 1),
            months=24,
            n_applications=3000,
            as_of=dt.date(2025, 1, 1),
        )
    )
    cutoff = maturity_cutoff(dt.date(2025, 1, 1), 12)
    split = out_of_time_split(frame, LOANS, dt.date(2023, 9, 1), dt.date(2023, 11, 1), cutoff)
    assert split.train[TIMESTAMP].max() < pd.Timestamp("2023-09-01") <= split.valid[TIMESTAMP].min()
    assert split.valid[TIMESTAMP].max() < pd.Timestamp("2023-11-01") <= split.test[TIMESTAMP].min()
    assert split.test[TIMESTAMP].max() <= cutoff == pd.Timestamp("2024-01-01")
    for part in split.parts().values():
        assert part["defaulted"].notna().all()
    total = sum(len(p) for p in split.parts().values())
    assert total + split.immature == len(frame)
    ids = [set(p["application_id"]) for p in split.parts().values()]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    report = split_report(split, LOANS)
    assert report["strategy"] == "out_of_time"
    assert report["train"]["rows"] == len(split.train)
    assert report["train"]["last_timestamp"] < report["valid"]["first_timestamp"]
    assert report["excluded_immature_or_unlabelled"] == split.immature


def _untimed() -> tuple[pd.DataFrame, Declaration]:
    """Generated rows with the timestamp dropped, and the declaration without it."""
    frame = generate(
        GeneratorSpec(
            seed=2,
            start=dt.date(2023, 1, 1),
            months=12,
            n_applications=4000,
            as_of=dt.date(2024, 6, 1),
        )
    ).drop(columns=[TIMESTAMP])
    return frame, LOANS.model_copy(update={"timestamp": None})


def test_without_a_timestamp_the_split_is_stratified_seeded_and_complete() -> None:
    frame, dataset = _untimed()
    split = stratified_split(frame, dataset, valid_share=0.2, test_share=0.25, seed=5)
    labelled = frame["defaulted"].notna()
    sizes = {name: len(part) for name, part in split.parts().items()}
    assert sum(sizes.values()) + split.immature == len(frame)
    assert split.immature == int((~labelled).sum())
    assert sizes["test"] == pytest.approx(0.25 * labelled.sum(), abs=2)
    assert sizes["valid"] == pytest.approx(0.2 * labelled.sum(), abs=2)
    overall = frame.loc[labelled, "defaulted"].mean()
    for part in split.parts().values():
        assert part["defaulted"].mean() == pytest.approx(overall, abs=0.005)
    ids = [set(p["application_id"]) for p in split.parts().values()]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    again = stratified_split(frame, dataset, valid_share=0.2, test_share=0.25, seed=5)
    pd.testing.assert_frame_equal(split.test, again.test)
    other = stratified_split(frame, dataset, valid_share=0.2, test_share=0.25, seed=6)
    assert not np.array_equal(split.test["application_id"], other.test["application_id"])
    report = split_report(split, dataset)
    assert report["strategy"] == "stratified_random" and "first_timestamp" not in report["test"]


def test_a_part_with_one_outcome_stops_the_split_with_what_to_change() -> None:
    frame, dataset = _untimed()
    only_repaid = frame[frame["defaulted"] == 0]
    split = stratified_split(only_repaid, dataset, valid_share=0.2, test_share=0.2, seed=0)
    with pytest.raises(DataSourceError, match=r"only one outcome.*valid_share"):
        ensure_usable(split, dataset)
