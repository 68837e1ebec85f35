"""Validate a batch against the contract: split it into valid and quarantined rows, and report.

Validation is lazy: every failure of every row is collected, so one report tells the data
owner everything that is wrong at once. Rows are never dropped silently: each input row ends
up either in ``valid`` or in ``quarantine`` with the checks it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pandera.pandas as pa

from loanrisk import stage
from loanrisk.errors import ContractError

FAILED_CHECKS = "failed_checks"
EXAMPLES_PER_FAILURE = 5
STRUCTURAL_CHECKS = ("column_in_dataframe", "column_in_schema")


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating one batch."""

    valid: pd.DataFrame
    quarantine: pd.DataFrame
    failures: list[dict[str, Any]] = field(default_factory=list)
    batch_errors: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return len(self.valid) + len(self.quarantine)

    @property
    def quarantined_share(self) -> float:
        return len(self.quarantine) / self.rows_in if self.rows_in else 0.0

    def report(self) -> dict[str, Any]:
        """The validation report, as written to `reports/validation.json`."""
        return {
            "rows_in": self.rows_in,
            "rows_valid": len(self.valid),
            "rows_quarantined": len(self.quarantine),
            "quarantined_share": round(self.quarantined_share, 6),
            "batch_errors": self.batch_errors,
            "failures": self.failures,
        }


def validate_batch(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> ValidationResult:
    """Split ``frame`` into rows that satisfy ``schema`` and rows that do not.

    When the batch is broken as a whole (a column missing or unexpected, a column unreadable
    as its type in any row, a batch-level rule such as freshness failing) no row can be
    trusted: every row is quarantined and ``batch_errors`` names the cause, which
    :func:`ensure_acceptable` then raises as a :class:`ContractError`.
    """
    frame = frame.reset_index(drop=True)
    id_column = next((name for name, c in schema.columns.items() if c.unique), None)
    validated, cases = _attempt(schema, frame)
    if validated is not None:
        return ValidationResult(valid=validated, quarantine=_empty(frame))
    assert cases is not None
    row_cases = _row_cases(cases, id_column)
    structural = _columns_unreadable_everywhere(row_cases, len(frame))
    unreadable = row_cases[row_cases["check"].astype(str).str.startswith("coerce_dtype")]
    if not structural and not unreadable.empty:
        # A value that cannot be read as its type makes the column's other checks raise for the
        # whole batch; judge the rest of the batch without those rows.
        rest = frame.loc[~frame.index.isin(unreadable["index"])]
        _, rest_cases = _attempt(schema, rest)
        cases = rest_cases if rest_cases is not None else cases.iloc[0:0]
        row_cases = pd.concat([unreadable, _row_cases(cases, id_column)], ignore_index=True)
    batch_errors = []
    for case in cases[cases["index"].isna()].itertuples():
        message = _describe_batch_case(case)
        if case.check in STRUCTURAL_CHECKS:
            structural.append(message)
        batch_errors.append(message)
    if structural or batch_errors:
        # A missing or unreadable column makes other checks fail too; name only the cause.
        reasons = structural or batch_errors
        return _whole_batch_quarantined(frame, reasons, _group_failures(row_cases))

    bad = pd.Index(row_cases["index"].unique())
    quarantine = frame.loc[frame.index.isin(bad)].copy()
    quarantine[FAILED_CHECKS] = _checks_per_row(row_cases).reindex(quarantine.index)
    good = frame.loc[~frame.index.isin(bad)]
    if good.empty:
        return ValidationResult(
            valid=good.copy(), quarantine=quarantine, failures=_group_failures(row_cases)
        )
    valid, good_cases = _attempt(schema, good)
    if valid is None:  # only batch-level rules can fail on the good rows
        assert good_cases is not None
        reasons = [_describe_batch_case(row) for row in good_cases.itertuples()]
        return _whole_batch_quarantined(frame, reasons, _group_failures(row_cases))
    return ValidationResult(
        valid=valid.reset_index(drop=True),
        quarantine=quarantine.reset_index(drop=True),
        failures=_group_failures(row_cases),
    )


def ensure_acceptable(
    result: ValidationResult,
    max_quarantine_share: float,
    declaration: str = "the contract",
    report: str | None = None,
) -> None:
    """Raise :class:`ContractError` when the batch is broken or too much of it is quarantined.

    ``declaration`` names where the contract comes from, so the message says which file to
    compare the data with; ``report``, where the rows and their reasons were written. An
    empty batch is said to be empty, not stale (its freshness check fails too).
    """
    if result.rows_in == 0:
        raise ContractError(
            f"the batch has no rows: nothing to validate against {declaration} "
            "(check the source's path and filter)"
        )
    if result.batch_errors:
        raise ContractError(
            f"the batch breaks the contract of {declaration} as a whole: "
            + "; ".join(result.batch_errors)
            + " (fix the data or the declaration; details in the validation report)"
        )
    if result.quarantined_share > max_quarantine_share:
        worst = result.failures[0] if result.failures else None
        common = (
            f"; most common: {_check_label(worst['column'], worst['check'])} "
            f"in {worst['rows']} rows"
            if worst
            else ""
        )
        where = f"; every row and its reason: {report}" if report else ""
        raise ContractError(
            f"{len(result.quarantine)} of {result.rows_in} rows quarantined "
            f"({result.quarantined_share:.1%} > {max_quarantine_share:.1%} allowed by "
            f"contract.max_quarantine_share){common}{where}"
        )


def _whole_batch_quarantined(
    frame: pd.DataFrame, reasons: list[str], failures: list[dict[str, Any]]
) -> ValidationResult:
    quarantine = frame.copy()
    quarantine[FAILED_CHECKS] = "batch: " + "; ".join(reasons)
    return ValidationResult(
        valid=frame.iloc[0:0].copy(),
        quarantine=quarantine,
        failures=failures,
        batch_errors=reasons,
    )


def _attempt(
    schema: pa.DataFrameSchema, frame: pd.DataFrame
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The validated (coerced) frame, or every failure as pandera's table: exactly one."""
    try:
        return schema.validate(frame, lazy=True), None
    except pa.errors.SchemaErrors as exc:
        cases: pd.DataFrame = exc.failure_cases
        return None, cases


def _row_cases(cases: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    """Failures that name a row, one per (row, column, check).

    A row-wise dataframe check (a cross-column rule) is reported by pandera once per column
    of the failing row; keep one case per row, with no column, showing the row's id (the
    contract's unique column).
    """
    rows = cases[cases["index"].notna()].copy()
    rows["index"] = rows["index"].astype("int64")
    by_frame = rows["schema_context"] == "DataFrameSchema"
    frame_cases = rows[by_frame].sort_values("column", key=lambda c: c != id_column, kind="stable")
    frame_cases = frame_cases.drop_duplicates(["index", "check"]).assign(column=None)
    return pd.concat([rows[~by_frame], frame_cases], ignore_index=True)


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.iloc[0:0].copy()
    out[FAILED_CHECKS] = pd.Series(dtype="str")
    return out


def _check_label(column: Any, check: Any) -> str:
    return f"{column}:{check}" if isinstance(column, str) and column else str(check)


def _checks_per_row(cases: pd.DataFrame) -> pd.Series:
    labels = [_check_label(c, k) for c, k in zip(cases["column"], cases["check"], strict=True)]
    return (
        pd.Series(labels, index=cases["index"].to_numpy())
        .groupby(level=0)
        .agg(lambda s: "; ".join(sorted(set(s))))
    )


def _group_failures(cases: pd.DataFrame) -> list[dict[str, Any]]:
    groups = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
        examples = group["failure_case"].drop_duplicates().head(EXAMPLES_PER_FAILURE)
        groups.append(
            {
                "column": column if isinstance(column, str) else None,
                "check": str(check),
                "rows": int(group["index"].nunique()),
                "examples": [_plain(v) for v in examples],
            }
        )
    # Most rows first; a named column before a cross-column rule of the same size.
    groups.sort(key=lambda g: (-cast(int, g["rows"]), g["column"] is None, str(g["column"])))
    return groups


def _columns_unreadable_everywhere(cases: pd.DataFrame, n_rows: int) -> list[str]:
    coerce = cases[cases["check"].astype(str).str.startswith("coerce_dtype")]
    errors = []
    for column, group in coerce.groupby("column"):
        if n_rows and group["index"].nunique() == n_rows:
            errors.append(
                f"column {column!r} cannot be read as {group['check'].iloc[0]} in any row"
            )
    return errors


def _describe_batch_case(case: Any) -> str:
    column = getattr(case, "column", None) if case.schema_context == "Column" else None
    check = getattr(case, "check", None)
    failure = getattr(case, "failure_case", None)
    if check == "column_in_dataframe":
        return f"column {failure!r} is missing"
    if check == "column_in_schema":
        return f"column {failure!r} is not in the contract"
    where = f"column {column!r}: " if isinstance(column, str) and column else ""
    return f"{where}{check} failed" + (f" ({failure})" if failure not in (False, None) else "")


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def summary_markdown(report: dict[str, Any]) -> str:
    """A short human summary of the validation report."""
    lines = [
        "# Validation report",
        "",
        f"- rows in: {report['rows_in']}",
        f"- rows valid: {report['rows_valid']}",
        f"- rows quarantined: {report['rows_quarantined']} ({report['quarantined_share']:.2%})",
        "",
    ]
    if report["failures"]:
        lines += ["| column | check | rows | examples |", "|---|---|---|---|"]
        for f in report["failures"]:
            examples = ", ".join(str(e) for e in f["examples"])
            lines.append(f"| {f['column'] or '(row)'} | {f['check']} | {f['rows']} | {examples} |")
    else:
        lines.append("Every row satisfies the contract.")
    return "\n".join(lines) + "\n"


def write_outputs(
    result: ValidationResult,
    valid: Path,
    quarantine: Path,
    report: Path,
    summary: Path,
    *,
    accepted: bool = True,
) -> dict[str, Any]:
    """Write the four outputs of a validation (the stage and the CLI alike); return the report.

    A batch that is not ``accepted`` (:func:`ensure_acceptable` refused it) gets its report
    and its quarantine, which say why, and no validated rows: ``valid`` is removed, so that
    nothing downstream can read a refused batch, or an older one, as good. The one place that
    touches files here: everything above is pure.
    """
    payload = result.report()
    if accepted:
        stage.write_parquet(valid, result.valid)
    else:
        valid.unlink(missing_ok=True)
    stage.write_parquet(quarantine, stage.parquet_safe(result.quarantine))
    stage.write_json(report, payload)
    stage.write_text(summary, summary_markdown(payload))
    return payload
