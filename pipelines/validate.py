"""DVC stage `validate`: check the raw batch against the contract, quarantine the bad rows.

Writes data/validated/, data/quarantine/, reports/validation.json and reports/validation.md,
then fails (exit 1, one line) if the batch is broken or too much of it was quarantined.
"""

import pandas as pd

from loanrisk import stage
from loanrisk.config import load_params
from loanrisk.data.contract import contract_for
from loanrisk.data.validation import ensure_acceptable, summary_markdown, validate_batch

RAW = "data/raw/applications.parquet"
VALID = "data/validated/applications.parquet"
QUARANTINE = "data/quarantine/applications.parquet"
REPORT = "reports/validation.json"
SUMMARY = "reports/validation.md"


def main() -> None:
    params = load_params()
    schema = contract_for(
        params.data.as_of,
        params.problem.label_horizon_months,
        params.contract.max_staleness_days,
    )
    result = validate_batch(pd.read_parquet(RAW), schema)
    report = result.report()
    stage.write_parquet(VALID, result.valid)
    stage.write_parquet(QUARANTINE, stage.parquet_safe(result.quarantine))
    stage.write_json(REPORT, report)
    stage.write_text(SUMMARY, summary_markdown(report))
    print(
        f"validate: {report['rows_valid']} valid, {report['rows_quarantined']} quarantined "
        f"of {report['rows_in']} -> {VALID}, {QUARANTINE}"
    )
    ensure_acceptable(result, params.contract.max_quarantine_share)


if __name__ == "__main__":
    stage.run(main)
