"""`make retrain`: the pipeline again, on the recent window whose outcomes have matured.

Reads the monitor's decision (``reports/monitoring/drift.json``); unless it recommends
retraining (or ``--force``), stops there. Otherwise writes the recent months of the window
(replayed by the generator or captured by the service, whichever the monitor judged; outcomes
younger than the label horizon held back) to ``data/monitoring/retrain.parquet``, points
params.yaml at them (data source, snapshot date, split dates; see
:mod:`loanrisk.monitoring.retrain`) and runs `dvc repro`: the same
training, evaluation and gate. The champion changes only if the gate passes, and the gate
compares champion and challenger on the same recent rows. Commit params.yaml and dvc.lock
afterwards: a retrain is a release.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from loanrisk import stage
from loanrisk.errors import LoanriskError
from loanrisk.monitoring.retrain import prepare, reasons_to_retrain, set_params
from loanrisk.paths import DRIFT, RETRAIN, WINDOW
from loanrisk.project import load_project

PARAMS = Path("params.yaml")


def require(path: str) -> str:
    if not Path(path).is_file():
        raise LoanriskError(f"{path} not found: run `make repro` first (the monitor stage)")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="retrain without a recommendation")
    args = parser.parse_args()
    project = load_project()
    monitoring = stage.read_json(require(DRIFT))
    reasons = reasons_to_retrain(monitoring, args.force)
    if reasons is None:
        print(
            "retrain: the monitor does not recommend retraining "
            "(make retrain FORCE=1, or --force, retrains anyway)"
        )
        return
    for reason in reasons:
        print(f"retrain: because {reason}")
    cfg = project.params.monitor
    window = pd.read_parquet(require(WINDOW))
    chosen, rows = prepare(
        window, monitoring, project.dataset, RETRAIN, cfg.retrain_months, cfg.quality_window_months
    )
    stage.write_parquet(RETRAIN, rows)
    PARAMS.write_text(set_params(PARAMS.read_text(), chosen.params()))
    print(
        f"retrain: months {chosen.months[0]}..{chosen.months[-1]}: train from "
        f"{chosen.train_from}, validation from {chosen.valid_from}, test from {chosen.test_from}"
    )
    # ingest is forced: DVC does not track the source file, and its run cache would restore
    # the raw data of an earlier retrain with the same params.
    dvc = [sys.executable, "-m", "dvc", "repro"]
    done = subprocess.run([*dvc, "--force", "--single-item", "ingest"], check=False)
    if done.returncode == 0:
        done = subprocess.run(dvc, check=False)
    if done.returncode != 0:
        raise LoanriskError("retrain: `dvc repro` failed (see above)")
    print("retrain: done; review and commit params.yaml and dvc.lock (a retrain is a release)")


if __name__ == "__main__":
    stage.run(main)
