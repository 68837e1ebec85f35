"""DVC stage `promote`: judge the candidate, register it, and on the main line maybe crown it.

Writes two kinds of output, kept apart on purpose:

- `reports/verdict.json` (a DVC output): the candidate judged alone, against the gate's
  thresholds, with its fingerprint. It depends only on data, params and code, so `dvc repro`
  on a fresh clone reproduces it byte for byte.
- `reports/gate.json` and `models/champion/` (git-ignored, not DVC outputs): what happened in
  this MLflow store: the version registered, the comparison with this store's champion
  (a paired bootstrap interval), the champion before and after, and the champion's serving
  bundle. They belong to one store, so they stay out of DVC's lock file.

A failed gate is a result, not an error: the stage succeeds and the champion stays. Under
`dvc exp run` (DVC sets DVC_EXP_NAME) the champion never moves: an experiment at most
registers its model, tagged with the experiment's name. A model already registered (same
fingerprint: same data, params and code) is not registered again.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import os
import tempfile
import warnings
from typing import Any

import mlflow
import pandas as pd

from loanrisk import stage, tracking
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.data.declaration import Declaration
from loanrisk.errors import RegistryError
from loanrisk.evaluation.metrics import paired_auc_difference, paired_cost_difference
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.models.canonical import fingerprint
from loanrisk.project import Project, load_project
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_version
from loanrisk.registry.gate import ChampionComparison, Interval, candidate_criteria, judge
from loanrisk.scoring import labels, score

METRICS = "reports/metrics.json"
CANDIDATE = "models/candidate"
TEST = "data/splits/test.parquet"
VERDICT = "reports/verdict.json"
GATE = "reports/gate.json"
BUNDLE = "models/champion"
EXPERIMENT = "DVC_EXP_NAME"


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


def compare_with_champion(
    project: Project, champion: Any, candidate_scores: Any, test: pd.DataFrame
) -> ChampionComparison:
    """The champion scored on the same test rows; the paired intervals of the differences
    in decision cost (at the cost-optimal threshold) and in ROC-AUC."""
    params, dataset = project.params, project.dataset
    champion_model = _registered_model(project.registered_model, str(champion.version), dataset)
    y = labels(test, dataset)
    champion_scores = score(champion_model, test, dataset)
    samples, seed = params.evaluate.bootstrap_samples, params.seed
    costs = params.problem
    threshold = cost_optimal_threshold(costs.cost_approve_default, costs.cost_reject_good)
    cost = paired_cost_difference(
        y,
        candidate_scores,
        champion_scores,
        threshold,
        costs.cost_approve_default,
        costs.cost_reject_good,
        samples,
        seed,
    )
    auc = paired_auc_difference(y, candidate_scores, champion_scores, samples, seed)
    return ChampionComparison(str(champion.version), Interval(*cost), Interval(*auc))


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    project = load_project()
    params, dataset = project.params, project.dataset
    name = project.registered_model
    experiment = os.environ.get(EXPERIMENT) or None
    metrics = stage.read_json(METRICS)
    candidate = metrics["candidate"]
    fp = fingerprint(CANDIDATE)

    alone = candidate_criteria(candidate, metrics["logistic"], params.gate)
    stage.write_json(
        VERDICT,
        {
            "fingerprint": fp,
            "passed": all(c.passed for c in alone),
            "criteria": [c.as_dict() for c in alone],
        },
    )

    tracking.configure(project.experiment)
    champion = registry.version_by_alias(name, registry.CHAMPION)
    challenger = registry.version_with_fingerprint(name, fp, candidate["policy"])
    registered = challenger is None
    if challenger is None:
        run_id = tracking.find_run("candidate", fp)
        with tracking.store_errors():
            run = mlflow.get_run(run_id)
        tags = {
            "run_id": run_id,
            "git_commit": run.data.tags.get("git_commit"),
            "data_md5": run.data.tags.get("data_md5"),
            registry.FINGERPRINT: fp,
            "policy": candidate["policy"],
            "metrics": candidate["test"],
        }
        if experiment:
            tags["experiment"] = experiment
        challenger = registry.register_challenger(
            name, run.data.tags["model_uri"], tags, alias=experiment is None
        )

    record: dict[str, Any] = {
        "registered_model": name,
        "fingerprint": fp,
        "experiment": experiment,
        "challenger_version": challenger.version,
        "registered_now": registered,
        "champion_before": champion.version if champion else None,
    }
    if champion is not None and champion.version == challenger.version:
        record.update(
            mode=params.gate.mode,
            passed=None,
            promoted=False,
            reason="the candidate is the champion already (same fingerprint and policy): "
            "nothing to judge",
            criteria=[c.as_dict() for c in alone],
            failures=[],
        )
    else:
        test = pd.read_parquet(TEST)
        comparison = None
        if champion is not None:
            p = score(tracking.load_model(CANDIDATE), test, dataset)
            comparison = compare_with_champion(project, champion, p, test)
        rolled_back = fp in registry.rolled_back_fingerprints(name)
        verdict = judge(candidate, metrics["logistic"], comparison, params.gate, rolled_back)
        promote = verdict.promote and experiment is None
        with tracking.store_errors():
            client = registry.client()
            client.set_model_version_tag(
                name, challenger.version, "gate_passed", str(verdict.passed)
            )
            client.set_model_version_tag(name, challenger.version, "gate_mode", verdict.mode)
        if promote:
            reason = "passed the gate" if verdict.passed else f"gate mode {verdict.mode}"
            registry.promote(name, challenger.version, record["champion_before"], reason)
        reason = (
            f"experiment {experiment}: an experiment never moves the champion"
            if experiment
            else "promoted"
            if promote
            else "kept the champion"
        )
        record.update(
            mode=verdict.mode,
            passed=verdict.passed,
            promoted=promote,
            reason=reason,
            comparison=comparison.as_dict() if comparison else None,
            criteria=[c.as_dict() for c in verdict.criteria],
            failures=verdict.failures,
        )
    after = registry.version_by_alias(name, registry.CHAMPION)
    record["champion_after"] = after.version if after else None
    stage.write_json(GATE, record)
    export_version(BUNDLE, name, after, contract_json_schema(build_contract(dataset)))
    outcome = {
        None: "not needed: it is the champion already",
        True: "passed",
        False: "FAILED",
    }[record["passed"]]
    print(
        f"promote: challenger v{challenger.version}"
        f"{'' if registered else ' (already registered)'} gate {outcome} ({record['mode']}); "
        f"champion {record['champion_before'] or '-'} -> {record['champion_after'] or '-'}"
        + (f" [experiment {experiment}]" if experiment else "")
    )
    for line in record["failures"]:
        print(f"  gate: {line}")


if __name__ == "__main__":
    stage.run(main)
