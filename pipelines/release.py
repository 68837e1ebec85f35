"""DVC stage `release`: log the documents to the candidate's run, register it, compare it with
the champion, maybe crown it, and export the champion's serving bundle with its card
(:mod:`loanrisk.registry.release`).

Writes reports/release.json (a DVC output: what was offered, the same bytes on every clone)
and, git-ignored and not DVC outputs since they belong to one MLflow store,
reports/gate.json (the versions, the comparison, the champion before and after) and
models/champion/ (the bundle the service loads). Under `dvc exp run` (DVC sets
DVC_EXP_NAME) the champion never moves.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import os
import warnings
from pathlib import Path

import pandas as pd

from loanrisk import paths, stage, tracking
from loanrisk.models.canonical import fingerprint
from loanrisk.project import load_project
from loanrisk.registry.release import Candidate, offered, release


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    # What was offered is written last: a release killed or refused half-way leaves none, so
    # the next `dvc repro` runs the release again (persist: DVC itself would keep the old).
    Path(paths.RELEASE).unlink(missing_ok=True)
    project = load_project()
    metrics = stage.read_json(paths.METRICS)
    model = tracking.load_model(paths.CANDIDATE)
    fp = fingerprint(paths.CANDIDATE)
    candidate = Candidate(model, fp, metrics["candidate"], metrics["logistic"])
    documents = paths.documents(project.registered_model, project.dataset.name)
    experiment = os.environ.get("DVC_EXP_NAME") or None
    test = pd.read_parquet(paths.TEST)
    record = release(project, candidate, test, experiment=experiment, documents=documents)
    stage.write_json(paths.GATE, record)
    stage.write_json(paths.RELEASE, offered(candidate, documents))
    outcome = {None: "not needed: it is the champion already", True: "passed", False: "FAILED"}
    print(
        f"release: challenger v{record['challenger_version']}"
        f"{'' if record['registered_now'] else ' (already registered)'} gate "
        f"{outcome[record['passed']]} ({record['mode']}); "
        f"champion {record['champion_before'] or '-'} -> {record['champion_after'] or '-'}"
        + (f" [experiment {experiment}]" if experiment else "")
    )
    for line in record["failures"]:
        print(f"  gate: {line}")
    print(f"release: the champion's bundle, card included, is in {paths.CHAMPION}")


if __name__ == "__main__":
    stage.run(main)
