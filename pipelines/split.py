"""DVC stage `split`: train/valid/test of the validated rows (out of time with a timestamp)."""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import pandas as pd

from loanrisk import stage
from loanrisk.data.contract import maturity_cutoff
from loanrisk.data.split import ensure_usable, out_of_time_split, split_report, stratified_split
from loanrisk.paths import SPLIT_REPORT, SPLITS, VALIDATED, split
from loanrisk.project import load_project


def main() -> None:
    project = load_project()
    params, dataset = project.params, project.dataset
    frame = pd.read_parquet(VALIDATED)
    boundaries: dict[str, str | float | None]
    if dataset.timestamp is not None:
        horizon = dataset.label.horizon_months
        matured_by = maturity_cutoff(params.data.as_of, horizon) if horizon else None
        gap = params.split.gap_months if params.split.gap_months is not None else horizon or 0
        parts = out_of_time_split(
            frame, dataset, params.split.valid_from, params.split.test_from, matured_by, gap
        )
        boundaries = {
            "valid_from": str(params.split.valid_from),
            "test_from": str(params.split.test_from),
            "gap_months": gap,
            "matured_by": str(matured_by) if matured_by is not None else None,
        }
    else:
        parts = stratified_split(
            frame, dataset, params.split.valid_share, params.split.test_share, params.seed
        )
        boundaries = {
            "valid_share": params.split.valid_share,
            "test_share": params.split.test_share,
        }
    ensure_usable(parts, dataset)
    for name, part in parts.parts().items():
        stage.write_parquet(split(name), part)
    report = split_report(parts, dataset)
    report["boundaries"] = boundaries
    stage.write_json(SPLIT_REPORT, report)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in parts.parts().items())
    print(f"split ({parts.strategy}): {sizes} ({parts.immature} unlabelled) -> {SPLITS}/")


if __name__ == "__main__":
    stage.run(main)
