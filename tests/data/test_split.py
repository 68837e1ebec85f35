"""The out-of-time split: ordered in time, matured labels only, nothing shared."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from loanrisk.data.contract import TIMESTAMP, maturity_cutoff
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.split import out_of_time_split, split_report


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
    split = out_of_time_split(frame, dt.date(2023, 9, 1), dt.date(2023, 11, 1), cutoff)
    assert split.train[TIMESTAMP].max() < pd.Timestamp("2023-09-01") <= split.valid[TIMESTAMP].min()
    assert split.valid[TIMESTAMP].max() < pd.Timestamp("2023-11-01") <= split.test[TIMESTAMP].min()
    assert split.test[TIMESTAMP].max() <= cutoff == pd.Timestamp("2024-01-01")
    for part in split.parts().values():
        assert part["defaulted"].notna().all()
    total = sum(len(p) for p in split.parts().values())
    assert total + split.immature == len(frame)
    ids = [set(p["application_id"]) for p in split.parts().values()]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    report = split_report(split)
    assert report["train"]["rows"] == len(split.train)
    assert report["excluded_immature_or_unlabelled"] == split.immature
