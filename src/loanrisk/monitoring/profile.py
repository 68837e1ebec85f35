"""The reference profile: what the training data looked like, in bins fixed at training.

Computed once, when a model is trained, from its training split and its own scores; stored
with the model (``profile.json`` in the model directory, an artifact of its MLflow run, a file
of the serving bundle). Every drift figure in the project compares a batch with it.

Bins, per feature:

- numeric: right-closed bins between the training data's deciles (``(-inf, e1]``, ``(e1, e2]``,
  ..., ``(ek, inf)``), de-duplicated, so a feature with few distinct values (a term of 12 to 60
  months, a count of delinquencies) gets one bin per value rather than empty ones; then one bin
  for missing values;
- categorical (and boolean): one bin per declared category, one for a value the declaration
  does not know (``(unseen)``), one for missing.

The score gets the same treatment as a numeric feature, under the name :data:`SCORE`.
The profile keeps counts, not only shares, so every reader smooths them the same way
(:func:`smoothed`).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from loanrisk.data.declaration import Declaration

FORMAT = 1
FILE = "profile.json"
SCORE = "_score"
"""The name the model's score goes by among the features (a name no declaration may use)."""
UNSEEN = "(unseen)"
MISSING = "(missing)"
DEFAULT_BINS = 10


@dataclass(frozen=True)
class BinnedFeature:
    """One feature's reference bins and how many training rows fell in each."""

    name: str
    kind: Literal["numeric", "categorical"]
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    @property
    def rows(self) -> int:
        return sum(self.counts)

    @property
    def missing_bin(self) -> int:
        return self.n_bins - 1

    def labels(self) -> list[str]:
        """A readable name per bin (Prometheus label values, report axes)."""
        if self.kind == "categorical":
            return [*self.categories, UNSEEN, MISSING]
        if not self.edges:
            return ["all", MISSING]
        e = [_number(x) for x in self.edges]
        middle = [f"({a}, {b}]" for a, b in itertools.pairwise(e)]
        return [f"<= {e[0]}", *middle, f"> {e[-1]}", MISSING]

    def bin_of(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """The bin index of every value (vectorised)."""
        if self.kind == "categorical":
            # Each distinct value looked up once: mapping a million strings one by one
            # took a third of a second a column.
            codes, distinct = pd.factorize(pd.Series(values, copy=False), use_na_sentinel=True)
            known = {c: i for i, c in enumerate(self.categories)}
            unseen = len(self.categories)
            lookup = [known.get(str(v), unseen) for v in distinct]
            return np.array([*lookup, self.missing_bin], dtype=np.int64)[codes]  # -1: missing
        x = np.asarray(pd.to_numeric(pd.Series(values, copy=False), errors="coerce"), float)
        out: np.ndarray = np.searchsorted(np.asarray(self.edges, float), x, side="left")
        out[np.isnan(x)] = self.missing_bin
        return out.astype(np.int64)

    def bin_of_one(self, value: Any) -> int:
        """The bin of one value, in about a microsecond (the service's per-request path)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing_bin
        if self.kind == "categorical":
            text = str(value)
            try:
                return self.categories.index(text)
            except ValueError:
                return len(self.categories)
        return bisect.bisect_left(self.edges, float(value))

    def to_dict(self) -> dict[str, Any]:
        rows = self.rows
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
        else:
            out["categories"] = list(self.categories)
        out["labels"] = self.labels()
        out["counts"] = list(self.counts)
        out["shares"] = [c / rows if rows else 0.0 for c in self.counts]
        return out

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any]) -> BinnedFeature:
        return cls(
            name=name,
            kind=raw["kind"],
            counts=tuple(int(c) for c in raw["counts"]),
            edges=tuple(float(e) for e in raw.get("edges", ())),
            categories=tuple(str(c) for c in raw.get("categories", ())),
        )


@dataclass(frozen=True)
class Profile:
    """Every feature's reference bins, and the score's."""

    rows: int
    features: dict[str, BinnedFeature]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.features)

    def to_json(self) -> str:
        body = {
            "format": FORMAT,
            "rows": self.rows,
            "features": {name: f.to_dict() for name, f in self.features.items()},
        }
        return json.dumps(body, indent=1, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Profile:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise ValueError(f"profile format {raw.get('format')!r}, expected {FORMAT}")
        features = {n: BinnedFeature.from_dict(n, f) for n, f in raw["features"].items()}
        return cls(rows=int(raw["rows"]), features=features)


def build_profile(
    frame: pd.DataFrame, dataset: Declaration, scores: np.ndarray, bins: int = DEFAULT_BINS
) -> Profile:
    """The profile of ``frame`` (the training split) and the model's ``scores`` on it."""
    features: dict[str, BinnedFeature] = {}
    for name in dataset.feature_names:
        spec = dataset.features[name]
        if spec.is_numeric:
            features[name] = _numeric(name, frame[name], bins)
        else:
            categories = spec.categories or ("False", "True")
            features[name] = _categorical(name, frame[name], tuple(categories))
    features[SCORE] = _numeric(SCORE, pd.Series(scores), bins)
    return Profile(rows=len(frame), features=features)


def read_profile(path: str | Path) -> Profile:
    """A profile file, or a directory that holds one."""
    file = Path(path)
    if file.is_dir():
        file = file / FILE
    return Profile.from_json(file.read_text())


def smoothed(counts: np.ndarray, pseudo_count: float) -> np.ndarray:
    """Shares with ``pseudo_count`` added to every bin: ``(c + a) / (n + a k)``.

    Why: a bin empty on one side would make PSI infinite and the Jensen-Shannon terms
    undefined. Adding half an observation per bin (Jeffreys' prior) keeps every share
    positive, barely moves a bin of hundreds, and is exactly what the Prometheus recording
    rules add, so the service, the rules and the offline report agree. Works along the last
    axis of ``counts``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    shares: np.ndarray = (counts + pseudo_count) / (total + pseudo_count * counts.shape[-1])
    return shares


def _numeric(name: str, values: pd.Series, bins: int) -> BinnedFeature:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = x[~np.isnan(x)]
    edges: tuple[float, ...] = ()
    if present.size:
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        edges = tuple(float(e) for e in np.unique(quantiles))
    draft = BinnedFeature(name, "numeric", (0,) * (len(edges) + 2), edges=edges)
    return BinnedFeature(name, "numeric", _count(draft, x), edges=edges)


def _categorical(name: str, values: pd.Series, categories: tuple[str, ...]) -> BinnedFeature:
    draft = BinnedFeature(name, "categorical", (0,) * (len(categories) + 2), categories=categories)
    return BinnedFeature(name, "categorical", _count(draft, values), categories=categories)


def _count(feature: BinnedFeature, values: Any) -> tuple[int, ...]:
    counts = np.bincount(feature.bin_of(values), minlength=feature.n_bins)
    return tuple(int(c) for c in counts)


def _number(x: float) -> str:
    return f"{x:.6g}"
