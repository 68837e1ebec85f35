"""The dataset declaration: what the data is, said once, in a YAML file a student reads.

One file per dataset (``datasets/loans.yaml`` is the worked example) names the id, the
optional timestamp, the label and its horizon, the protected attributes, every feature with
its type and range, the cross-column rules, the rule baseline, the reference applicants of
the behavioural tests and the slices to report. The contract, the models' feature handling,
the monotone constraints, the behavioural tests, slices, fairness and the registry name all
derive from the one :class:`Declaration` loaded here, so bringing other data means writing
another file, not editing code.

YAML rather than a Python module: a declaration is data, not behaviour; it is read top to
bottom without knowing Python, diffed by DVC as a dependency, and checked on load with an
error that names the file and the key, which an import error in a module would not do.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loanrisk.errors import ConfigError

ColumnType = Literal["float", "integer", "boolean", "category"]
Comparison = Literal["<", "<=", ">", ">=", "==", "!="]
Number = int | float
Scalar = bool | int | float | str

NUMERIC_TYPES = ("float", "integer", "boolean")
OPERATORS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    """One column's type and domain; shared by features and protected attributes."""

    type: ColumnType
    description: str = ""
    range: tuple[Number, Number] | None = None
    values: tuple[int, ...] | None = Field(default=None, min_length=1)
    categories: tuple[str, ...] | None = Field(default=None, min_length=1)
    nullable: bool = False
    step: float | None = None
    factor: float | None = Field(default=None, gt=0)
    to: Scalar | None = None

    @model_validator(mode="after")
    def _domain_fits_type(self) -> Column:
        if self.type == "category" and not self.categories:
            raise ValueError("a category column needs `categories`")
        if self.type != "category" and self.categories:
            raise ValueError(f"`categories` is for category columns, not {self.type}")
        if self.values and self.type != "integer":
            raise ValueError("`values` is for integer columns")
        if self.range is not None:
            if self.type not in ("float", "integer"):
                raise ValueError(f"`range` is for float and integer columns, not {self.type}")
            if self.range[0] > self.range[1]:
                raise ValueError(f"range {list(self.range)} is not [low, high]")
        if self.range is not None and self.values:
            raise ValueError("give `range` or `values`, not both")
        if sum(x is not None for x in (self.step, self.factor, self.to)) > 1:
            raise ValueError("give one of `step`, `factor` or `to`")
        if (self.step is not None or self.factor is not None) and not self.is_numeric:
            raise ValueError("a category column cannot be stepped; use `to` or nothing")
        return self

    @property
    def movable(self) -> bool:
        return any(x is not None for x in (self.step, self.factor, self.to))

    @property
    def is_numeric(self) -> bool:
        """Numbers and booleans reach a model as numbers; categories are encoded."""
        return self.type in NUMERIC_TYPES

    def moved(self, series: pd.Series) -> pd.Series:
        """``series`` moved as declared: by ``step``, by ``factor`` or set ``to`` a value,
        kept inside the declared ``range`` or ``values``."""
        if self.to is not None:
            return pd.Series(self.to, index=series.index).astype(series.dtype)
        if self.factor is not None:
            out = series * self.factor
        elif self.step is not None:
            out = series + self.step
        else:
            raise ValueError("the column declares no `step`, `factor` or `to`")
        ceiling = self.range[1] if self.range is not None else max(self.values or [np.inf])
        return out.clip(upper=ceiling).astype(series.dtype)


class Feature(Column):
    direction: Literal["up", "down"] | None = None
    monotone: bool = False
    invariance: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _direction_is_usable(self) -> Feature:
        if self.direction is not None and not self.is_numeric:
            raise ValueError("`direction` is for numeric and boolean features")
        if self.monotone and self.direction is None:
            raise ValueError("`monotone: true` needs a `direction` (up or down)")
        if self.direction is not None and self.invariance is not None:
            raise ValueError("a feature has a `direction` or an `invariance`, not both")
        if (self.direction is not None or self.invariance is not None) and not self.movable:
            raise ValueError("a tested feature needs `step`, `factor` or `to` to move it")
        return self

    @property
    def sign(self) -> int:
        """+1 when a higher value raises the probability of the positive label, -1 when it
        lowers it, 0 when no direction is declared."""
        return {"up": 1, "down": -1, None: 0}[self.direction]


class Bands(_Frozen):
    edges: tuple[Number, ...] = Field(min_length=2)
    labels: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Bands:
        if list(self.edges) != sorted(set(self.edges)):
            raise ValueError("band edges must increase")
        if len(self.labels) != len(self.edges) - 1:
            raise ValueError(
                f"{len(self.edges)} edges make {len(self.edges) - 1} bands, "
                f"but {len(self.labels)} labels are given"
            )
        return self


class Protected(Column):
    bands: Bands | None = None

    @model_validator(mode="after")
    def _grouped(self) -> Protected:
        if self.type in ("float", "integer") and self.bands is None and not self.values:
            raise ValueError("a numeric protected attribute needs `bands` to form groups")
        if self.bands is not None and self.type not in ("float", "integer"):
            raise ValueError("`bands` is for numeric attributes")
        return self


class IdColumn(_Frozen):
    column: str
    pattern: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _pattern_compiles(self) -> IdColumn:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression ({exc})") from None
        return self


class TimestampColumn(_Frozen):
    column: str
    description: str = ""


class Outcomes(_Frozen):
    """The label's two outcomes in words, as the documents and the plots name them."""

    positive: str = "positive"
    negative: str = "negative"


class Label(_Frozen):
    column: str
    positive: Scalar
    negative: Scalar
    horizon_months: int | None = Field(default=None, gt=0)
    description: str = ""
    outcomes: Outcomes = Outcomes()

    @model_validator(mode="after")
    def _distinct(self) -> Label:
        if self.positive == self.negative:
            raise ValueError("positive and negative must differ")
        return self


class Rule(_Frozen):
    """``column op other * scale + offset`` holds in every row (nulls pass)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    column: str
    op: Comparison
    other: str
    scale: float = 1.0
    offset: float = 0.0

    def holds(self, frame: pd.DataFrame) -> pd.Series:
        bound = frame[self.other] * self.scale + self.offset
        broken = pd.Series(_OPPOSITE[self.op](frame[self.column], bound), index=frame.index)
        return ~broken

    def broken_by(self, value: Any, other: Any) -> bool:
        """Whether one row's ``value`` (of ``column``) and ``other`` break the rule; a
        missing value breaks nothing (its nullability check speaks for it)."""
        if value is None or other is None:
            return False
        return bool(_OPPOSITE[self.op](value, other * self.scale + self.offset))


_OPPOSITE = {
    op: OPERATORS[opposite]
    for op, opposite in {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}.items()
}
"""A rule is broken where the opposite comparison is true: comparisons with a null are
false, so a null never breaks a rule (its nullability check reports it once)."""


class Flag(_Frozen):
    """A red flag of the rule baseline: ``column op value``."""

    column: str
    op: Comparison
    value: Scalar


class ReferenceApplicants(_Frozen):
    low_risk: dict[str, Any]
    high_risk: dict[str, Any]


class Words(_Frozen):
    """How the model card names the problem's people and units (none: neutral words)."""

    unit: str = "case"
    """What one row is, in "cost in units of one average <unit>"."""
    deciders: str = ""
    """Who decides the referred cases and owns the policy."""


class Declaration(_Frozen):
    """A dataset, declared once; see ``datasets/loans.yaml`` for every key explained."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    id: IdColumn
    timestamp: TimestampColumn | None = None
    label: Label
    protected: dict[str, Protected] = Field(default_factory=dict)
    features: dict[str, Feature] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()
    rule_baseline: tuple[Flag, ...] = ()
    reference_applicants: ReferenceApplicants | None = None
    slices: tuple[str, ...] = ()
    words: Words = Words()
    source: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Declaration:
        _check_consistent(self)
        return self

    # -- columns ------------------------------------------------------------------------------

    @cached_property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.features.items() if f.is_numeric)

    @cached_property
    def categorical_features(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.features.items() if not f.is_numeric)

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        """The model's inputs in the models' order: numbers first, then categories."""
        return self.numeric_features + self.categorical_features

    @cached_property
    def categories(self) -> dict[str, tuple[str, ...]]:
        return {n: f.categories for n, f in self.features.items() if f.categories}

    @cached_property
    def columns(self) -> dict[str, Column]:
        """Every column the data must hold except the id, timestamp and label."""
        return {**self.protected, **self.features}

    @cached_property
    def all_columns(self) -> tuple[str, ...]:
        head = [self.id.column] + ([self.timestamp.column] if self.timestamp else [])
        return (*head, *self.protected, *self.features, self.label.column)

    @property
    def monotone(self) -> dict[str, int]:
        """Feature -> +1/-1 for the features the candidate is constrained on."""
        return {n: f.sign for n, f in self.features.items() if f.monotone}

    @property
    def directional(self) -> dict[str, Feature]:
        """Features with a known direction of effect, for the directional tests."""
        return {n: f for n, f in self.features.items() if f.direction is not None}

    @property
    def invariant(self) -> dict[str, Feature]:
        """Features that should barely move a score, for the invariance tests."""
        return {n: f for n, f in self.features.items() if f.invariance is not None}

    # -- groups -------------------------------------------------------------------------------

    @cached_property
    def group_names(self) -> dict[str, str]:
        """Group name -> the column it is computed from (``age_band`` -> ``age``)."""
        names = {}
        for name, attribute in self.protected.items():
            names[f"{name}_band" if attribute.bands else name] = name
        return names

    @property
    def fairness_groups(self) -> tuple[str, ...]:
        """The protected groupings fairness is measured on, in declaration order."""
        return tuple(self.group_names)

    @property
    def slice_groups(self) -> tuple[str, ...]:
        """The groupings performance is reported on (a banded attribute by its band)."""
        inverse = {column: group for group, column in self.group_names.items()}
        return tuple(inverse.get(s, s) for s in self.slices)

    def group(self, frame: pd.DataFrame, group: str) -> pd.Series:
        """Each row's group under ``group`` (a slice or fairness grouping), as text."""
        column = self.group_names.get(group, group)
        attribute = self.protected.get(column)
        if attribute is not None and attribute.bands is not None:
            bands = attribute.bands
            cut = pd.cut(
                frame[column], bins=list(bands.edges), labels=list(bands.labels), right=False
            )
            return cut.astype(str)
        return frame[column].astype(str)

    def with_groups(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with a column for each banded attribute's group."""
        banded = {g: self.group(frame, g) for g, c in self.group_names.items() if g != c}
        return frame.assign(**banded)

    # -- names --------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The registered model's name unless params override it."""
        return f"{self.name}-risk"

    def where(self) -> str:
        return self.source or f"the declaration of {self.name!r}"


def _check_consistent(d: Declaration) -> None:
    """Cross-key rules pydantic cannot express per field; each message names the key."""
    fixed = [d.id.column, d.label.column] + ([d.timestamp.column] if d.timestamp else [])
    for name in d.protected:
        if name in d.features:
            raise ValueError(
                f"protected.{name}: also listed under features; a protected attribute is "
                "never a model input, remove it from features"
            )
    for name in [*d.protected, *d.features]:
        if name in fixed:
            raise ValueError(
                f"{name}: is the id, timestamp or label column; it cannot be a feature"
            )
    if len(set(fixed)) != len(fixed):
        raise ValueError("id, timestamp and label must be three different columns")
    numeric = {
        n for n, c in {**d.protected, **d.features}.items() if c.type in ("float", "integer")
    }
    for i, rule in enumerate(d.rules):
        for key in ("column", "other"):
            column = getattr(rule, key)
            if column not in numeric:
                raise ValueError(
                    f"rules[{i}] ({rule.name}).{key}: {column!r} is not a numeric column of "
                    "this declaration"
                )
    for i, flag in enumerate(d.rule_baseline):
        feature = d.features.get(flag.column)
        if feature is None:
            raise ValueError(
                f"rule_baseline[{i}].column: {flag.column!r} is not a feature (the baseline, "
                "like every model, reads features only)"
            )
        if feature.type == "category":
            if flag.op not in ("==", "!=") or flag.value not in (feature.categories or ()):
                raise ValueError(
                    f"rule_baseline[{i}]: a category flag is `==` or `!=` one of "
                    f"{list(feature.categories or ())}"
                )
        elif isinstance(flag.value, str):
            raise ValueError(f"rule_baseline[{i}].value: {flag.column} is {feature.type}, not text")
    if d.reference_applicants is not None:
        for which in ("low_risk", "high_risk"):
            values = getattr(d.reference_applicants, which)
            unknown = sorted(set(values) - set(d.features))
            if unknown:
                raise ValueError(
                    f"reference_applicants.{which}: {unknown} are not features (only features "
                    "reach the model)"
                )
    groupable = set(d.protected) | {
        n for n, f in d.features.items() if f.type in ("category", "boolean") or f.values
    }
    for s in d.slices:
        if s not in groupable:
            why = (
                "is numeric; slice by a category, a boolean, an integer with `values` or a "
                "protected attribute"
                if s in d.features
                else "is not a column of this declaration"
            )
            raise ValueError(f"slices: {s!r} {why}")


def describe_errors(exc: ValidationError, source: str) -> str:
    """Pydantic's errors as one line: ``file: key.path: what is wrong, got ...``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        kind = error["type"]
        if kind == "missing":
            parts.append(f"{where}: missing")
        elif kind == "extra_forbidden":
            parts.append(f"{where}: unknown key (remove it or check its spelling)")
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            parts.append(f"{where}: {message}" if where != "(top level)" else message)
        else:
            parts.append(f"{where}: {error['msg'].lower()}, got {error.get('input')!r}")
    return f"{source}: " + "; ".join(parts)


def parse_declaration(raw: Any, source: str = "declaration") -> Declaration:
    """Validate an already-parsed mapping; raise :class:`ConfigError` naming each bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    if "source" in raw:
        raise ConfigError(f"{source}: source: unknown key (remove it or check its spelling)")
    try:
        return Declaration.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, source)) from None


def load_declaration(path: str | Path) -> Declaration:
    """Read and check a dataset declaration (a YAML file)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: declaration not found (data.declaration in params.yaml names it)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError.not_yaml(path, exc) from None
    return parse_declaration(raw, str(path))


def compare(values: pd.Series | np.ndarray, op: str, other: Any) -> np.ndarray:
    """``values op other`` element-wise, as a boolean array."""
    result: np.ndarray = OPERATORS[op](np.asarray(values), other)
    return result
