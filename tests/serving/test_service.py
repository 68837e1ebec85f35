"""One data plane under every protocol: `/predict`, the v2 protocol and `/invocations` all
answer through `Service.predict`, so each gets the policy, capture, metrics and timeout."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.app import create_app
from serving.capture import read_jsonl
from serving.settings import Settings
from tests.helpers import (
    DECLARATION,
    LOANS,
    NAME,
    Slow,
    Store,
    application,
    rows,
    settings,
    v2_body,
)


def config(store: Store, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": str(store.champion),
        "dataset": DECLARATION,
        "capture_dir": tmp_path / "captures",
    }
    return Settings(**{**values, **changes})


def champion_predictions(client: TestClient) -> float:
    """Decisions the champion made so far in this process (every decision label)."""
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    return sum(
        s.value
        for s in families["loanrisk_predictions"].samples
        if s.name.endswith("_total") and s.labels["role"] == "champion"
    )


def test_the_same_application_gets_the_same_answer_through_every_protocol(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    (row,) = rows(splits["test"].iloc[[3]])
    with TestClient(create_app(config(store, tmp_path))) as client:
        counted = champion_predictions(client)
        ours = client.post("/predict", json=row).json()["predictions"][0]
        v2 = client.post(f"/v2/models/{NAME}/infer", json=v2_body([row])).json()["outputs"]
        mlflow = client.post("/invocations", json={"dataframe_records": [row]}).json()
        assert champion_predictions(client) == counted + 3
        client.app.state.service.capture.flush()  # type: ignore[attr-defined]

    outputs = {o["name"]: o["data"] for o in v2}
    assert outputs["probability"] == [ours["probability"]]
    assert outputs["decision"] == [ours["decision"]]
    assert mlflow["predictions"] == [[1.0 - ours["probability"], ours["probability"]]]
    expected = store.champion_model.predict_proba(  # type: ignore[attr-defined]
        splits["test"].iloc[[3]][list(LOANS.feature_names)]
    )[0, 1]
    assert abs(ours["probability"] - expected) <= 1e-9

    (path,) = (tmp_path / "captures" / "predictions").glob("*.jsonl")
    captured = read_jsonl(path)
    assert len(captured) == 3 and len({r["request_id"] for r in captured}) == 3
    assert {r["application_id"] for r in captured} == {row["application_id"]}
    assert {r["score"] for r in captured} == {ours["probability"]}
    assert {r["decision"] for r in captured} == {ours["decision"]}


def test_every_protocol_scores_off_the_event_loop_under_the_timeout(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    batch = rows(splits["test"].head(2))
    with TestClient(create_app(config(store, tmp_path, timeout_s=0.1))) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        fast = service.champion
        service.champion = dataclasses.replace(fast, estimator=Slow(fast.estimator), fast=None)
        ours = client.post("/predict", json={"applications": batch})
        v2 = client.post(f"/v2/models/{NAME}/infer", json=v2_body(batch))
        mlflow = client.post("/invocations", json={"dataframe_records": batch})
        service.champion = fast
        again = client.post(f"/v2/models/{NAME}/infer", json=v2_body(batch))
    assert ours.status_code == v2.status_code == mlflow.status_code == 504
    assert "timed out" in v2.json()["error"] and "timed out" in mlflow.json()["error"]
    assert again.status_code == 200


class WatchedDoor:
    """The service's door, noting the thread each body is validated on."""

    def __init__(self, door: Any) -> None:
        self.door, self.threads = door, []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.door, name)
        if name not in ("applications", "rows"):
            return found

        def watched(*args: Any, **kwargs: Any) -> Any:
            self.threads.append(threading.current_thread().name)
            return found(*args, **kwargs)

        return watched


def test_a_large_batch_is_validated_off_the_event_loop_under_every_protocol(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """A 1,000-row batch parsed and checked on the event loop would hold up every probe and
    application behind it; one application is checked inline (a pool hop costs more)."""
    batch, (one,) = rows(splits["test"].head(400)), rows(splits["test"].head(1))
    with TestClient(create_app(config(store, tmp_path))) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        service.door = door = WatchedDoor(service.door)
        for body in ({"applications": batch}, one):
            assert client.post("/predict", json=body).status_code == 200
        assert client.post(f"/v2/models/{NAME}/infer", json=v2_body(batch)).status_code == 200
        mlflow = client.post("/invocations", json={"dataframe_records": batch})
        assert mlflow.status_code == 200
    assert len(door.threads) == 4
    pool = [name.startswith("predict") for name in door.threads]
    assert pool == [True, False, True, True], door.threads


def test_canary_routing_is_the_same_under_every_protocol(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    """Every application to the challenger (fraction 1): each protocol answers with its
    probabilities, not the champion's."""
    batch = rows(splits["test"].head(5))
    canary = config(
        store, tmp_path, challenger_uri=str(store.challenger), traffic="canary", canary_fraction=1
    )
    with TestClient(create_app(canary)) as client:
        ours = client.post("/predict", json={"applications": batch}).json()["predictions"]
        v2 = client.post(f"/v2/models/{NAME}/infer", json=v2_body(batch)).json()["outputs"]
        mlflow = client.post("/invocations", json={"dataframe_records": batch}).json()
    expected = store.challenger_model.predict_proba(  # type: ignore[attr-defined]
        splits["test"].head(5)[list(LOANS.feature_names)]
    )[:, 1]
    p = next(o["data"] for o in v2 if o["name"] == "probability")
    assert {o["model_version"] for o in ours} == {"2"}
    assert np.allclose([o["probability"] for o in ours], expected, atol=1e-9)
    assert np.allclose(p, expected, atol=1e-9)
    assert np.allclose([q for _, q in mlflow["predictions"]], expected, atol=1e-9)


def test_canary_traffic_is_a_sticky_fraction(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    canary = settings(
        store, tmp_path, challenger_uri=str(store.challenger), traffic="canary", canary_fraction=0.3
    )
    with TestClient(create_app(canary)) as client:
        rows = [
            application(splits["test"], i % 100, application_id=f"X{i:05d}") for i in range(2000)
        ]
        body = client.post("/predict", json={"applications": rows[:1000]}).json()
        body2 = client.post("/predict", json={"applications": rows[1000:]}).json()
        versions = [p["model_version"] for p in body["predictions"] + body2["predictions"]]
        share = versions.count("2") / len(versions)
        assert 0.26 <= share <= 0.34
        again = client.post("/predict", json={"applications": rows[:1000]}).json()
        assert [p["model_version"] for p in again["predictions"]] == versions[:1000]


def test_shadow_traffic_never_changes_a_response(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    rows = {"applications": [application(splits["test"], i) for i in range(20)]}
    with TestClient(create_app(settings(store, tmp_path))) as plain:
        alone = plain.post("/predict", json=rows).json()["predictions"]
    shadow = settings(store, tmp_path, challenger_uri=str(store.challenger), traffic="shadow")
    with TestClient(create_app(shadow)) as client:
        shadowed = client.post("/predict", json=rows).json()["predictions"]
        client.app.state.service.executor.shutdown(wait=True)  # type: ignore[attr-defined]
        text = client.get("/metrics").text
    assert shadowed == alone
    assert 'role="shadow"' in text
