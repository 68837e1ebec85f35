"""The release: register the candidate, compare it with the champion, maybe crown it, export.

:func:`release` is everything the pipeline does to an MLflow store after training, callable
without DVC (the tests call it on a temporary SQLite store). In order:

1. log the candidate's documents (its card and the datasheet) to its training run;
2. register the candidate as a version of the registered model, unless a version with the
   same fingerprint and decision policy is there already (same data, params and code: the
   same model), and alias it `challenger`;
3. score the champion on the same test rows and take the paired bootstrap intervals of the
   differences in decision cost and ROC-AUC (:class:`~loanrisk.registry.gate.ChampionComparison`);
4. judge the candidate (:func:`~loanrisk.registry.gate.judge`) and move `champion` only when
   the gate's mode says so, and never under an experiment (`dvc exp run` sets
   ``DVC_EXP_NAME``): an experiment at most registers its model, tagged with its name;
5. export the champion's serving bundle, card included, once (:func:`export_champion`, which
   `loanrisk rollback` uses too).

A failed gate is a result, not an error: the champion stays, and the record says why.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from loanrisk import paths, tracking
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.data.declaration import Declaration
from loanrisk.errors import RegistryError
from loanrisk.evaluation.metrics import paired_auc_difference, paired_cost_difference
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.project import Project
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_version
from loanrisk.registry.gate import ChampionComparison, Interval, alone, judge
from loanrisk.scoring import labels, score
from loanrisk.stage import file_digest


@dataclass(frozen=True)
class Candidate:
    """The model offered for release, as `train` fitted it and `evaluate` measured it."""

    model: Any
    fingerprint: str
    report: dict[str, Any]
    """Its entry in `reports/metrics.json` (test figures, fairness, behaviour, policy)."""
    baseline: dict[str, Any]
    """The logistic baseline's entry, which the candidate must beat."""


def release(
    project: Project,
    candidate: Candidate,
    test: pd.DataFrame,
    *,
    experiment: str | None = None,
    bundle: str | Path = paths.CHAMPION,
    documents: tuple[PurePath, ...] = (),
) -> dict[str, Any]:
    """Register, compare, judge and maybe promote ``candidate``; export the champion's bundle
    to ``bundle``. Returns what happened in this store (what the stage writes to
    `reports/gate.json`).

    ``documents`` are logged to the candidate's run, each under its folder's name. The
    bundle takes the card (the files under `model_cards/`) from the registered run: when the
    champion is this very model but registered from an earlier run that trained the same
    bytes, the card is logged to that run too."""
    name, gate = project.registered_model, project.params.gate
    tracking.configure(project.experiment)
    run_id = tracking.find_run("candidate", candidate.fingerprint)
    _log(run_id, documents)
    champion = registry.version_by_alias(name, registry.CHAMPION)
    policy = candidate.report["policy"]
    challenger = registry.version_with_fingerprint(name, candidate.fingerprint, policy)
    registered = challenger is None
    if challenger is None:
        challenger = _register(name, run_id, candidate, experiment)
    record: dict[str, Any] = {
        "registered_model": name,
        "fingerprint": candidate.fingerprint,
        "experiment": experiment,
        "challenger_version": challenger.version,
        "registered_now": registered,
        "champion_before": champion.version if champion else None,
    }
    if champion is not None and champion.version == challenger.version:
        record.update(
            mode=gate.mode,
            passed=None,
            promoted=False,
            reason="the candidate is the champion already (same fingerprint and policy): "
            "nothing to judge",
            criteria=alone(candidate.fingerprint, candidate.report, candidate.baseline, gate)[
                "criteria"
            ],
            failures=[],
        )
    else:
        record.update(_judge(project, candidate, test, champion, challenger, experiment))
    after = registry.version_by_alias(name, registry.CHAMPION)
    record["champion_after"] = after.version if after else None
    same = after is not None and after.tags.get(registry.FINGERPRINT) == candidate.fingerprint
    if same and after is not None and after.run_id and after.run_id != run_id:
        _log(after.run_id, tuple(p for p in documents if p.parent.name == paths.MODEL_CARDS))
    export_champion(project, bundle)
    return record


def export_champion(project: Project, destination: str | Path = paths.CHAMPION) -> str | None:
    """Export the version the `champion` alias names (or an empty bundle when there is none)
    to ``destination``, with the contract of the project's dataset; its version. The one
    way a serving bundle is written: the release and `loanrisk rollback` call it, the
    service reads what it wrote."""
    name = project.registered_model
    champion = registry.version_by_alias(name, registry.CHAMPION)
    contract = contract_json_schema(build_contract(project.dataset))
    export_version(destination, name, champion, contract)
    return str(champion.version) if champion else None


def offered(candidate: Candidate, documents: tuple[PurePath, ...]) -> dict[str, Any]:
    """What the pipeline offers for release, as `reports/release.json` holds it: the model's
    fingerprint and policy and the SHA-256 of each document. Only the repository's files go
    in, so `dvc repro` reproduces it to the byte; what the store made of the offer is
    `reports/gate.json`'s."""
    return {
        "fingerprint": candidate.fingerprint,
        "policy": candidate.report["policy"],
        "documents": {str(p): file_digest(str(p), "sha256") for p in documents},
    }


def _register(name: str, run_id: str, candidate: Candidate, experiment: str | None) -> ModelVersion:
    """A new version from the candidate's training run, tagged with what it was made of."""
    with tracking.store_errors():
        run = mlflow.get_run(run_id)
    tags = {
        "run_id": run_id,
        "git_commit": run.data.tags.get("git_commit"),
        "data_md5": run.data.tags.get("data_md5"),
        registry.FINGERPRINT: candidate.fingerprint,
        "policy": candidate.report["policy"],
        "metrics": candidate.report["test"],
    }
    if experiment:
        tags["experiment"] = experiment
    return registry.register_challenger(
        name, run.data.tags["model_uri"], tags, alias=experiment is None
    )


def _judge(
    project: Project,
    candidate: Candidate,
    test: pd.DataFrame,
    champion: ModelVersion | None,
    challenger: ModelVersion,
    experiment: str | None,
) -> dict[str, Any]:
    """The gate's judgement of a challenger that is not the champion, and its consequence."""
    name, gate = project.registered_model, project.params.gate
    comparison = None
    if champion is not None:
        comparison = compare_with_champion(project, candidate, champion, test)
    rolled_back = candidate.fingerprint in registry.rolled_back_fingerprints(name)
    judged = judge(candidate.report, candidate.baseline, comparison, gate, rolled_back)
    promote = judged.promote and experiment is None
    with tracking.store_errors():
        client = registry.client()
        client.set_model_version_tag(name, challenger.version, "gate_passed", str(judged.passed))
        client.set_model_version_tag(name, challenger.version, "gate_mode", judged.mode)
    if promote:
        reason = "passed the gate" if judged.passed else f"gate mode {judged.mode}"
        registry.promote(name, challenger.version, champion.version if champion else None, reason)
    return {
        "mode": judged.mode,
        "passed": judged.passed,
        "promoted": promote,
        "reason": (
            f"experiment {experiment}: an experiment never moves the champion"
            if experiment
            else "promoted"
            if promote
            else "kept the champion"
        ),
        "comparison": comparison.as_dict() if comparison else None,
        "criteria": [c.as_dict() for c in judged.criteria],
        "failures": judged.failures,
    }


def compare_with_champion(
    project: Project, candidate: Candidate, champion: ModelVersion, test: pd.DataFrame
) -> ChampionComparison:
    """The champion scored on the same test rows as the candidate; the paired intervals of
    the differences in decision cost (at the cost-optimal threshold) and in ROC-AUC."""
    params, dataset = project.params, project.dataset
    champion_model = _registered_model(project.registered_model, str(champion.version), dataset)
    y = labels(test, dataset)
    ours = score(candidate.model, test, dataset)
    theirs = score(champion_model, test, dataset)
    samples, seed, costs = params.evaluate.bootstrap_samples, params.seed, params.problem
    threshold = cost_optimal_threshold(costs.cost_approve_default, costs.cost_reject_good)
    cost = paired_cost_difference(
        y,
        ours,
        theirs,
        threshold,
        costs.cost_approve_default,
        costs.cost_reject_good,
        samples,
        seed,
    )
    auc = paired_auc_difference(y, ours, theirs, samples, seed)
    return ChampionComparison(str(champion.version), Interval(*cost), Interval(*auc))


@tracking.store_errors()
def _registered_model(name: str, version: str, dataset: Declaration) -> object:
    """A registered version, fetched from the store and loaded with the project's loader.

    Refused with what to do when it was trained on other columns than the declaration's:
    the challenger cannot be compared with it on this data.
    """
    with tempfile.TemporaryDirectory() as scratch:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=scratch
        )
        mismatch = tracking.column_mismatch(path, list(dataset.feature_names))
        if mismatch is not None:
            raise RegistryError(
                f"champion v{version} of {name!r} was trained on other columns than "
                f"{dataset.where()} declares ({mismatch}); give this dataset its own model "
                "name (`name` in the declaration or mlflow.registered_model in params.yaml)"
            )
        return tracking.load_model(path)


@tracking.store_errors()
def _log(run_id: str, files: tuple[PurePath, ...]) -> None:
    """Log ``files`` as artifacts of the run, each under its folder's name."""
    client = registry.client()
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=path.parent.name)
