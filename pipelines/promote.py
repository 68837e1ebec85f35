"""DVC stage `promote`: register the candidate as challenger, judge it, maybe crown it.

Writes reports/gate.json (verdict, every criterion with threshold and value, the champion
before and after) and exports whichever version is champion afterwards to models/champion/.
A failed gate is a result, not an error: the stage succeeds and the champion stays.
"""

import tempfile
import warnings

import mlflow
import pandas as pd

from loanrisk import stage, tracking
from loanrisk.config import load_project
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.data.declaration import Declaration
from loanrisk.errors import RegistryError
from loanrisk.evaluation.metrics import headline_metrics
from loanrisk.models.train import labels, score
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_bundle, provenance_for
from loanrisk.registry.gate import judge

METRICS = "reports/metrics.json"
RUNS = "models/runs.json"
TEST = "data/splits/test.parquet"
GATE = "reports/gate.json"
BUNDLE = "models/champion"


def _registered_model(name: str, version: str, dataset: Declaration) -> object:
    """A registered version, fetched from the store and loaded with the project's loader.

    Refused with what to do when it was trained on other columns than the declaration's:
    the challenger cannot be compared with it on this data.
    """
    with tempfile.TemporaryDirectory() as scratch:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=scratch
        )
        trained_on = tracking.input_columns(path)
        expected = list(dataset.feature_names)
        if trained_on is not None and trained_on != expected:
            missing = sorted(set(trained_on) - set(expected)) or "none"
            new = sorted(set(expected) - set(trained_on)) or "none"
            raise RegistryError(
                f"champion v{version} of {name!r} was trained on other columns than "
                f"{dataset.where()} declares (its columns missing here: {missing}; new here: "
                f"{new}); give this dataset its own model name (`name` in the declaration or "
                "mlflow.registered_model in params.yaml)"
            )
        return tracking.load_model(path)


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    project = load_project()
    params, dataset = project.params, project.dataset
    name = project.registered_model
    metrics = stage.read_json(METRICS)
    runs = stage.read_json(RUNS)
    test = pd.read_parquet(TEST)
    tracking.configure(project.experiment)

    candidate = metrics["candidate"]
    record = runs["candidate"]
    rolled_back = record["run_id"] in registry.rolled_back_runs(name)
    champion = registry.version_by_alias(name, registry.CHAMPION)
    challenger = registry.register_challenger(
        name,
        record["model_uri"],
        {
            "run_id": record["run_id"],
            "git_commit": tracking.git_commit(),
            "data_md5": record["data_md5"],
            "policy": candidate["policy"],
            "metrics": candidate["test"],
        },
    )
    # The champion is scored on the same test rows by the same computation as the candidate.
    champion_auc = None
    if champion is not None:
        champion_model = _registered_model(name, str(champion.version), dataset)
        y = labels(test, dataset)
        champion_auc = headline_metrics(y, score(champion_model, test, dataset))["roc_auc"]
    verdict = judge(
        candidate,
        metrics["logistic"],
        champion_auc,
        candidate["test"]["roc_auc"],
        params.gate,
        rolled_back,
    )
    client = registry.client()
    client.set_model_version_tag(name, challenger.version, "gate_passed", str(verdict.passed))
    client.set_model_version_tag(name, challenger.version, "gate_mode", verdict.mode)
    before = champion.version if champion else None
    if verdict.promote:
        reason = "passed the gate" if verdict.passed else f"gate mode {verdict.mode}"
        registry.promote(name, challenger.version, before, reason)
    after = registry.version_by_alias(name, registry.CHAMPION)

    gate = {
        "mode": verdict.mode,
        "passed": verdict.passed,
        "promoted": verdict.promote,
        "registered_model": name,
        "challenger_version": challenger.version,
        "champion_before": before,
        "champion_after": after.version if after else None,
        "criteria": [c.as_dict() for c in verdict.criteria],
        "failures": verdict.failures,
    }
    stage.write_json(GATE, gate)
    export_bundle(
        BUNDLE,
        f"models:/{name}/{after.version}" if after else None,
        registry.tag_json(after, "policy") if after else None,
        provenance_for(name, after) if after else {"version": None, "reason": "no champion yet"},
        contract_json_schema(build_contract(dataset)),
    )
    print(
        f"promote: challenger v{challenger.version} gate {'passed' if verdict.passed else 'FAILED'}"
        f" ({verdict.mode}); champion {before or '-'} -> {gate['champion_after'] or '-'}"
    )
    for line in verdict.failures:
        print(f"  gate: {line}")


if __name__ == "__main__":
    stage.run(main)
