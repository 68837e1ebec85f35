"""The `loanrisk` command: the work that lives outside the DVC pipeline.

Examples::

    loanrisk generate batch.parquet --scenario null_feed
    loanrisk validate batch.parquet
    loanrisk generate december.csv --start 2024-12-01 --months 1 --rows 4000 --scenario recession
    loanrisk check-params
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from loanrisk import paths, stage
from loanrisk.config import SCENARIOS, load_params
from loanrisk.errors import LoanriskError
from loanrisk.project import load_project

app = typer.Typer(
    help="Loan default risk: the lifecycle commands that live outside `dvc repro`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ParamsOption = Annotated[
    Path, typer.Option("--params", help="The params file that supplies defaults.")
]


def _parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date like 2024-12-01"
        raise typer.BadParameter(message, param_hint=option) from None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@app.command(
    epilog="Example: loanrisk generate batch.parquet --scenario null_feed --rows 5000",
)
def generate(
    out: Annotated[Path, typer.Argument(help="Where to write the batch (.parquet or .csv).")],
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "none",
    start: Annotated[
        str | None, typer.Option(help="First month (default: the months before as-of).")
    ] = None,
    months: Annotated[int, typer.Option(min=1, help="How many monthly batches.")] = 1,
    rows: Annotated[int, typer.Option(min=1, help="Applications in all.")] = 5000,
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot date (default: data.as_of from params).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: seed from params).")] = None,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Generate a batch of loan applications, optionally under a scenario.

    The generator makes the data declared in datasets/loans.yaml, whatever dataset params.yaml
    names; params supply only the seed and the snapshot date.
    """
    from loanrisk.data.declaration import load_declaration
    from loanrisk.data.generator import DECLARATION, GeneratorSpec
    from loanrisk.data.generator import generate as generate_applications

    if scenario not in SCENARIOS:
        raise typer.BadParameter(
            f"{scenario!r} is not one of {', '.join(SCENARIOS)}", param_hint="--scenario"
        )
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter("the file must end in .parquet or .csv", param_hint="OUT")
    params = load_params(params_path)
    snapshot = _parse_date(as_of, "--as-of") if as_of else params.data.as_of
    first = (
        _parse_date(start, "--start")
        if start
        else (pd.Timestamp(snapshot) - pd.DateOffset(months=months)).date()
    )
    spec = GeneratorSpec(
        seed=params.seed if seed is None else seed,
        start=first,
        months=months,
        n_applications=rows,
        as_of=snapshot,
        label_horizon_months=load_declaration(DECLARATION).label.horizon_months or 0,
        scenario=scenario,
    )
    frame = generate_applications(spec, on_month=lambda m: _progress(f"generating {m:%Y-%m} ..."))
    with stage.atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    print(f"wrote {len(frame)} applications ({scenario}) to {out}")


@app.command(
    epilog="Example: loanrisk validate batch.parquet --out-dir reports/adhoc",
)
def validate(
    source: Annotated[str, typer.Argument(help="A .csv/.parquet path or http(s) URL.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Where to write the report and the split rows (default: beside none)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot date (default: data.as_of from params).")
    ] = None,
    max_quarantine_share: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Fail above this share (default: from params)."),
    ] = None,
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Validate a batch against the data contract; exit 1 if it is not acceptable."""
    from loanrisk.data.contract import contract_for
    from loanrisk.data.readers import read_table
    from loanrisk.data.validation import ensure_acceptable, validate_batch, write_outputs

    project = load_project(params_path)
    params, dataset = project.params, project.dataset
    snapshot = _parse_date(as_of, "--as-of") if as_of else params.data.as_of
    share = (
        params.contract.max_quarantine_share
        if max_quarantine_share is None
        else max_quarantine_share
    )
    _progress(f"reading {source} ...")
    frame = read_table(source, dataset.timestamp.column if dataset.timestamp else None)
    _progress(f"validating {len(frame)} rows against the contract of {dataset.where()} ...")
    schema = contract_for(dataset, snapshot, params.contract.max_staleness_days)
    result = validate_batch(frame, schema)
    report = result.report()
    if out_dir is not None:
        names = ("valid.parquet", "quarantine.parquet", "validation.json", "validation.md")
        write_outputs(result, *(out_dir / name for name in names))
    print(
        f"{report['rows_valid']} valid, {report['rows_quarantined']} quarantined "
        f"of {report['rows_in']} rows" + (f" (report in {out_dir})" if out_dir else "")
    )
    for failure in report["failures"][:10]:
        where = failure["column"] or "(row)"
        examples = failure["examples"][:3]
        print(f"  {where}: {failure['check']} in {failure['rows']} rows, e.g. {examples}")
    ensure_acceptable(result, share, dataset.where(), str(out_dir) if out_dir else None)


@app.command(
    epilog='Example: loanrisk rollback --reason "approval rate fell after v7" --by alice',
)
def rollback(
    reason: Annotated[str, typer.Option(help="Why: kept as a tag on both versions.")],
    by: Annotated[
        str | None, typer.Option(help="Who (default: the USER environment variable).")
    ] = None,
    export: Annotated[
        bool, typer.Option(help="Re-export models/champion/ for the restored version.")
    ] = True,
    bundle_dir: Annotated[Path, typer.Option(help="Where the serving bundle lives.")] = Path(
        paths.CHAMPION
    ),
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Move the champion alias back to the previous champion version."""
    import os

    from loanrisk import tracking
    from loanrisk.registry import registry
    from loanrisk.registry.release import export_champion

    project = load_project(params_path)
    name = project.registered_model
    tracking.configure(project.experiment)
    who = by or os.environ.get("USER") or "unknown"
    moved = registry.rollback(name, who, reason)
    print(f"champion of {name}: v{moved.from_version} -> v{moved.to_version} (by {who})")
    if export:
        exported = export_champion(project, bundle_dir)
        print(f"exported v{exported} to {bundle_dir}")


@app.command(epilog="Example: loanrisk erase A202411-000042 --captures captures")
def erase(
    application_id: Annotated[str, typer.Argument(help="The application id to erase.")],
    captures: Annotated[
        Path, typer.Option(help="The service's capture directory (LOANRISK_CAPTURE_DIR).")
    ] = Path(paths.CAPTURES),
    params_path: ParamsOption = Path("params.yaml"),
) -> None:
    """Remove every captured record (predictions and outcomes) of one application."""
    from loanrisk.monitoring.captures import erase as erase_records

    if not captures.is_dir():
        raise LoanriskError(f"{captures}: no such capture directory")
    id_column = load_project(params_path).dataset.id.column
    removed = erase_records(captures, application_id, id_column)
    print(f"erased {removed} record{'' if removed == 1 else 's'} of {application_id} in {captures}")


@app.command(name="check-params", epilog="Example: loanrisk check-params --params params.yaml")
def check_params(params_path: ParamsOption = Path("params.yaml")) -> None:
    """Load and check params.yaml and the dataset declaration it names; print what the
    pipeline will read."""
    project = load_project(params_path)
    params, dataset = project.params, project.dataset
    if params.data.uses_generator:
        source = (
            f"the generator, size {params.data.size}: {params.data.n_applications} rows, "
            f"scenario {params.data.scenario}"
        )
    else:
        source = params.data.source
    print(
        f"{params_path}: ok (dataset {dataset.name} from {dataset.where()}; source {source}; "
        f"model {project.registered_model}; gate {params.gate.mode})"
    )


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    stage.run(app)


if __name__ == "__main__":
    main()
