"""A model ready to serve (`serving/model.py`): from a bundle or from the registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.helpers import NAME, Store, application, reference, settings


def test_the_registry_uri_serves_the_same_model(
    store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]
) -> None:
    with TestClient(
        create_app(settings(store, tmp_path, model_uri=f"models:/{NAME}@champion"))
    ) as c:
        body = c.post("/predict", json=application(splits["test"], 2)).json()
        assert (
            abs(
                body["predictions"][0]["probability"]
                - reference(store, splits["test"].iloc[[2]])[0]
            )
            <= 1e-9
        )
