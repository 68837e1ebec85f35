"""A model ready to serve: loaded, verified, compiled to its fast path and warmed up.

Loading happens off the request path (at start-up, on reload): a model that fails to load,
to verify or to answer a smoke prediction never replaces the one serving.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from loanrisk import tracking
from loanrisk.data.declaration import Declaration
from loanrisk.errors import BundleError, LoanriskError
from loanrisk.evaluation.policy import DecisionPolicy
from loanrisk.fastpath import FastModel, compile_model
from loanrisk.monitoring.profile import Profile, read_profile
from loanrisk.registry.bundle import PROFILE, card_files, load_bundle

REFERENCE = "reference"
"""The name of the fallback path: the fitted scikit-learn pipeline on a DataFrame."""


@dataclass(frozen=True)
class ServedModel:
    """One model as the service uses it; immutable, so a reload swaps it whole."""

    name: str
    version: str
    uri: str
    estimator: Any
    policy: DecisionPolicy
    provenance: dict[str, Any]
    dataset: Declaration
    fast: FastModel | None
    columns: tuple[str, ...] = field(default=())
    profile: Profile | None = None
    """The reference profile the model was trained with (None: registered before profiles
    existed; it serves without drift monitoring)."""
    card: tuple[str, str] | None = None
    """The model card as (Markdown, HTML) from the bundle or the run (None: not rendered)."""

    @property
    def path(self) -> str:
        """Which inference path serves: the compiled one, or the reference pipeline."""
        return self.fast.kind if self.fast is not None else REFERENCE

    def score_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The probability of the positive label for each row (feature name -> value)."""
        if self.fast is not None:
            if len(rows) == 1:
                return np.array([self.fast.predict_positive_row(rows[0])])
            return self.fast.predict_positive(_columns(rows, self.dataset))
        frame = pd.DataFrame.from_records(list(rows), columns=list(self.columns))
        frame = frame.astype(self._dtypes())  # the declared types: the pipeline was fitted on them
        # One OpenMP thread: under load, a pool of threads per request made the tail latency
        # of the reference path explode (seconds at p99 on two busy cores).
        with threadpool_limits(limits=1, user_api="openmp"):
            p: np.ndarray = self.estimator.predict_proba(frame)[:, 1]
        return p

    def _dtypes(self) -> dict[str, Any]:
        kinds = {"float": "float64", "integer": "int64", "boolean": "bool", "category": "object"}
        return {n: kinds[f.type] for n, f in self.dataset.features.items()}

    def decide(self, p: np.ndarray) -> list[str]:
        if len(p) == 1:
            return [self.policy.decide_one(float(p[0]))]
        decisions: list[str] = self.policy.decide(p).tolist()
        return decisions

    def summary(self) -> dict[str, Any]:
        """What GET /model shows: the provenance the bundle carries, and the path serving."""
        keys = (
            "fingerprint",
            "git_commit",
            "data_md5",
            "metrics",
            "gate_passed",
            "gate_mode",
            "promoted_at",
        )
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            **{k: self.provenance.get(k) for k in keys},
            "policy": {
                "threshold": self.policy.threshold,
                "refer_from": self.policy.refer_from,
                "reject_from": self.policy.reject_from,
            },
            "inference_path": self.path,
            "features": list(self.columns),
        }


def _columns(rows: Sequence[Mapping[str, Any]], dataset: Declaration) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in dataset.feature_names:
        values = [row[name] for row in rows]
        if dataset.features[name].is_numeric:
            out[name] = np.asarray(values, dtype=np.float64)
        else:
            out[name] = np.asarray(values, dtype=object)
    return out


def load_served(uri: str, dataset: Declaration) -> ServedModel:
    """Load ``uri`` (a bundle directory or ``models:/<name>@<alias>``), check that it reads
    the declared features, compile its fast path and answer one smoke prediction."""
    try:
        model = (
            _from_registry(uri, dataset)
            if uri.startswith("models:/")
            else _from_bundle(uri, dataset)
        )
        smoke(model)
    except (LoanriskError, OSError):
        raise
    except Exception as exc:  # a malformed file that passed its checksum: refuse, with why
        raise BundleError(f"{uri}: cannot load the model: {one_line_of(exc)}") from exc
    return model


def one_line_of(exc: BaseException) -> str:
    """``KeyError: 'threshold'``, ``BadZipFile: File is not a zip file``, ..."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def _from_bundle(path: str, dataset: Declaration) -> ServedModel:
    bundle = load_bundle(path)
    _check_columns(Path(path) / "model", dataset, path)
    profile_file = Path(path) / PROFILE
    name = str(bundle.provenance.get("registered_model") or dataset.model_name)
    return _served(
        bundle.model,
        bundle.policy,
        bundle.provenance,
        dataset,
        path,
        name,
        str(bundle.provenance.get("version")),
        read_profile(profile_file) if profile_file.is_file() else None,
        _read_card(path, name),
    )


@tracking.store_errors()
def _from_registry(uri: str, dataset: Declaration) -> ServedModel:
    import mlflow

    tracking.fail_fast()  # an unreachable server: not ready within seconds, not minutes

    from loanrisk.registry import registry
    from loanrisk.registry.bundle import download_card, download_profile, provenance_for

    name, _, alias = uri.removeprefix("models:/").partition("@")
    if not alias:
        raise BundleError(f"{uri}: expected models:/<name>@<alias>")
    version = registry.version_by_alias(name, alias)
    if version is None:
        raise BundleError(f"{uri}: the registry has no {alias!r} for {name!r}")
    policy = registry.tag_json(version, "policy")
    if not policy:
        raise BundleError(f"{uri}: version {version.version} carries no decision policy")
    with tempfile.TemporaryDirectory() as scratch:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version.version}", dst_path=scratch
        )
        _check_columns(Path(local), dataset, uri)
        estimator = tracking.load_model(local)
        found = download_profile(version.run_id, scratch) if version.run_id else None
        profile = read_profile(found) if found is not None else None
        if version.run_id:
            download_card(version.run_id, scratch)
        card = _read_card(scratch, name)
    return _served(
        estimator,
        policy,
        provenance_for(name, version),
        dataset,
        uri,
        name,
        str(version.version),
        profile,
        card,
    )


def _read_card(directory: str | Path, name: str) -> tuple[str, str] | None:
    found = card_files(directory, name)
    return (found[0].read_text(), found[1].read_text()) if found else None


def _check_columns(model_dir: Path, dataset: Declaration, where: str) -> None:
    mismatch = tracking.column_mismatch(model_dir, list(dataset.feature_names))
    if mismatch is not None:
        raise BundleError(
            f"{where}: the model reads other columns than {dataset.where()} declares ({mismatch})"
        )


def _served(
    estimator: Any,
    policy: Mapping[str, float],
    provenance: dict[str, Any],
    dataset: Declaration,
    uri: str,
    name: str,
    version: str,
    profile: Profile | None = None,
    card: tuple[str, str] | None = None,
) -> ServedModel:
    return ServedModel(
        name=name,
        version=version,
        uri=uri,
        estimator=estimator,
        policy=DecisionPolicy(
            **{k: float(policy[k]) for k in ("threshold", "refer_from", "reject_from")}
        ),
        provenance=provenance,
        dataset=dataset,
        fast=compile_model(estimator, dataset),
        columns=tuple(dataset.feature_names),
        profile=profile,
        card=card,
    )


def smoke(model: ServedModel) -> None:
    """One prediction on a typical application; the fast path must agree with the reference.

    Raises :class:`LoanriskError` when the model cannot answer: such a model never serves.
    """
    row = typical_row(model.dataset)
    try:
        p = model.score_rows([row])
        reference = dataclasses.replace(model, fast=None).score_rows([row])
    except Exception as exc:  # a broken model must not take the service down
        raise LoanriskError(f"{model.uri}: the smoke prediction failed ({exc})") from exc
    if not (np.isfinite(p).all() and 0 <= p[0] <= 1):
        raise LoanriskError(f"{model.uri}: the smoke prediction gave {p[0]!r}")
    if abs(float(p[0]) - float(reference[0])) > 1e-9:
        raise LoanriskError(
            f"{model.uri}: the fast path gives {p[0]} where the reference gives {reference[0]}"
        )


def typical_row(dataset: Declaration) -> dict[str, Any]:
    """A valid application built from the declaration alone (mid-range numbers, first
    categories, the low-risk reference applicant's values where declared)."""
    row: dict[str, Any] = {}
    for name, feature in dataset.features.items():
        if feature.categories:
            row[name] = feature.categories[0]
        elif feature.type == "boolean":
            row[name] = False
        elif feature.values:
            row[name] = feature.values[0]
        elif feature.range is not None:
            low, high = feature.range
            middle = low + (high - low) / 100
            row[name] = round(middle) if feature.type == "integer" else float(middle)
        else:
            row[name] = 0 if feature.type == "integer" else 0.0
    if dataset.reference_applicants is not None:
        row.update(dataset.reference_applicants.low_risk)
    return row
