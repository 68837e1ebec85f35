"""DVC stage `verdict`: the candidate judged alone against the gate's thresholds.

Writes reports/verdict.json: the criteria that need no champion (ROC-AUC, the uplift over
the logistic baseline, calibration, fairness, behaviour) and the candidate's fingerprint. It
depends only on data, params and code, so `dvc repro` on a fresh clone reproduces it byte
for byte; the comparison with a champion belongs to one MLflow store and is the `release`
stage's.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from loanrisk import paths, stage
from loanrisk.config import load_params
from loanrisk.models.canonical import fingerprint
from loanrisk.registry.gate import alone


def main() -> None:
    gate = load_params().gate
    metrics = stage.read_json(paths.METRICS)
    judged = alone(fingerprint(paths.CANDIDATE), metrics["candidate"], metrics["logistic"], gate)
    stage.write_json(paths.VERDICT, judged)
    print(f"verdict: the candidate alone {'passes' if judged['passed'] else 'FAILS'} the gate")


if __name__ == "__main__":
    stage.run(main)
