"""The MLflow model registry as the project uses it: versions, aliases and their history.

``challenger`` marks the newest candidate, ``champion`` the version serving. Each promotion
records the champion it replaced (tag ``previous_champion``), so a rollback is one step
back along that chain, and leaves who, when and why on both versions.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from loanrisk.errors import RegistryError
from loanrisk.tracking import store_errors

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous_champion"


@dataclass(frozen=True)
class Rollback:
    from_version: str
    to_version: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def client() -> mlflow.MlflowClient:
    return mlflow.MlflowClient()


@store_errors()
def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    """The version behind ``alias``, or None when the model or the alias does not exist."""
    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _is_absent(exc):
            return None
        raise


def _is_absent(exc: MlflowException) -> bool:
    """The model or the alias does not exist (any other store error is a real error)."""
    if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
        return True
    message = str(exc).lower()
    return (
        exc.error_code == "INVALID_PARAMETER_VALUE"
        and "alias" in message
        and "not found" in message
    )


FINGERPRINT = "fingerprint"
"""The tag holding a version's model fingerprint (SHA-256 of its canonical files): the same
data, params and code give the same fingerprint."""


@store_errors()
def versions(name: str) -> list[ModelVersion]:
    """Every version of ``name`` (none when the model is not registered)."""
    try:
        found: list[ModelVersion] = client().search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        if _is_absent(exc):
            return []
        raise
    return found


def version_with_fingerprint(
    name: str, fingerprint: str, policy: dict[str, float] | None = None
) -> ModelVersion | None:
    """The oldest version of ``name`` holding exactly this model (and, given ``policy``,
    deciding with exactly this policy), if any.

    A release is the model and its decision policy together: new costs in params.yaml
    move the threshold without changing one byte of the model, and a version found by the
    model alone would keep serving the old threshold.
    """
    same = [
        v
        for v in versions(name)
        if v.tags.get(FINGERPRINT) == fingerprint
        and (policy is None or tag_json(v, "policy") == policy)
    ]
    return min(same, key=lambda v: int(v.version)) if same else None


def rolled_back_fingerprints(name: str) -> set[str]:
    """Fingerprints of every version of ``name`` that was ever rolled back.

    A rolled-back model must not come back by itself: the next `dvc repro` reproduces the
    same model, and without this check it would beat the restored champion again.
    """
    return {
        v.tags[FINGERPRINT]
        for v in versions(name)
        if v.tags.get("rolled_back_at") and v.tags.get(FINGERPRINT)
    }


def _is_logged_model(uri: str) -> bool:
    """``models:/<model id>`` (MLflow 3's logged model), not ``models:/<name>/<version>``
    or ``models:/<name>@<alias>``."""
    rest = uri.removeprefix("models:/")
    return rest != uri and "/" not in rest and "@" not in rest


@store_errors()
def register_challenger(
    name: str, model_uri: str, tags: dict[str, Any], alias: bool = True
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name``; with ``alias``, point
    ``challenger`` at it (an experiment's version is only tagged)."""
    c = client()
    try:
        c.get_registered_model(name)
    except MlflowException as exc:
        if not _is_absent(exc):
            raise
        c.create_registered_model(name, description="Probability of the positive label.")
    # A logged model's URI (models:/m-...) must name its model id too: a tracking server
    # refuses the version otherwise (a local store resolves it by itself).
    model_id = model_uri.removeprefix("models:/") if _is_logged_model(model_uri) else None
    version = c.create_model_version(
        name, model_uri, run_id=tags.get("run_id"), tags=_as_tags(tags), model_id=model_id
    )
    if alias:
        c.set_registered_model_alias(name, CHALLENGER, version.version)
    return version


@store_errors()
def promote(name: str, version: str, previous: str | None, reason: str) -> None:
    """Point ``champion`` at ``version``, remembering the champion it replaces."""
    c = client()
    # The way back is written before the alias moves: a failure in between leaves a
    # champion that can still be rolled back.
    if previous is not None and previous != version:
        c.set_model_version_tag(name, version, PREVIOUS, previous)
    c.set_model_version_tag(name, version, "promoted_at", _now())
    c.set_model_version_tag(name, version, "promotion_reason", reason)
    c.set_registered_model_alias(name, CHAMPION, version)


@store_errors()
def rollback(name: str, by: str, reason: str) -> Rollback:
    """Move ``champion`` back to the version it replaced; record who, when and why."""
    current = version_by_alias(name, CHAMPION)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion to roll back (run `make repro`)")
    previous = current.tags.get(PREVIOUS)
    if not previous:
        raise RegistryError(
            f"champion version {current.version} of {name!r} replaced no earlier champion: "
            "there is nothing to roll back to"
        )
    c = client()
    when = _now()
    c.set_registered_model_alias(name, CHAMPION, previous)
    c.set_model_version_tag(name, current.version, "rolled_back_at", when)
    c.set_model_version_tag(name, current.version, "rolled_back_by", by)
    c.set_model_version_tag(name, current.version, "rollback_reason", reason)
    c.set_model_version_tag(name, previous, "restored_at", when)
    c.set_model_version_tag(name, previous, "restored_by", by)
    c.set_model_version_tag(name, previous, "restore_reason", reason)
    return Rollback(from_version=str(current.version), to_version=str(previous))


def _as_tags(values: dict[str, Any]) -> dict[str, str]:
    return {
        k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in values.items()
    }


def tag_json(version: ModelVersion, key: str) -> Any:
    """A tag that holds JSON (metrics, policy), decoded; None when absent."""
    raw = version.tags.get(key)
    return json.loads(raw) if raw else None
