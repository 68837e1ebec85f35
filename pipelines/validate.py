"""DVC stage `validate`: check the raw batch against the contract, quarantine the bad rows.

Writes data/validated/, data/quarantine/, reports/validation.json and reports/validation.md;
when the batch is broken or too much of it was quarantined, writes the quarantine and the
reports (which say why) but no data/validated/, and fails (exit 1, one line).
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from pathlib import Path

import pandas as pd

from loanrisk import stage
from loanrisk.data.contract import contract_for
from loanrisk.data.validation import ensure_acceptable, validate_batch, write_outputs
from loanrisk.errors import ContractError
from loanrisk.paths import QUARANTINE, RAW, VALIDATED, VALIDATION, VALIDATION_SUMMARY
from loanrisk.project import load_project


def main() -> None:
    project = load_project()
    params = project.params
    schema = contract_for(project.dataset, params.data.as_of, params.contract.max_staleness_days)
    result = validate_batch(pd.read_parquet(RAW), schema)
    outputs = tuple(map(Path, (VALIDATED, QUARANTINE, VALIDATION, VALIDATION_SUMMARY)))
    try:
        ensure_acceptable(
            result,
            params.contract.max_quarantine_share,
            project.dataset.where(),
            f"{VALIDATION_SUMMARY} and {QUARANTINE}",
        )
    except ContractError:
        write_outputs(result, *outputs, accepted=False)  # the reasons, and no batch to split
        raise
    report = write_outputs(result, *outputs)
    print(
        f"validate: {report['rows_valid']} valid, {report['rows_quarantined']} quarantined "
        f"of {report['rows_in']} -> {VALIDATED}, {QUARANTINE}"
    )


if __name__ == "__main__":
    stage.run(main)
