"""`GET /model` and `GET /model/card` (`serving/routes/model.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.errors import BundleError
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_version, load_bundle, read_provenance
from serving.app import create_app
from tests.helpers import LOANS, NAME, Store, settings


def test_the_model_endpoint_shows_the_bundles_provenance(client: TestClient) -> None:
    body = client.get("/model").json()
    assert body["name"] == NAME and body["version"] == "1"
    assert body["git_commit"] == "test"
    assert set(body["policy"]) == {"threshold", "refer_from", "reject_from"}
    assert body["inference_path"]
    card = client.get("/model/card")
    assert card.status_code == 404 and "model card" in card.json()["error"]


def test_the_card_is_served_only_if_it_describes_the_champion(store: Store, tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / f"{NAME}.md").write_text("---\nfingerprint: candidate\n---\n# Card\n")
    (cards / f"{NAME}.html").write_text("<h1>Card</h1>")
    with TestClient(create_app(settings(store, tmp_path, cards_dir=cards))) as client:
        assert client.get("/model").json()["fingerprint"] == "candidate"
        html = client.get("/model/card")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        markdown = client.get("/model/card", params={"format": "md"})
        assert markdown.text.startswith("---\nfingerprint: candidate\n")
        (cards / f"{NAME}.md").write_text("---\nfingerprint: logistic\n---\n# Card\n")
        other = client.get("/model/card")
        assert other.status_code == 404 and "not the champion" in other.json()["detail"]


def test_the_card_travels_in_the_bundle_and_from_the_registry(store: Store, tmp_path: Path) -> None:
    """The document stage logs the card to the champion's run; every bundle exported from
    then on carries it (covered by the bundle's SHA-256 list), and so does the registry."""
    version = registry.client().get_model_version(NAME, "1")
    cards = tmp_path / "model_cards"
    cards.mkdir()
    (cards / f"{NAME}.md").write_text("# Card of v1\n")
    (cards / f"{NAME}.html").write_text("<h1>Card of v1</h1>")
    for path in cards.iterdir():
        registry.client().log_artifact(version.run_id, str(path), artifact_path="model_cards")
    bundle = tmp_path / "bundle"
    export_version(bundle, NAME, version, contract_json_schema(build_contract(LOANS)))
    assert f"model_cards/{NAME}.md" in read_provenance(bundle)["files_sha256"]
    nowhere = tmp_path / "no-cards-here"
    for uri in (str(bundle), f"models:/{NAME}@champion"):
        with TestClient(
            create_app(settings(store, tmp_path, model_uri=uri, cards_dir=nowhere))
        ) as c:
            assert c.get("/model/card", params={"format": "md"}).text == "# Card of v1\n"
            assert c.get("/model/card").text == "<h1>Card of v1</h1>"
    (bundle / "model_cards" / f"{NAME}.md").write_text("# Edited by hand\n")
    with pytest.raises(BundleError, match="model_cards"):
        load_bundle(bundle)
