"""DVC stage `split`: out-of-time train/valid/test of the matured, validated applications."""

import pandas as pd

from loanrisk import stage
from loanrisk.config import load_params
from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.split import ensure_usable, out_of_time_split, split_report

VALID = "data/validated/applications.parquet"
SPLITS = "data/splits"
REPORT = "reports/split.json"


def main() -> None:
    params = load_params()
    matured_by = maturity_cutoff(params.data.as_of, params.problem.label_horizon_months)
    split = out_of_time_split(
        pd.read_parquet(VALID),
        params.split.valid_from,
        params.split.test_from,
        matured_by,
    )
    ensure_usable(split)
    for name, part in split.parts().items():
        stage.write_parquet(f"{SPLITS}/{name}.parquet", part)
    report = split_report(split)
    report["boundaries"] = {
        "valid_from": str(params.split.valid_from),
        "test_from": str(params.split.test_from),
        "matured_by": str(matured_by),
    }
    stage.write_json(REPORT, report)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in split.parts().items())
    print(f"split: {sizes} ({split.immature} not yet matured) -> {SPLITS}/")


if __name__ == "__main__":
    stage.run(main)
