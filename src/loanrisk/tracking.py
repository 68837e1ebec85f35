"""MLflow at the edge: where runs go, what every run records, how models are serialised.

Nothing here runs at import time: the tracking URI is set by :func:`configure`, called by the
stages that track, so tests and notebooks choose their own store.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import ContextDecorator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import skops.io
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from loanrisk.errors import BundleError, StoreError
from loanrisk.stage import file_digest

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ARTIFACT_ROOT = "mlartifacts"

SKOPS_TRUSTED_TYPES = [
    "loanrisk.models.rules.RuleBaseline",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.utils._bunch.Bunch",
    # The calibrated classifier keeps a partial of check_array; skops only loads a partial
    # whose function is itself trusted, so this admits check_array and nothing else.
    "functools.partial",
    "sklearn.utils.validation.check_array",
]
"""Types beyond scikit-learn's defaults that skops may load from a model we logged ourselves.

This list is the security boundary of model loading: keep it explicit and short."""


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (inferring them costs seconds per model)."""
    packages = ("scikit-learn", "pandas", "numpy", "skops", "scipy")
    return [f"{name}=={version(name)}" for name in packages]


def serialisation(estimator: Any, example: pd.DataFrame) -> dict[str, Any]:
    """How every model is saved: skops with explicit trusted types, a signature, an input
    example, pinned requirements, and ``predict_proba`` as what pyfunc serves."""
    return {
        "serialization_format": "skops",
        "skops_trusted_types": SKOPS_TRUSTED_TYPES,
        "signature": infer_signature(example, estimator.predict_proba(example)),
        "input_example": example,
        "pip_requirements": pip_requirements(),
        "pyfunc_predict_fn": "predict_proba",
    }


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


class store_errors(ContextDecorator):  # noqa: N801 - used as a decorator and a `with` block
    """Translate MLflow's errors into :class:`StoreError`, naming the store.

    Used where MLflow is called (this module, the registry, the bundle export and the stages'
    logging blocks), so the stage runner needs to know nothing of MLflow.
    """

    def __enter__(self) -> store_errors:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if isinstance(exc, MlflowException):
            text = " ".join(str(exc).split())
            raise StoreError(f"MLflow store {tracking_uri()}: {text}") from exc


FAIL_FAST = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
"""How long a tracking server may not answer before the one-line error: about 7 s of
retries (1, 2, 4 s) and 30 s a request. MLflow's own defaults (7 retries, factor 2, 120 s)
gave over four minutes of silence first. Set any of them to choose otherwise."""


def fail_fast() -> None:
    """Apply :data:`FAIL_FAST` where the environment does not set it already."""
    for name, value in FAIL_FAST.items():
        os.environ.setdefault(name, value)


@store_errors()
def configure(experiment: str) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id.

    Also turns MLflow's usage telemetry off (the template runs offline by default) and makes
    an unreachable tracking server an error within seconds (:data:`FAIL_FAST`).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    fail_fast()
    mlflow.set_tracking_uri(tracking_uri())
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = str(existing.experiment_id)
    else:
        artifacts = None
        if tracking_uri().startswith("sqlite:"):
            artifacts = Path(ARTIFACT_ROOT).resolve().as_uri()
        experiment_id = str(mlflow.create_experiment(experiment, artifact_location=artifacts))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def load_model(model_dir: str | Path) -> Any:
    """Load a scikit-learn model directory that this project logged, and nothing else.

    MLflow's own loader takes the serialisation format and the skops trusted types from the
    model's MLmodel file, which travels with the model: an edited file could ask for pickle or
    trust anything. Here the format must be skops and the trusted types are this module's.
    """
    root = Path(model_dir)
    try:
        flavor = yaml.safe_load((root / "MLmodel").read_text())["flavors"]["sklearn"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise BundleError(f"{root}: not an MLflow scikit-learn model ({exc})") from None
    if flavor.get("serialization_format") != "skops":
        raise BundleError(
            f"{root}: serialised as {flavor.get('serialization_format')!r}, not skops; "
            "refusing to load"
        )
    return skops.io.load(root / flavor["pickled_model"], trusted=SKOPS_TRUSTED_TYPES)


@store_errors()
def find_run(model: str, fingerprint: str) -> str:
    """The id of the newest run in the current experiment that logged this very model.

    Runs are found by the model's fingerprint, not by a file of run ids: run ids belong to
    one store and must stay out of DVC's outputs, or `dvc repro` on a fresh clone would
    change them.
    """
    found = mlflow.search_runs(
        filter_string=f"tags.model = '{model}' and tags.fingerprint = '{fingerprint}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not found:
        raise StoreError(
            f"MLflow store {tracking_uri()}: no run holds the {model} model in models/{model} "
            f"(fingerprint {fingerprint[:12]}); run `dvc repro -f train` to log it here"
        )
    return str(found[0].info.run_id)


def input_columns(model_dir: str | Path) -> list[str] | None:
    """The column names of a logged model's input signature (None when it has none)."""
    try:
        meta = yaml.safe_load((Path(model_dir) / "MLmodel").read_text())
        inputs = json.loads(meta["signature"]["inputs"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return None
    return [str(column["name"]) for column in inputs if "name" in column]


NOT_CODE = (":(exclude)dvc.lock", ":(exclude)reports", ":(exclude,glob)**/.gitignore")
"""What DVC itself rewrites during `dvc repro`: changes there do not make the code dirty."""


def column_mismatch(model_dir: str | Path, features: list[str]) -> str | None:
    """How a logged model's input columns differ from ``features`` (None: they agree, or the
    model records no signature). Promote and the service both refuse such a model, each
    saying what to do in its own terms."""
    trained_on = input_columns(model_dir)
    if trained_on is None or trained_on == features:
        return None
    missing = sorted(set(trained_on) - set(features)) or "none"
    new = sorted(set(features) - set(trained_on)) or "none"
    if missing == "none" and new == "none":
        return f"the same columns in another order ({trained_on})"
    return f"its columns missing here: {missing}; new here: {new}"


def git_commit() -> str:
    """The commit the code was run from, with ``-dirty`` when tracked files other than
    DVC's own outputs (the lock file, reports, the .gitignore files it writes) differ."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


@store_errors()
def log_metrics(metrics: dict[str, Any], prefix: str = "") -> None:
    """Log the numeric leaves of a nested dict, keys joined with '.'."""
    flat: dict[str, float] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            flat[key] = float(node)

    walk(metrics, prefix)
    # MLflow allows letters, digits and _-. :/ in names; group labels such as "65+" need care.
    mlflow.log_metrics({re.sub(r"[^\w\-. :/]", "_", k): v for k, v in flat.items()})


def file_md5(path: str | Path) -> str:
    """The MD5 of a file: the hash `dvc.lock` records for it, so MLflow and DVC agree."""
    return file_digest(path, "md5")
