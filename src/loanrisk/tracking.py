"""MLflow at the edge: where runs go, what every run records, how models are serialised.

Nothing here runs at import time: the tracking URI is set by :func:`configure`, called by the
stages that track, so tests and notebooks choose their own store.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from contextlib import ContextDecorator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import skops.io
import yaml
from mlflow import ActiveRun
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from loanrisk.errors import BundleError, StoreError
from loanrisk.stage import DEBUG, file_digest

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
            raise StoreError(f"MLflow store {tracking_uri()}: {store_message(exc)}") from exc


SQL_NOISE = (
    re.compile(r"\(raised as a result of Query-invoked autoflush;[^)]*\)"),
    re.compile(r"\[SQL: .*", re.DOTALL),  # the statement, its parameters, a link: not news
)


def store_message(exc: BaseException) -> str:
    """An MLflow error's message on one line, without the SQL statement and parameters that
    SQLAlchemy appends (``(sqlite3.OperationalError) attempt to write a readonly database``,
    not the INSERT and every value it would have written)."""
    text = str(exc)
    for noise in SQL_NOISE:
        text = noise.sub("", text)
    return " ".join(text.split())


class _NoDuplicateTraceback(logging.Filter):
    """Drops the traceback MLflow's SQL store logs before raising the very same error (88
    lines before the one-line error a stage prints); ``LOANRISK_DEBUG=1`` keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None or os.environ.get(DEBUG, "") not in ("", "0")


def quiet_store_logs() -> None:
    logger = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(f, _NoDuplicateTraceback) for f in logger.filters):
        logger.addFilter(_NoDuplicateTraceback())


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
    quiet_store_logs()
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
    close_stale_runs(experiment_id)
    return experiment_id


HOST, PID, STAGE = "loanrisk.host", "loanrisk.pid", "loanrisk.stage"
PID_START = "loanrisk.pid_start"
"""The tags that say which process a run belongs to: its host, its pid, when that process
started (so a pid used again by another process is told apart) and the stage."""


def _process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc); "" where
    that cannot be read (another system, or no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name, in (), may hold spaces


def owner_tags() -> dict[str, str]:
    """The tags every run this process starts or resumes carries (see :func:`start_run`)."""
    return {
        HOST: socket.gethostname(),
        PID: str(os.getpid()),
        PID_START: _process_start(os.getpid()),
        STAGE: Path(sys.argv[0]).stem,
    }


def start_run(**kwargs: Any) -> ActiveRun:
    """``mlflow.start_run`` (a new run, or ``run_id=`` to resume one), tagged with this
    process: a later stage on this host can then tell a run whose process was killed from a
    run still going (:func:`close_stale_runs`)."""
    with store_errors():
        return mlflow.start_run(**kwargs, tags=owner_tags())


def _alive(tags: dict[str, str]) -> bool:
    """Whether the process that started or resumed a run (on this host) still runs."""
    try:
        pid = int(tags[PID])
        os.kill(pid, 0)
    except (KeyError, ValueError):
        return True  # not one of ours: not ours to close
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process, alive
    started = tags.get(PID_START, "")
    return not started or _process_start(pid) in ("", started)


def close_stale_runs(experiment_id: str) -> list[str]:
    """Mark KILLED the runs of this experiment left RUNNING by a process of this host that is
    gone (a stage killed with SIGKILL, or out of memory, cannot end its own run); their ids.

    Runs of other hosts sharing a tracking server are left alone: their processes cannot be
    seen from here. What the killed run had logged stays, and the re-run logs a new run (or,
    for a stage that resumes the run, ends it again).
    """
    host = socket.gethostname()
    found = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'",
        output_format="list",
    )
    client = mlflow.MlflowClient()
    closed = []
    for run in found:
        tags = run.data.tags
        if _alive(tags):
            continue
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
        print(
            f"{Path(sys.argv[0]).stem}: run {run.info.run_id} ({run.info.run_name}) of "
            f"{tags.get(STAGE, 'a stage')}, process {tags[PID]} which is gone, marked KILLED"
        )
    return closed


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
    change them. Only a run that finished logging the model counts (its ``model_uri`` tag is
    set last): a train stage killed half-way leaves a newer run with the same fingerprint and
    no model.
    """
    found = [
        run
        for run in mlflow.search_runs(
            filter_string=f"tags.model = '{model}' and tags.fingerprint = '{fingerprint}'",
            order_by=["attributes.start_time DESC"],
            max_results=100,
            output_format="list",
        )
        if run.data.tags.get("model_uri")
    ]
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
