"""DVC stage `evaluate`: the three models side by side on the test split.

Writes reports/metrics.json (DVC metrics), reports/plots/ (DVC plots) and logs the same
numbers and files to each model's MLflow run.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import warnings

import mlflow
import pandas as pd

from loanrisk import paths, stage, tracking
from loanrisk.evaluation.report import evaluate_model
from loanrisk.models.canonical import fingerprint
from loanrisk.models.train import MODEL_NAMES
from loanrisk.project import load_project


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    project = load_project()
    params, dataset = project.params, project.dataset
    gated = params.gate.fairness_attributes[0]
    valid = pd.read_parquet(paths.VALID)
    test = pd.read_parquet(paths.TEST)
    tracking.configure(project.experiment)
    metrics = {}
    for name in MODEL_NAMES:
        model = tracking.load_model(paths.model(name))
        run_id = tracking.find_run(name, fingerprint(paths.model(name)))
        evaluation = evaluate_model(model, valid, test, params, dataset)
        metrics[name] = evaluation.report
        for plot, rows in evaluation.plots.items():
            stage.write_json(paths.plot(plot, name), rows)
        with tracking.store_errors(), tracking.start_run(run_id=run_id):
            logged = ("decisions", "roc_auc_ci95", "fairness")
            tracking.log_metrics({k: evaluation.report[k] for k in logged}, "eval")
            mlflow.log_dict(evaluation.report, "evaluation/report.json")
            for plot, rows in evaluation.plots.items():
                mlflow.log_dict({"rows": rows}, f"evaluation/plots/{plot}.json")
            mlflow.set_tag("behaviour_passed", str(evaluation.report["behaviour_passed"]))
        test_metrics = evaluation.report["test"]
        ratio = evaluation.report["fairness"][gated]["selection_rate_ratio"]
        print(
            f"evaluate: {name:<9} ROC-AUC {test_metrics['roc_auc']:.4f} "
            f"ECE {test_metrics['ece']:.4f} four-fifths({gated}) {ratio:.3f} "
            f"behaviour {'pass' if evaluation.report['behaviour_passed'] else 'FAIL'}"
        )
    stage.write_json(paths.METRICS, metrics)


if __name__ == "__main__":
    stage.run(main)
