"""A trained model written down twice: a canonical directory for DVC, and an MLflow run.

The directory (`models/<name>`) holds the same bytes for the same data, params and code, so
`dvc.lock` does not change when the pipeline is reproduced; its fingerprint tags the run,
which is how the later stages find the run again without keeping run ids in any output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset, from_pandas

from loanrisk import tracking
from loanrisk.data.declaration import Declaration
from loanrisk.models.canonical import save_canonical
from loanrisk.models.train import TrainedModel


def training_data(path: str, frame: pd.DataFrame, dataset: Declaration) -> PandasDataset:
    """The training split as one MLflow dataset entity, shared by every run of the stage
    (inferring its schema takes seconds)."""
    return from_pandas(
        frame, source=Path(path).resolve().as_uri(), name="train", targets=dataset.label.column
    )


@tracking.store_errors()
def save_and_log(
    model: TrainedModel,
    directory: str | Path,
    example: pd.DataFrame,
    data: PandasDataset,
    data_md5: str,
    files: dict[str, str],
) -> str:
    """Save ``model`` canonically to ``directory`` with ``files`` (name -> text, such as the
    reference profile) beside it, and track the same as one MLflow run; the fingerprint."""
    serialisation: dict[str, Any] = tracking.serialisation(model.estimator, example)
    fingerprint = save_canonical(model.estimator, Path(directory), files, **serialisation)
    with tracking.start_run(run_name=model.name):
        mlflow.set_tags(
            {
                "model": model.name,
                "git_commit": tracking.git_commit(),
                "data_md5": data_md5,
                "fingerprint": fingerprint,
            }
        )
        mlflow.log_params({f"{model.name}.{k}": v for k, v in model.hyperparameters.items()})
        if model.notes:
            mlflow.log_dict(model.notes, "notes.json")
            mlflow.set_tag("calibration", str(model.notes.get("calibration")))
        mlflow.log_input(data, context="training", tags={"md5": data_md5})
        tracking.log_metrics(model.metrics)
        for name, text in files.items():
            mlflow.log_text(text, name)
        info = mlflow.sklearn.log_model(model.estimator, name="model", **serialisation)
        mlflow.set_tag("model_uri", info.model_uri)
    return fingerprint
