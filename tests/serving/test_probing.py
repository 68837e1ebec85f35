"""Probing detection (`serving/probing.py`): a client walking one feature across the decision
threshold is counted, ordinary traffic is not, and the detector's memory is bounded and
holds no applicant's value."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from serving.probing import ProbeDetector
from tests.helpers import LOANS, application

PROBE = "loanrisk_probes_total"


def probes(client: TestClient) -> dict[str, float]:
    """The probe counter by feature, read from the service's own /metrics."""
    found = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(PROBE + "{"):
            feature = line.split('feature="', 1)[1].split('"', 1)[0]
            found[feature] = float(line.rsplit(" ", 1)[1])
    return found


def walk(base: dict[str, object], feature: str, values: list[float]) -> list[dict[str, object]]:
    """The same application with one feature stepped through ``values``."""
    return [{**base, feature: value} for value in values]


def test_a_client_walking_one_feature_across_the_threshold_is_one_probe(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    before = probes(client).get("debt_to_income", 0.0)
    base = application(splits["test"], 3)
    steps = walk(base, "debt_to_income", [0.05, 0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0, 5.0])
    decisions = set()
    for step in steps:
        answer = client.post("/predict", json=step, headers={"x-client-id": "prober"})
        decisions.add(answer.json()["predictions"][0]["decision"])
    assert len(decisions) > 1, "the walk must cross the threshold to be a probe"
    assert probes(client).get("debt_to_income", 0.0) == before + 1  # counted once


def test_ordinary_traffic_and_a_walk_that_never_crosses_are_not_probes(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    before = probes(client)
    for i in range(300):  # a day's distinct applications, from one gateway
        client.post("/predict", json=application(splits["test"], i), headers={"x-client-id": "gw"})
    base = application(splits["test"], 3)
    for step in walk(base, "debt_to_income", [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]):
        client.post("/predict", json=step, headers={"x-client-id": "corrector"})
    for _ in range(10):  # the same application sent again and again
        client.post("/predict", json=base, headers={"x-client-id": "retrier"})
    assert probes(client) == before


def test_the_detector_is_bounded_and_keeps_no_applicant_value(
    splits: dict[str, pd.DataFrame],
) -> None:
    detector = ProbeDetector(LOANS.feature_names, steps=5, clients=50, per_client=32, export=False)
    rows = [application(splits["test"], i) for i in range(200)]
    for n, row in enumerate(rows):
        detector.observe(f"client-{n % 120}", [row], ["approve"])
    state = detector._seen  # the detector's whole memory
    assert len(state) == 50 and all(len(walks) <= 32 for walks in state.values())
    kept = repr(state)
    for row in rows[-20:]:
        for name in LOANS.feature_names:
            if isinstance(row[name], str):
                assert f"'{row[name]}'" not in kept
    assert detector.probes == {}
