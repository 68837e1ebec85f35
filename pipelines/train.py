"""DVC stage `train`: fit the rule baseline, the logistic baseline and the candidate.

Each model is one MLflow run (params, validation metrics, the training data as a dataset
input, the git commit, the model with signature and input example, the reference profile
that monitoring compares production with) and one MLflow model
directory under models/, written canonically: the same data, params and code give the same
bytes, so `dvc.lock` does not change when the pipeline is reproduced. The run is tagged with
that directory's fingerprint, which is how evaluate and promote find it again.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import warnings
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset, from_pandas

from loanrisk import paths, stage, tracking
from loanrisk.models.canonical import save_canonical
from loanrisk.models.train import MODEL_NAMES, TrainedModel, features, fit_model, score
from loanrisk.monitoring.profile import FILE as PROFILE
from loanrisk.monitoring.profile import Profile, build_profile
from loanrisk.project import load_project


@tracking.store_errors()
def log_and_save(
    model: TrainedModel,
    example: pd.DataFrame,
    dataset: PandasDataset,
    data_md5: str,
    profile: Profile,
) -> str:
    """Save ``model`` and its reference profile canonically under models/ and track both as
    an MLflow run; return the model's fingerprint."""
    serialisation = tracking.serialisation(model.estimator, example)
    profile_json = profile.to_json()
    fingerprint = save_canonical(
        model.estimator, Path(paths.model(model.name)), {PROFILE: profile_json}, **serialisation
    )
    with mlflow.start_run(run_name=model.name):
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
        mlflow.log_input(dataset, context="training", tags={"md5": data_md5})
        tracking.log_metrics(model.metrics)
        mlflow.log_text(profile_json, PROFILE)
        info = mlflow.sklearn.log_model(model.estimator, name="model", **serialisation)
        mlflow.set_tag("model_uri", info.model_uri)
    return fingerprint


def main() -> None:
    # The contract forbids nulls in integer columns, which is what MLflow's hint is about;
    # and a local file is a local file, whichever of MLflow's two readers takes it.
    warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
    warnings.filterwarnings(
        "ignore", message=".*interpreted in multiple ways", category=UserWarning
    )
    project = load_project()
    params, dataset = project.params, project.dataset
    # The test split is not read here: it is kept for the verdict (evaluate and the gate).
    files = {part: paths.split(part) for part in ("train", "valid")}
    splits = {part: pd.read_parquet(path) for part, path in files.items()}
    tracking.configure(project.experiment)
    # One dataset entity for the three runs: inferring its schema takes seconds.
    training_data = from_pandas(
        splits["train"],
        source=Path(files["train"]).resolve().as_uri(),
        name="train",
        targets=dataset.label.column,
    )
    data_md5 = tracking.file_md5(files["train"])
    example = features(splits["train"].head(5), dataset)
    metrics = {}
    for name in MODEL_NAMES:
        model = fit_model(name, params, dataset, splits)
        scores = score(model.estimator, splits["train"], dataset)
        profile = build_profile(splits["train"], dataset, scores, params.monitor.bins)
        log_and_save(model, example, training_data, data_md5, profile)
        metrics[name] = {**model.metrics, **model.notes}
        print(f"train: {name:<9} validation ROC-AUC {model.metrics['valid']['roc_auc']:.4f}")
    stage.write_json(paths.TRAIN_METRICS, metrics)


if __name__ == "__main__":
    stage.run(main)
