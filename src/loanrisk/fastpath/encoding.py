"""What each column a fitted model reads is, in terms of the declared features.

A fitted ColumnTransformer is re-expressed, once, as one *source* per output column (a
number, a scaled number, an ordinal code table, a one-hot indicator), so that the compiled
evaluators build the same numbers scikit-learn would without pandas at call time. Only
public fitted attributes are read (``transformers_``, ``categories_``, ``mean_``,
``scale_``, the encoders' parameters): an estimator of another shape raises
:class:`UnsupportedError`, which the caller turns into "no fast path".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler


class UnsupportedError(Exception):
    """The model has a shape the fast path does not know; the message says which part."""


@dataclass(frozen=True)
class Number:
    """A declared numeric (or boolean) feature, as the float scikit-learn converts it to."""

    name: str


@dataclass(frozen=True)
class Text:
    """A declared categorical feature as given: a string."""

    name: str


@dataclass(frozen=True)
class Code:
    """A categorical feature after ordinal encoding: each declared string's code (in order),
    and the code of any other value (unknown or missing)."""

    name: str
    codes: tuple[tuple[str, float], ...]
    other: float


@dataclass(frozen=True)
class Scaled:
    """A numeric feature standardised: ``(x - mean) / scale``."""

    name: str
    mean: float
    scale: float


@dataclass(frozen=True)
class Indicator:
    """One one-hot column: 1 where the feature equals ``category``, else 0."""

    name: str
    category: str


Source = Number | Text | Code | Scaled | Indicator


def float_of(value: Any) -> float:
    """A numeric feature's value as the float64 scikit-learn reads (None as missing)."""
    return math.nan if value is None else float(value)


def through(transformer: Any, inputs: Sequence[Source], names: Sequence[str]) -> list[Source]:
    """The output columns of a fitted ColumnTransformer, in its output order, as sources."""
    if type(transformer) is not ColumnTransformer or not hasattr(transformer, "transformers_"):
        raise UnsupportedError(f"preprocessing by {type(transformer).__name__}")
    out: list[Source] = []
    for _, step, selection in transformer.transformers_:
        picked = [inputs[i] for i in _positions(selection, names, len(inputs))]
        if picked and not (isinstance(step, str) and step == "drop"):
            out.extend(_transform(step, picked))
    return out


def _positions(selection: Any, names: Sequence[str], n: int) -> list[int]:
    """Which input columns a ColumnTransformer entry selects (names, a mask or indices)."""
    if isinstance(selection, str | int | slice) or callable(selection):
        raise UnsupportedError(f"column selection {selection!r}")
    items = list(selection)
    if not items:
        return []
    if all(isinstance(x, bool | np.bool_) for x in items):
        if len(items) != n:
            raise UnsupportedError("a column mask of the wrong length")
        return [i for i, x in enumerate(items) if x]
    if all(isinstance(x, str) for x in items):
        if not set(items) <= set(names):
            raise UnsupportedError(f"columns {items} not among the inputs")
        return [list(names).index(x) for x in items]
    if all(isinstance(x, int | np.integer) and 0 <= x < n for x in items):
        return [int(x) for x in items]
    raise UnsupportedError(f"column selection {items!r}")


def _transform(step: Any, picked: list[Source]) -> list[Source]:
    if isinstance(step, str):
        if step == "passthrough":
            return picked
    elif type(step) is FunctionTransformer and step.func is None:
        return picked  # what a fitted ColumnTransformer puts in the place of "passthrough"
    elif type(step) is OrdinalEncoder:
        return _ordinal(step, picked)
    elif type(step) is StandardScaler:
        return _standardised(step, picked)
    elif type(step) is OneHotEncoder:
        return _one_hot(step, picked)
    raise UnsupportedError(f"{type(step).__name__} in a ColumnTransformer")


def _groups_infrequent(encoder: Any) -> bool:
    return encoder.max_categories is not None or encoder.min_frequency is not None


def _ordinal(encoder: Any, picked: list[Source]) -> list[Source]:
    if encoder.handle_unknown != "use_encoded_value" or _groups_infrequent(encoder):
        raise UnsupportedError("an OrdinalEncoder that raises on or groups categories")
    if np.dtype(encoder.dtype) != np.float64 or len(encoder.categories_) != len(picked):
        raise UnsupportedError("an OrdinalEncoder of another dtype or width")
    unknown = float(encoder.unknown_value)
    out: list[Source] = []
    for source, categories in zip(picked, encoder.categories_, strict=True):
        if not isinstance(source, Text) or not all(isinstance(c, str) for c in categories):
            raise UnsupportedError("ordinal encoding of other than declared string categories")
        out.append(
            Code(source.name, tuple((c, float(i)) for i, c in enumerate(categories)), unknown)
        )
    return out


def _standardised(scaler: Any, picked: list[Source]) -> list[Source]:
    if not all(isinstance(s, Number) for s in picked) or scaler.n_features_in_ != len(picked):
        raise UnsupportedError("a StandardScaler on other than numeric features")
    mean = scaler.mean_ if scaler.with_mean else np.zeros(len(picked))
    scale = scaler.scale_ if scaler.with_std else np.ones(len(picked))
    return [Scaled(s.name, float(m), float(d)) for s, m, d in zip(picked, mean, scale, strict=True)]


def _one_hot(encoder: Any, picked: list[Source]) -> list[Source]:
    if encoder.handle_unknown not in ("ignore", "warn", "infrequent_if_exist"):
        raise UnsupportedError("a OneHotEncoder that raises on unknown categories")
    if encoder.drop_idx_ is not None or _groups_infrequent(encoder):
        raise UnsupportedError("a OneHotEncoder that drops or groups categories")
    out: list[Source] = []
    for source, categories in zip(picked, encoder.categories_, strict=True):
        if not isinstance(source, Text) or not all(isinstance(c, str) for c in categories):
            raise UnsupportedError("one-hot encoding of other than declared string categories")
        out.extend(Indicator(source.name, c) for c in categories)
    return out
