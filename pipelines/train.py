"""DVC stage `train`: fit the rule baseline, the logistic baseline and the candidate.

Each model is one MLflow run (params, validation metrics, the training data as a dataset
input, the git commit, the model with signature and input example, the reference profile
that monitoring compares production with) and one model directory under models/, written
canonically (:mod:`loanrisk.models.record`). The test split is not read here: it is kept
for the verdict.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import warnings

import pandas as pd

from loanrisk import paths, stage, tracking
from loanrisk.models.record import save_and_log, training_data
from loanrisk.models.train import MODEL_NAMES, features, fit_model, score
from loanrisk.monitoring.profile import FILE as PROFILE
from loanrisk.monitoring.profile import build_profile
from loanrisk.project import load_project


def main() -> None:
    # The contract forbids nulls in integer columns, which is what MLflow's hint is about;
    # and a local file is a local file, whichever of MLflow's two readers takes it.
    warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
    warnings.filterwarnings(
        "ignore", message=".*interpreted in multiple ways", category=UserWarning
    )
    project = load_project()
    params, dataset = project.params, project.dataset
    splits = {part: pd.read_parquet(paths.split(part)) for part in ("train", "valid")}
    tracking.configure(project.experiment)
    data = training_data(paths.TRAIN, splits["train"], dataset)
    data_md5 = tracking.file_md5(paths.TRAIN)
    example = features(splits["train"].head(5), dataset)
    metrics = {}
    for name in MODEL_NAMES:
        model = fit_model(name, params, dataset, splits)
        scores = score(model.estimator, splits["train"], dataset)
        profile = build_profile(splits["train"], dataset, scores, params.monitor.bins)
        files = {PROFILE: profile.to_json()}
        save_and_log(model, paths.model(name), example, data, data_md5, files)
        metrics[name] = {**model.metrics, **model.notes}
        print(f"train: {name:<9} validation ROC-AUC {model.metrics['valid']['roc_auc']:.4f}")
    stage.write_json(paths.TRAIN_METRICS, metrics)


if __name__ == "__main__":
    stage.run(main)
