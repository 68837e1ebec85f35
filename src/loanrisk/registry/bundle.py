"""The serving bundle: everything the service needs, and nothing that needs a tracking server.

``models/champion/`` holds the champion's MLflow model directory (skops format), the
contract as JSON Schema, the decision policy, the reference profile, the model card (once
the document stage has rendered it) and one provenance record. The provenance
lists the SHA-256 of every file, and :func:`load_bundle` refuses a bundle whose files differ
(corruption, a partial copy, a hand edit). The model is read only as skops, with the
project's own trusted-type list (:func:`loanrisk.tracking.load_model`), never as pickle:
no type outside that list is ever instantiated. The SHA-256 list lives in the bundle itself,
so it detects accidents, not an attacker who can rewrite the whole directory; that needs a
signature kept elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion

from loanrisk import paths
from loanrisk.errors import BundleError
from loanrisk.registry.registry import tag_json
from loanrisk.stage import atomic_directory, file_digest
from loanrisk.tracking import load_model, store_errors

MODEL_DIR = "model"
CONTRACT = "contract.schema.json"
POLICY = "policy.json"
PROVENANCE = "provenance.json"
PROFILE = "profile.json"
"""The model's reference profile (``loanrisk.monitoring.profile``), an artifact of its run."""
CARDS = paths.MODEL_CARDS
"""The model card (Markdown and HTML) the document stage logged to the model's run."""


@dataclass(frozen=True)
class Bundle:
    model: Any
    policy: dict[str, float]
    provenance: dict[str, Any]


def _manifest(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != PROVENANCE)
    return {str(p.relative_to(root)): file_digest(p, "sha256") for p in files}


@store_errors()
def export_bundle(
    destination: str | Path,
    model_uri: str | None,
    policy: dict[str, float] | None,
    provenance: dict[str, Any],
    contract: dict[str, Any],
    run_id: str | None = None,
) -> None:
    """Write the bundle for ``model_uri`` to ``destination``, replacing it atomically.

    With ``run_id``, the run's reference profile is copied in as ``profile.json`` (a model
    registered before profiles existed has none; the service then serves it without drift
    monitoring and says so).

    ``contract`` is the data contract as JSON Schema (``contract.contract_json_schema``):
    what a request to the served model must look like.

    With ``model_uri`` None (no champion yet) the bundle holds only a provenance record that
    says so, and :func:`load_bundle` refuses it.
    """
    with atomic_directory(destination) as staging:
        if model_uri is not None:
            mlflow.artifacts.download_artifacts(
                artifact_uri=model_uri, dst_path=str(staging / MODEL_DIR)
            )
            (staging / CONTRACT).write_text(json.dumps(contract, indent=2, default=str) + "\n")
            (staging / POLICY).write_text(json.dumps(policy, indent=2) + "\n")
            if run_id is not None:
                download_profile(run_id, staging)
                if download_card(run_id, staging) is not None:
                    stamp_version(staging / CARDS, provenance.get("version"))
        record = {**provenance, "files_sha256": _manifest(staging)}
        (staging / PROVENANCE).write_text(json.dumps(record, indent=2, default=str) + "\n")


def download_profile(run_id: str, directory: str | Path) -> Path | None:
    """Copy the run's reference profile into ``directory``; None when the run has none (a
    model logged before profiles existed)."""
    return _copy_artifact(run_id, PROFILE, directory)


def download_card(run_id: str, directory: str | Path) -> Path | None:
    """Copy the run's model card (``model_cards/*.md`` and ``.html``) into ``directory``;
    None when the document stage has not logged one (yet: it runs after promote, and adds
    the card to the bundle itself)."""
    return _copy_artifact(run_id, CARDS, directory)


def _copy_artifact(run_id: str, artifact: str, directory: str | Path) -> Path | None:
    listed = {a.path for a in mlflow.artifacts.list_artifacts(run_id=run_id)}
    if artifact not in listed:
        return None
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact, dst_path=str(directory)
        )
    )


def stamp_version(folder: Path, version: Any) -> None:
    """Add ``registered_version`` to the front matter of each card in ``folder``: the card
    is rendered before the release registers the model, so only the bundle's copy can say
    which version it describes (a machine reads it there, beside the ``fingerprint``)."""
    if version is None:
        return
    for card in sorted(folder.glob("*.md")):
        text = card.read_text()
        if not text.startswith("---\n") or "\n---\n" not in text[4:]:
            continue
        end = text.index("\n---\n", 4) + 1
        card.write_text(f"{text[:end]}registered_version: '{version}'\n{text[end:]}")


def card_files(directory: str | Path, name: str) -> tuple[Path, Path] | None:
    """The card's Markdown and HTML for model ``name`` in ``directory``, if both are there."""
    folder = Path(directory) / CARDS
    markdown, html = folder / f"{name}.md", folder / f"{name}.html"
    return (markdown, html) if markdown.is_file() and html.is_file() else None


def export_version(
    destination: str | Path, name: str, version: ModelVersion | None, contract: dict[str, Any]
) -> None:
    """Export registered ``version`` of ``name`` (None: no champion yet) as the bundle at
    ``destination``, with the contract the service validates requests against
    (:func:`loanrisk.registry.release.export_champion` calls it for the champion)."""
    if version is None:
        export_bundle(
            destination, None, None, {"version": None, "reason": "no champion yet"}, contract
        )
        return
    export_bundle(
        destination,
        f"models:/{name}/{version.version}",
        tag_json(version, "policy"),
        provenance_for(name, version),
        contract,
        run_id=version.run_id,
    )


def provenance_for(name: str, version: ModelVersion) -> dict[str, Any]:
    """The provenance record of a registered version, from the tags promote gave it."""
    return {
        "registered_model": name,
        "version": version.version,
        "run_id": version.run_id,
        "fingerprint": version.tags.get("fingerprint"),
        "git_commit": version.tags.get("git_commit"),
        "data_md5": version.tags.get("data_md5"),
        "data_md5_of": f"{paths.TRAIN} (as in dvc.lock)",
        "metrics": tag_json(version, "metrics"),
        "gate_passed": version.tags.get("gate_passed"),
        "gate_mode": version.tags.get("gate_mode"),
        "promoted_at": version.tags.get("promoted_at"),
    }


def read_provenance(path: str | Path) -> dict[str, Any]:
    file = Path(path) / PROVENANCE
    if not file.is_file():
        raise BundleError(f"{path}: no {PROVENANCE}; run `make repro` to export a champion")
    data: dict[str, Any] = json.loads(file.read_text())
    return data


def verify_bundle(path: str | Path) -> dict[str, Any]:
    """Check every file against the provenance's SHA-256 list; return the provenance."""
    root = Path(path)
    provenance = read_provenance(root)
    if provenance.get("version") is None:
        raise BundleError(f"{path}: the bundle holds no champion ({provenance.get('reason')})")
    expected = provenance.get("files_sha256", {})
    required = {f"{MODEL_DIR}/MLmodel", POLICY, CONTRACT}
    if not required <= set(expected):
        raise BundleError(f"{path}: provenance does not list {sorted(required - set(expected))}")
    actual = _manifest(root)
    if set(expected) != set(actual):
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        raise BundleError(
            f"{path}: files differ from provenance (missing {missing}, extra {extra})"
        )
    changed = sorted(name for name, digest in expected.items() if actual[name] != digest)
    if changed:
        raise BundleError(f"{path}: SHA-256 mismatch for {changed}; refusing to load")
    return provenance


def load_bundle(path: str | Path) -> Bundle:
    """Verify, then load the bundle's model (skops, explicit trusted types) and policy."""
    provenance = verify_bundle(path)
    root = Path(path)
    model = load_model(root / MODEL_DIR)
    policy = json.loads((root / POLICY).read_text())
    return Bundle(model=model, policy=policy, provenance=provenance)
