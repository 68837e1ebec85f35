"""The data contract: a pandera schema built from the dataset declaration.

The validate stage enforces it lazily (every failure of every row collected, bad rows
quarantined), and the serving bundle carries it as JSON Schema. Whatever else needs the
columns (an API's request model, a datasheet's column table) derives them from the schema
built here rather than retyping them.

Row-level failures (a value out of range, a category never agreed on, a null where none is
allowed, a duplicate id, a cross-column rule broken) quarantine the row. A missing or
unexpected column breaks the batch as a whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from loanrisk.data.declaration import Column, Declaration

_DTYPES = {"float": float, "integer": int, "boolean": bool, "category": str}


def build_contract(declaration: Declaration) -> pa.DataFrameSchema:
    """The static contract of ``declaration``: columns, types, domains and cross-column rules.

    Strict (no column beyond the declared ones) and coercing (a CSV's text becomes the
    declared type), with parsers that run before coercion: plain coercion would silently
    accept a bad value ("maybe" and null cast to bool are True, 30.5 cast to int is 30). Each
    parser turns a value it cannot read exactly into a null (or, for the label, an
    out-of-set value), so coercion or a check quarantines that row, and only that row.
    """
    d = declaration
    columns: dict[str, pa.Column] = {
        d.id.column: pa.Column(
            str,
            checks=[pa.Check.str_matches(d.id.pattern)] if d.id.pattern else [],
            unique=True,
            description=d.id.description or "Unique id of the row.",
        )
    }
    if d.timestamp is not None:
        columns[d.timestamp.column] = pa.Column(
            pd.Timestamp, description=d.timestamp.description or "When the row was recorded."
        )
    for name, column in d.columns.items():
        protected = " (protected)" if name in d.protected else ""
        columns[name] = _column(column, (column.description or name) + protected)
    columns[d.label.column] = pa.Column(
        "Int8",
        checks=[pa.Check.isin((0, 1))],
        parsers=[pa.Parser(_label_parser(d.label.positive, d.label.negative))],
        nullable=True,
        description=(d.label.description or "The label.")
        + f" Stored as 1 for {d.label.positive!r}, 0 for {d.label.negative!r}.",
    )
    rules = [pa.Check(rule.holds, name=rule.name, description=rule.description) for rule in d.rules]
    return pa.DataFrameSchema(
        columns,
        checks=rules,
        coerce=True,
        strict=True,
        unique_column_names=True,
        name=d.name,
        description=d.description,
    )


def _column(column: Column, description: str) -> pa.Column:
    checks: list[pa.Check] = []
    if column.range is not None:
        checks += [pa.Check.ge(column.range[0]), pa.Check.le(column.range[1])]
    if column.values:
        checks.append(pa.Check.isin(column.values))
    if column.categories:
        checks.append(pa.Check.isin(column.categories))
    parsers = []
    if column.type == "integer":
        parsers.append(pa.Parser(_whole_numbers))
    elif column.type == "boolean":
        parsers.append(pa.Parser(_strict_bool))
    return pa.Column(
        _DTYPES[column.type],
        checks=checks,
        parsers=parsers,
        nullable=column.nullable,
        description=description,
    )


def _whole_numbers(series: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(series.dtype):
        return series
    numbers = pd.to_numeric(series, errors="coerce")
    return numbers.where(numbers == numbers.round())


def _strict_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.map(_as_bool).astype("boolean")


def _label_parser(positive: Any, negative: Any) -> Any:
    """1 for the positive value, 0 for the negative one, null stays null, anything else -1
    (which the label's ``isin`` check then quarantines)."""

    def parse(series: pd.Series) -> pd.Series:
        if pd.api.types.is_integer_dtype(series.dtype) and (positive, negative) == (1, 0):
            return series
        values = series.astype(object)
        missing = series.isna().to_numpy()
        is_positive = _equals(values, positive) & ~missing
        is_negative = _equals(values, negative) & ~missing
        codes = np.where(is_positive, 1, np.where(is_negative, 0, -1))
        return pd.Series(codes, index=series.index, dtype="Int8").mask(missing)

    return parse


def _equals(values: pd.Series, target: Any) -> Any:
    """Element-wise equality that reads "1" and 1.0 as 1 and "true" as True, as a CSV needs."""
    if isinstance(target, bool):
        return values.map(_as_bool).eq(target).fillna(False).to_numpy(dtype=bool)
    if isinstance(target, (int, float)):
        numbers = pd.to_numeric(values, errors="coerce")
        return (numbers == target).fillna(False).to_numpy(dtype=bool)
    return (values.astype(str).str.strip() == str(target)).to_numpy(dtype=bool)


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _as_bool(value: Any) -> Any:
    """True or False for the usual spellings of a boolean; NA for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return pd.NA


def maturity_cutoff(as_of: dt.date, label_horizon_months: int) -> pd.Timestamp:
    """Rows stamped on or before this instant have a known outcome at ``as_of``.

    The one definition of label maturity: the generator hides younger labels, the contract
    refuses them, the split keeps only older rows.
    """
    return pd.Timestamp(as_of) - pd.DateOffset(months=label_horizon_months)


def contract_for(
    declaration: Declaration, as_of: dt.date, max_staleness_days: int
) -> pa.DataFrameSchema:
    """The contract for a batch snapshotted on ``as_of``: the static schema plus time rules.

    With a timestamp declared:

    - no row from the future (row level);
    - no label before it could be known: the label must be null for rows younger than the
      label horizon (row level; only when the declaration gives a horizon);
    - freshness: the newest row is at most ``max_staleness_days`` old (batch level).

    Without a timestamp none of these can be judged, and the static schema is the contract.
    """
    schema = build_contract(declaration)
    if declaration.timestamp is None:
        return schema
    stamp, label = declaration.timestamp.column, declaration.label.column
    as_of_ts = pd.Timestamp(as_of)

    def not_in_future(df: pd.DataFrame) -> pd.Series:
        return ~(df[stamp] > as_of_ts)  # a null is reported by not_nullable alone

    def fresh(df: pd.DataFrame) -> bool:
        newest = df[stamp].max()
        return bool(pd.notna(newest) and as_of_ts - newest <= pd.Timedelta(days=max_staleness_days))

    rules = [pa.Check(not_in_future, name="timestamp_not_in_future")]
    horizon = declaration.label.horizon_months
    if horizon is not None:
        maturity = maturity_cutoff(as_of, horizon)

        def label_not_before_maturity(df: pd.DataFrame) -> pd.Series:
            return df[label].isna() | (df[stamp] <= maturity)

        rules.append(pa.Check(label_not_before_maturity, name="label_not_before_maturity"))
    rules.append(pa.Check(fresh, name=f"newest_row_within_{max_staleness_days}_days_of_as_of"))
    return _with_checks(schema, rules)


def _with_checks(schema: pa.DataFrameSchema, checks: list[pa.Check]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        columns=schema.columns,
        checks=[*schema.checks, *checks],
        index=schema.index,
        coerce=schema.coerce,
        strict=schema.strict,
        name=schema.name,
        unique_column_names=schema.unique_column_names,
        description=schema.description,
    )


@dataclass(frozen=True)
class Domain:
    """What one contract column allows, read off its pandera checks: the one reading of them
    that the JSON Schema export and the service's request model share."""

    minimum: Any = None
    maximum: Any = None
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None


def domain(column: pa.Column) -> Domain:
    """The bounds, allowed values and pattern of ``column``."""
    found: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics
        if check.name == "greater_than_or_equal_to":
            found["minimum"] = stats["min_value"]
        elif check.name == "less_than_or_equal_to":
            found["maximum"] = stats["max_value"]
        elif check.name == "isin":
            found["allowed"] = tuple(stats["allowed_values"])
        elif check.name == "str_matches":
            found["pattern"] = stats["pattern"]
    return Domain(**found)


def contract_json_schema(schema: pa.DataFrameSchema) -> dict[str, Any]:
    """The contract as JSON Schema of one row: what the serving bundle and API clients read.

    Every column with its JSON type, nullability, range, allowed values, id pattern and
    description, read off the pandera schema's own checks, so the two never disagree.
    """
    properties: dict[str, Any] = {}
    for name, column in schema.columns.items():
        kind = str(column.dtype)
        prop: dict[str, Any] = {"type": _json_type(kind)}
        allows = domain(column)
        if allows.minimum is not None:
            prop["minimum"] = allows.minimum
        if allows.maximum is not None:
            prop["maximum"] = allows.maximum
        if allows.allowed is not None:
            prop["enum"] = list(allows.allowed)
        if allows.pattern is not None:
            prop["pattern"] = allows.pattern
        if kind.startswith("datetime"):
            prop = {"type": "string", "format": "date-time"}
        if column.nullable:
            prop["type"] = [prop["type"], "null"]
        if column.description:
            prop["description"] = column.description
        properties[name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": schema.name,
        "description": schema.description or "",
        "type": "object",
        "properties": properties,
        "required": [n for n, c in schema.columns.items() if not c.nullable],
        "additionalProperties": False,
        "x-row-rules": [
            {"name": c.name, "description": c.description or ""} for c in schema.checks if c.name
        ],
    }


def _json_type(kind: str) -> str:
    if kind in ("int64", "Int8"):
        return "integer"
    if kind == "float64":
        return "number"
    if kind == "bool":
        return "boolean"
    return "string"
