"""The models that are not trees: the logistic pipeline and the rule baseline.

Both are re-expressed from public fitted attributes (``coef_``, ``intercept_``, the encoders'
``categories_`` through :mod:`loanrisk.fastpath.encoding`, the rule baseline's ``rules`` and
``rate_per_flag_count_``): a dot product and a rate lookup, on a mapping of one row or of
columns. The batch form builds scikit-learn's design matrix and multiplies in its order; the
single row sums in Python's order (an ulp or two, and it feeds nothing but ``expit``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loanrisk.data.declaration import Declaration, compare
from loanrisk.fastpath.encoding import (
    Indicator,
    Number,
    Scaled,
    Source,
    UnsupportedError,
    float_of,
)

FloatArray = npt.NDArray[np.float64]
Columns = Mapping[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class Linear:
    """A fitted binary LogisticRegression over standardised numbers and one-hot categories."""

    columns: tuple[Source, ...]  # the model's input columns, in order (batches)
    coef_t: FloatArray  # coef_.T, as scikit-learn multiplies by it
    intercept_array: FloatArray
    numbers: tuple[tuple[str, float, float, float], ...]  # name, mean, scale, coefficient
    indicators: tuple[tuple[str, Mapping[str, float]], ...]  # name, category -> coefficient
    indicator_columns: tuple[tuple[str, Mapping[str, int]], ...]  # name, category -> column
    intercept: float
    kind: str = "logistic"
    logit: bool = True

    def response_row(self, row: Mapping[str, Any]) -> float:
        z = 0.0
        for name, mean, scale, coef in self.numbers:
            z += coef * ((float_of(row[name]) - mean) / scale)
        for name, table in self.indicators:
            z += table.get(row[name], 0.0)
        return z + self.intercept

    def response(self, columns: Columns, n: int) -> FloatArray:
        """The design matrix scikit-learn would build, times the same coefficients."""
        X = np.zeros((n, len(self.columns)), dtype=np.float64)
        for j, source in enumerate(self.columns):
            if isinstance(source, Scaled):
                x = np.asarray(columns[source.name], dtype=np.float64)
                X[:, j] = (x - source.mean) / source.scale
            elif isinstance(source, Number):
                X[:, j] = np.asarray(columns[source.name], dtype=np.float64)
        rows = np.arange(n, dtype=np.intp)
        for name, column_of in self.indicator_columns:
            get = column_of.get
            column = np.fromiter((get(v, -1) for v in columns[name]), dtype=np.intp, count=n)
            hit = column >= 0
            X[rows[hit], column[hit]] = 1.0
        z: FloatArray = (X @ self.coef_t + self.intercept_array).reshape(-1)
        return z


def compile_linear(model: Any, sources: list[Source]) -> Linear:
    if len(getattr(model, "classes_", ())) != 2:
        raise UnsupportedError("a logistic regression that is not binary")
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.shape != (1, len(sources)):
        raise UnsupportedError(f"coefficients of shape {coef.shape} for {len(sources)} columns")
    numbers: list[tuple[str, float, float, float]] = []
    indicators: dict[str, dict[str, float]] = {}
    indicator_columns: dict[str, dict[str, int]] = {}
    for j, (source, c) in enumerate(zip(sources, coef[0], strict=True)):
        if isinstance(source, Scaled):
            numbers.append((source.name, source.mean, source.scale, float(c)))
        elif isinstance(source, Number):
            numbers.append((source.name, 0.0, 1.0, float(c)))
        elif isinstance(source, Indicator):
            table = indicators.setdefault(source.name, {})
            table[source.category] = table.get(source.category, 0.0) + float(c)
            if source.category in indicator_columns.setdefault(source.name, {}):
                raise UnsupportedError(f"{source.name}: the category {source.category!r} twice")
            indicator_columns[source.name][source.category] = j
        else:
            raise UnsupportedError(f"a logistic regression reading {type(source).__name__}")
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    return Linear(
        columns=tuple(sources),
        coef_t=model.coef_.T,
        intercept_array=model.intercept_,
        numbers=tuple(numbers),
        indicators=tuple(indicators.items()),
        indicator_columns=tuple(indicator_columns.items()),
        intercept=float(intercept[0]),
    )


# -- the rule baseline ---------------------------------------------------------------------

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Rules:
    """The fitted RuleBaseline: count the flags, look the rate up."""

    rules: tuple[tuple[str, str, Any, bool], ...]  # column, comparison, value, is numeric
    rates: FloatArray
    kind: str = "rule"
    logit: bool = False

    def response_row(self, row: Mapping[str, Any]) -> float:
        flags = 0
        for name, op, value, numeric in self.rules:
            x = float_of(row[name]) if numeric else row[name]
            flags += bool(OPERATORS[op](x, value))
        return float(self.rates[min(flags, len(self.rules))])

    def response(self, columns: Columns, n: int) -> FloatArray:
        flags = np.zeros(n, dtype=int)
        for name, op, value, numeric in self.rules:
            x = np.asarray(columns[name], dtype=np.float64 if numeric else object)
            flags += compare(x, op, value).astype(int)
        out: FloatArray = self.rates[np.minimum(flags, len(self.rules))]
        return out


def compile_rules(model: Any, dataset: Declaration) -> Rules:
    rates = np.asarray(getattr(model, "rate_per_flag_count_", ()), dtype=np.float64)
    if len(rates) <= len(model.rules) or len(getattr(model, "classes_", ())) != 2:
        raise UnsupportedError("an unfitted rule baseline")
    numeric = set(dataset.numeric_features)
    rules = []
    for column, op, value in model.rules:
        if column not in dataset.feature_names or op not in OPERATORS:
            raise UnsupportedError(f"a rule {column} {op} {value!r} outside the declaration")
        if column in numeric:
            if isinstance(value, str):
                raise UnsupportedError(f"a numeric rule against the text {value!r}")
            rules.append((column, op, float(value), True))
        else:
            rules.append((column, op, value, False))
    return Rules(tuple(rules), rates)
