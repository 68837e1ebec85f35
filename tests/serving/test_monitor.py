"""Online monitoring in the service: drift against the champion's profile, live quality.

The service's figures must be the library's figures: the same rows through `GET /drift` and
through `loanrisk.monitoring.drift.compare` give the same PSI, and live quality equals
scikit-learn's on the same (score, outcome) pairs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import roc_auc_score

from loanrisk import stage
from loanrisk.config import Params
from loanrisk.data.contract import contract_for, maturity_cutoff
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.readers import read_table
from loanrisk.data.split import out_of_time_split
from loanrisk.data.validation import validate_batch
from loanrisk.monitoring.drift import compare
from loanrisk.monitoring.monitor import Monitored, monitor
from loanrisk.monitoring.profile import SCORE, read_profile
from loanrisk.monitoring.retrain import prepare
from loanrisk.monitoring.window import as_dataset_rows, from_captures
from loanrisk.scoring import score
from serving.app import create_app
from tests.helpers import LOANS, Store, application, reference, settings


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(store, tmp_path, drift_window=800))) as test_client:
        yield test_client


def send(client: TestClient, frame: pd.DataFrame, **changes: Any) -> list[dict[str, Any]]:
    """Score every row of ``frame`` in batches of 200; the predictions in order."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(frame), 200):
        rows = [
            application(frame, i, **changes) for i in range(start, min(start + 200, len(frame)))
        ]
        response = client.post("/predict", json={"applications": rows})
        assert response.status_code == 200, response.text
        out.extend(response.json()["predictions"])
    return out


def test_drift_endpoint_agrees_with_the_library_on_the_same_rows(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    rows = splits["test"].head(600)
    send(client, rows)
    body = client.get("/drift").json()
    profile = read_profile(store.champion)
    expected = compare(profile, rows, scores=reference(store, rows))
    assert body["rows"] == 600 and body["window"] == {"size": 800, "filled": 600}
    for name, figures in expected.features.items():
        assert body["features"][name]["psi"] == pytest.approx(figures.psi, abs=1e-12)
        assert body["features"][name]["js"] == pytest.approx(figures.js, abs=1e-12)
    assert body["score"]["psi"] == pytest.approx(expected.score.psi, abs=1e-9)  # type: ignore[union-attr]
    assert body["drifted_features"] == [] and body["drift"] is False


def test_drifted_traffic_is_flagged_and_named(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    rows = splits["test"].head(600).copy()
    rows["credit_utilization"] = np.minimum(rows["credit_utilization"] + 0.3, 1.0)
    send(client, rows)
    body = client.get("/drift").json()
    assert "credit_utilization" in body["drifted_features"]
    assert body["features"]["credit_utilization"]["psi"] > 0.5
    assert body["score_drift"] is True
    assert body["features"]["income"]["drifted"] is False


def test_the_window_is_bounded(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    app = create_app(settings(store, tmp_path, drift_window=100))
    with TestClient(app) as client:
        send(client, splits["test"].head(400))
        body = client.get("/drift").json()
    assert body["window"] == {"size": 100, "filled": 100} and body["rows"] == 100
    assert body["enough_rows"] is False and body["drift"] is False  # 100 < min_rows


def test_bin_counters_and_reference_shares_are_exported(
    client: TestClient, store: Store, splits: dict[str, pd.DataFrame]
) -> None:
    send(client, splits["test"].head(250))
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counted: dict[str, float] = {}
    for sample in families["loanrisk_drift_bin"].samples:
        if sample.name.endswith("_total"):
            feature = sample.labels["feature"]
            counted[feature] = counted.get(feature, 0.0) + sample.value
    profile = read_profile(store.champion)
    assert set(counted) == set(profile.names)
    assert all(value == 250 for value in counted.values())
    shares: dict[str, float] = {}
    for sample in families["loanrisk_drift_reference_share"].samples:
        shares[sample.labels["feature"]] = shares.get(sample.labels["feature"], 0) + sample.value
    assert shares[SCORE] == pytest.approx(1.0) and shares["income"] == pytest.approx(1.0)


def test_feedback_joins_predictions_into_live_quality(
    client: TestClient, splits: dict[str, pd.DataFrame]
) -> None:
    rows = splits["test"].head(400)
    predictions = send(client, rows)
    outcomes = rows["defaulted"].astype(int).tolist()
    for prediction, outcome in zip(predictions, outcomes, strict=True):
        answer = client.post("/feedback", json={"id": prediction["id"], "outcome": outcome})
        assert answer.json()["joined"] is True
    stranger = client.post("/feedback", json={"id": "A209901-000001", "outcome": 0})
    assert stranger.json()["joined"] is False
    body = client.get("/quality").json()
    p = np.array([x["probability"] for x in predictions])
    assert body["outcomes"] == 400
    assert body["roc_auc"] == pytest.approx(roc_auc_score(outcomes, p), abs=1e-12)
    assert body["positive_rate"] == pytest.approx(np.mean(outcomes))
    approved = pd.Series([x["decision"] == "approve" for x in predictions])
    expected = approved.groupby(rows["sex"].to_numpy()).mean()
    assert body["approval_rate"]["sex"] == pytest.approx(expected.to_dict())
    assert set(body["approval_rate"]["age_band"]) <= {"18-24", "25-34", "35-49", "50-64", "65+"}
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    (auc,) = families["loanrisk_live_roc_auc"].samples
    assert auc.value == pytest.approx(body["roc_auc"])


def test_a_model_without_a_profile_serves_but_says_why_it_is_not_monitored(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    bundle = tmp_path / "old-bundle"
    import json
    import shutil

    shutil.copytree(store.champion, bundle)
    (bundle / "profile.json").unlink()
    provenance = json.loads((bundle / "provenance.json").read_text())
    del provenance["files_sha256"]["profile.json"]
    (bundle / "provenance.json").write_text(json.dumps(provenance))
    with TestClient(create_app(settings(store, tmp_path, model_uri=str(bundle)))) as client:
        assert client.post("/predict", json=application(splits["test"], 0)).status_code == 200
        answer = client.get("/drift")
    assert answer.status_code == 404
    assert "no reference profile" in answer.json()["detail"]


def test_the_offline_monitor_reads_the_services_captures_joined_with_feedback(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame], params: Params
) -> None:
    """`monitor.source: captures`: the service's own traffic, outcomes as reported, scored
    again by the model judged; where that model answered, its scores are the service's."""
    rows = splits["test"].head(600).copy()
    rows["credit_utilization"] = np.minimum(rows["credit_utilization"] + 0.3, 1.0)
    captures = tmp_path / "captures"
    with TestClient(create_app(settings(store, tmp_path, capture_dir=captures))) as client:
        predictions = send(client, rows)
        labelled = rows.head(500)  # the last 100 outcomes are not reported yet
        for _, row in labelled.iterrows():
            outcome = {"id": str(row["application_id"]), "outcome": int(row["defaulted"])}
            assert client.post("/feedback", json=outcome).status_code == 202
    source = params.model_copy(
        update={"monitor": params.monitor.model_copy(update={"source": str(captures)})}
    )
    evaluated = {
        "policy": json.loads((store.champion / "policy.json").read_text()),
        "test": {"roc_auc": 0.8, "ece": 0.01},
        "roc_auc_ci95": {"low": 0.78},
    }
    profile = read_profile(store.champion)

    def judged(model: Any) -> Monitored:
        return monitor(
            source, LOANS, lambda f: score(model, f, LOANS), profile, evaluated, splits["train"]
        )

    report = judged(store.champion_model).report
    (month,) = report["months"]
    assert report["source"] == str(captures) and report["as_of"] is None
    assert report["served_by"] == {predictions[0]["model_version"]: 600}
    assert month["rows"] == month["scored"] == 600
    assert "credit_utilization" in month["drift"]["drifted_features"]
    assert month["outcomes_known"] and month["quality"]["outcomes"] == 500
    served = [p["probability"] for p in predictions[:500]]
    expected = roc_auc_score(labelled["defaulted"].astype(int), served)
    assert month["quality"]["roc_auc"] == pytest.approx(expected, abs=1e-9)

    # Another model judged on the same traffic: its own figures, not the service's.
    other = judged(store.challenger_model).report["months"][0]
    p_other = score(store.challenger_model, labelled, LOANS)
    mine = roc_auc_score(labelled["defaulted"].astype(int), p_other)
    assert other["quality"]["roc_auc"] == pytest.approx(mine, abs=1e-12)
    assert abs(mine - expected) > 1e-4
    assert other["drift"] == month["drift"]  # the applicants did not change


def test_capture_stamps_with_and_without_a_fraction_of_a_second_are_read_alike(
    tmp_path: Path,
) -> None:
    """A stamp on a whole second may come without its fraction (an older service's
    ``isoformat()``); the monitor must read both forms in one window."""
    folder = tmp_path / "predictions"
    folder.mkdir()
    stamps = ["2025-03-01T10:00:00.250000+00:00", "2025-03-31T23:00:00+00:00"]
    records = [{"application_id": f"A202503-00000{i}", "at": at} for i, at in enumerate(stamps)]
    (folder / "2025-03-01.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    captured = from_captures(tmp_path, LOANS)
    assert captured["month"].tolist() == ["2025-03", "2025-03"]
    rows = as_dataset_rows(captured, LOANS)
    assert rows["applied_at"].tolist() == [
        pd.Timestamp("2025-03-01 10:00:00.25"),
        pd.Timestamp("2025-03-31 23:00:00"),
    ]


def test_captured_traffic_retrains_on_outcomes_older_than_the_horizon(
    store: Store, tmp_path: Path, params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make retrain` from captures: the service's own requests and reported outcomes become
    rows the contract accepts, young outcomes held back, split into the recent months.

    Nineteen and a half months of traffic go through the real service, each day's requests
    stamped by a clock set to that day; every outcome is reported, even those younger than
    the label horizon on the day of the snapshot (a repaid loan reported early is not yet a
    0), and those of the month the maturity date cuts in two (the test is whole months).
    """
    spec = GeneratorSpec(
        seed=11,
        start=dt.date(2024, 1, 1),
        months=20,
        n_applications=20 * 120,
        as_of=dt.date(2030, 1, 1),  # every outcome known: the lender reports them all
    )
    traffic = generate(spec)
    traffic = traffic[traffic["applied_at"] < pd.Timestamp("2025-08-16")]  # mid-month
    captures = tmp_path / "captures"
    with TestClient(create_app(settings(store, tmp_path, capture_dir=captures))) as client:
        for _, day in traffic.groupby(traffic["applied_at"].dt.date):
            arrived = day["applied_at"].iloc[0].tz_localize(dt.UTC).to_pydatetime()
            monkeypatch.setattr("serving.service.now", lambda arrived=arrived: arrived)
            send(client, day)
        for _, row in traffic.iterrows():
            outcome = {"id": str(row["application_id"]), "outcome": int(row["defaulted"])}
            assert client.post("/feedback", json=outcome).status_code == 202

    window = stage.parquet_safe(as_dataset_rows(from_captures(captures, LOANS), LOANS))
    path = tmp_path / "window.parquet"
    stage.write_parquet(path, window)
    monitoring = {"source": str(captures), "as_of": None}
    chosen, rows = prepare(pd.read_parquet(path), monitoring, LOANS, "retrain.parquet", 12, 3)

    # Snapshot the day after the newest request (mid 2025-08): outcomes matured by mid
    # 2024-08, so the whole months 2024-01 to 2024-07.
    newest = traffic["applied_at"].max().normalize()
    assert chosen.as_of == (newest + pd.Timedelta(days=1)).date().isoformat()
    assert chosen.months == tuple(f"2024-{m:02d}" for m in range(1, 8))
    assert (chosen.train_from, chosen.valid_from, chosen.test_from) == (
        "2024-01-01",
        "2024-02-01",
        "2024-05-01",
    )
    young = rows["applied_at"] >= pd.Timestamp("2024-08-01")
    matured_by = maturity_cutoff(dt.date.fromisoformat(chosen.as_of), 12)
    assert (rows.loc[young, "applied_at"] <= matured_by).any()  # the month cut in two
    assert young.any() and rows.loc[young, "defaulted"].isna().all()
    truth = traffic.set_index("application_id")["defaulted"]
    old = rows[~young]
    assert (old["defaulted"].to_numpy() == truth[old["application_id"]].to_numpy()).all()
    assert len(rows) == len(traffic)  # no row lost on the way

    # The training run reads them back as ingest does; its contract and split accept them.
    stage.write_parquet(tmp_path / "retrain.parquet", rows)
    ingested = read_table(str(tmp_path / "retrain.parquet"), "applied_at")
    as_of = dt.date.fromisoformat(chosen.as_of)
    schema = contract_for(LOANS, as_of, params.contract.max_staleness_days)
    checked = validate_batch(ingested, schema)
    assert len(checked.quarantine) == 0, checked.failures
    valid_from, test_from = (
        dt.date.fromisoformat(d) for d in (chosen.valid_from, chosen.test_from)
    )
    split = out_of_time_split(
        checked.valid, LOANS, valid_from, test_from, maturity_cutoff(as_of, 12)
    ).parts()
    assert split["test"]["applied_at"].dt.strftime("%Y-%m").unique().tolist() == [
        "2024-05",
        "2024-06",
        "2024-07",
    ]
    assert len(split["train"]) and len(split["valid"])
