"""Workspaces the documents are rendered from: every input of the `document` stage, made by
the pipeline's own functions on small data, in a temporary project directory.

No committed report is read, so the tests pass on a fresh clone (where data/ and
reports/verdict.json do not exist) and after a user points params.yaml at another dataset.
Two datasets: the generator's loans (timestamp, out-of-time split, scenarios) and the churn
table of the bring-your-own-data test (no timestamp, a label spelled yes/no, read from a file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from loanrisk import paths, stage
from loanrisk.config import Params
from loanrisk.data import generator
from loanrisk.data.contract import contract_for, maturity_cutoff
from loanrisk.data.declaration import Declaration
from loanrisk.data.generator import GeneratorSpec, generate
from loanrisk.data.split import Split, out_of_time_split, split_report, stratified_split
from loanrisk.data.validation import validate_batch
from loanrisk.docs import context
from loanrisk.docs.facts import data_facts
from loanrisk.evaluation.report import evaluate_model
from loanrisk.models.train import MODEL_NAMES, fit_model
from loanrisk.monitoring.monitor import monitor, why_not_monitored
from loanrisk.monitoring.profile import build_profile
from loanrisk.project import Project, load_project
from loanrisk.registry.gate import candidate_criteria
from loanrisk.scoring import score
from tests.helpers import CHURN, customers

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Workspace:
    """A project directory holding the stage's inputs, and those inputs as the stage reads
    them (``reports``: path -> parsed JSON, plus the data facts under ``paths.VALIDATED``)."""

    root: Path
    project: Project
    reports: dict[str, Any]
    frame: pd.DataFrame  # the validated rows

    def read(self, path: str) -> Any:
        return json.loads((self.root / path).read_text())


@contextlib.contextmanager
def inside(path: Path) -> Iterator[None]:
    with contextlib.chdir(path):
        yield


def fast(params: Params, **data: Any) -> Params:
    """``params`` at test size: a small candidate, few bootstrap resamples."""
    train = params.train.model_copy(
        update={"candidate": params.train.candidate.model_copy(update={"max_iter": 40})}
    )
    return params.model_copy(
        update={
            "data": params.data.model_copy(update=data),
            "train": train,
            "evaluate": params.evaluate.model_copy(
                update={"bootstrap_samples": 20, "min_slice_size": 100}
            ),
            "mlflow": params.mlflow.model_copy(
                update={"experiment": None, "registered_model": None}
            ),
        }
    )


def build(root: Path, params: Params, declaration: str, raw: pd.DataFrame) -> Workspace:
    """Validate, split, train, evaluate and judge ``raw`` as the stages would, and write every
    file the `document` stage reads into ``root``."""
    (root / "datasets").mkdir(parents=True)
    shutil.copytree(ROOT / paths.TEMPLATES, root / paths.TEMPLATES)  # the stage renders them
    (root / params.data.declaration).write_text(declaration)
    (root / paths.PARAMS).write_text(yaml.safe_dump(params.model_dump(mode="json")))
    with inside(root):
        project = load_project()
    dataset = project.dataset
    schema = contract_for(dataset, params.data.as_of, params.contract.max_staleness_days)
    result = validate_batch(raw, schema)
    valid = result.valid
    split: Split
    if dataset.timestamp is not None:
        horizon = dataset.label.horizon_months or 0
        split = out_of_time_split(
            valid,
            dataset,
            params.split.valid_from,
            params.split.test_from,
            maturity_cutoff(params.data.as_of, horizon),
            params.split.gap_months or 0,
        )
    else:
        split = stratified_split(
            valid, dataset, params.split.valid_share, params.split.test_share, params.seed
        )
    parts = split.parts()
    files: dict[str, Any] = {
        paths.VALIDATION: result.report(),
        paths.SPLIT_REPORT: split_report(split, dataset),
    }
    train_metrics, metrics = {}, {}
    fitted = {}
    for name in MODEL_NAMES:
        model = fit_model(name, params, dataset, parts)
        fitted[name] = model.estimator
        train_metrics[name] = {**model.metrics, **model.notes}
        evaluation = evaluate_model(model.estimator, parts["valid"], parts["test"], params, dataset)
        metrics[name] = evaluation.report
        for plot, rows in evaluation.plots.items():
            files[paths.plot(plot, name)] = rows
    files[paths.TRAIN_METRICS] = train_metrics
    files[paths.METRICS] = metrics
    criteria = candidate_criteria(metrics["candidate"], metrics["logistic"], params.gate)
    files[paths.VERDICT] = {
        "fingerprint": hashlib.sha256(declaration.encode()).hexdigest(),
        "passed": all(c.passed for c in criteria),
        "criteria": [c.as_dict() for c in criteria],
    }
    files[paths.DRIFT] = monitoring_report(
        params, dataset, fitted[context.CANDIDATE], metrics[context.CANDIDATE], parts["train"]
    )
    for path, payload in files.items():
        stage.write_json(root / path, payload)
    stage.write_parquet(root / paths.VALIDATED, valid)
    reports = {path: json.loads((root / path).read_text()) for path in context.REPORTS}
    frame = pd.read_parquet(root / paths.VALIDATED)
    reports[paths.VALIDATED] = data_facts(frame, dataset)
    return Workspace(root, project, reports, frame)


def monitoring_report(
    params: Params,
    dataset: Declaration,
    estimator: Any,
    evaluated: dict[str, Any],
    train: pd.DataFrame,
) -> dict[str, Any]:
    """What the monitor stage writes for this candidate: its judged window, or why none."""
    why_not = why_not_monitored(params)
    if why_not is not None:
        return {"skipped": why_not}
    profile = build_profile(train, dataset, score(estimator, train, dataset), params.monitor.bins)
    scorer = partial(score, estimator, dataset=dataset)
    return stage.rounded(monitor(params, dataset, scorer, profile, evaluated, train).report)


@pytest.fixture(scope="session")
def loans_workspace(tmp_path_factory: pytest.TempPathFactory, params: Params) -> Workspace:
    """Two years of generated applications, the first labelled; a few broken on purpose so
    the validation report has failures to quote."""
    spec = GeneratorSpec(
        seed=11,
        start=dt.date(2022, 1, 1),
        months=24,
        n_applications=9600,
        as_of=dt.date(2024, 1, 1),
    )
    raw = generate(spec)
    raw.loc[[3, 40, 41], "income"] = -5.0
    pinned = fast(
        params,
        declaration="datasets/loans.yaml",
        source="generator",
        start=spec.start,
        months=spec.months,
        as_of=spec.as_of,
        size="default",
        sizes={"default": spec.n_applications},
        scenario="none",
    )
    pinned = pinned.model_copy(
        update={
            "seed": 11,
            "split": params.split.model_copy(
                update={
                    "valid_from": dt.date(2022, 7, 1),
                    "test_from": dt.date(2022, 10, 1),
                    "gap_months": 1,
                }
            ),
            # The reports below are the loan example's: gate its protected attribute,
            # whatever dataset params.yaml names.
            "gate": params.gate.model_copy(update={"fairness_attributes": ["sex"]}),
            # Six production months after the data; outcomes of the first four known.
            "monitor": params.monitor.model_copy(
                update={
                    "start": dt.date(2024, 1, 1),
                    "months": 6,
                    "rows_per_month": 600,
                    "as_of": dt.date(2025, 5, 1),
                }
            ),
        }
    )
    declaration = (ROOT / generator.DECLARATION).read_text()
    return build(tmp_path_factory.mktemp("loans"), pinned, declaration, raw)


@pytest.fixture(scope="session")
def churn_workspace(tmp_path_factory: pytest.TempPathFactory, params: Params) -> Workspace:
    """Another domain, brought as a file: no timestamp, a label spelled yes/no."""
    raw = customers(n=3000)
    pinned = fast(params, declaration="datasets/churn.yaml", source="data/customers.csv")
    pinned = pinned.model_copy(
        update={"gate": params.gate.model_copy(update={"fairness_attributes": ["marital_status"]})}
    )
    return build(tmp_path_factory.mktemp("churn"), pinned, CHURN, raw)


def copy_workspace(workspace: Workspace, destination: Path) -> Path:
    """The workspace's files in ``destination``, for a test that runs the stage there."""
    shutil.copytree(workspace.root, destination)
    return destination


@dataclass(frozen=True)
class Store:
    """A SQLite MLflow store of its own, holding the run the train stage would have logged for
    the workspace's candidate (tagged with the model's name and the verdict's fingerprint)."""

    uri: str
    run_id: str

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def env(self) -> dict[str, str]:
        """The environment a stage run against this store gets: this store and no other."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        return {**env, "MLFLOW_TRACKING_URI": self.uri, "MLFLOW_DISABLE_TELEMETRY": "true"}


def candidate_store(root: Path, workspace: Workspace) -> Store:
    """A store in ``root`` with one finished run of the workspace's candidate."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(
        workspace.project.experiment, artifact_location=(root / "mlartifacts").as_uri()
    )
    fingerprint = workspace.read(paths.VERDICT)["fingerprint"]
    run = client.create_run(
        experiment, tags={"model": context.CANDIDATE, "fingerprint": fingerprint}
    )
    client.set_terminated(run.info.run_id)
    return Store(uri, run.info.run_id)
