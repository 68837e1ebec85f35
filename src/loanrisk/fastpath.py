"""A compiled inference path: the fitted model, re-expressed once on plain numpy arrays.

Serving one application through the reference pipeline spends nearly all its time in pandas
and the ColumnTransformer (5-11 ms a row), not in the model. :func:`compile_model` reads the
fitted model once, at load time, into lookup tables and coefficient vectors that answer for a
mapping of feature name -> value (one application) or feature name -> 1-D array (a batch).

Nothing here is maintained by hand per model: every threshold, category code, coefficient and
calibration point is read from the fitted estimator, so a retrained model compiles to its own
evaluator. A model of a shape this module does not recognise compiles to ``None``, never to a
guess, and the caller serves it through the reference pipeline instead.

Exactness is by construction, not by tolerance: each evaluator repeats scikit-learn's
arithmetic in scikit-learn's order where the order can matter (the trees' sum starts at the
baseline and adds the trees one by one, the calibrators call the same ``np.interp`` and
``expit``), because an isotonic calibrator can turn an ulp of difference in its input into a
visible difference in its output. Only the logistic dot product of a single row is summed in
Python's order instead of BLAS's (an ulp or two, and it feeds nothing but ``expit``).

How the trees are evaluated: each split feature's value becomes a *slot*, a small integer
that fixes the outcome of every split on that feature. For a number it is how many of the
feature's distinct thresholds (over all trees) lie below the value, with one more slot for
NaN; for a category it is the declared category's position, with one more slot for anything
else. One table ``next[node, slot]`` then gives every split's child (leaves point at
themselves), so a tree is walked with ``max_depth`` table lookups, all trees at once. Node 0
is a pseudo-tree, a single leaf holding the baseline, so the leaves reached, in tree order,
sum to the raw score exactly as scikit-learn sums them.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn._loss.link import LogitLink
from sklearn._loss.loss import HalfBinomialLoss
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.utils.validation import check_array

from loanrisk.data.declaration import Declaration, compare
from loanrisk.models.rules import RuleBaseline

__all__ = ["FastModel", "columns_from_frame", "compile_model"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
Columns = Mapping[str, npt.NDArray[Any]]

ROWS_PER_CHUNK = 512
"""Rows walked through the trees together: large enough to amortise numpy's per-call cost,
small enough that the (trees x rows) node arrays stay in cache."""

CALIBRATED_CEILING = 1.0 + 1e-5
"""scikit-learn rounds calibrated probabilities in (1, 1 + 1e-5] down to 1; so do we."""


class _UnsupportedError(Exception):
    """The model has a shape this module does not know; the message says which part."""


# -- what the fast model answers ------------------------------------------------------------


class FastModel:
    """A fitted model compiled to numpy: the probability of the positive label, as the
    model's ``predict_proba(...)[:, 1]`` gives it, without pandas or scikit-learn at call time.

    ``kind`` names the compiled shape (``"rule"``, ``"logistic"``,
    ``"hist_gradient_boosting+isotonic"``, ...) so the caller can log what it serves.
    """

    __slots__ = ("_batch", "_features", "_row", "kind")

    def __init__(
        self,
        kind: str,
        features: tuple[str, ...],
        batch: Callable[[Columns, int], FloatArray],
        row: Callable[[Mapping[str, Any]], float],
    ) -> None:
        self.kind = kind
        self._features = features
        self._batch = batch
        self._row = row

    def predict_positive(self, columns: Columns) -> FloatArray:
        """Each row's probability of the positive label.

        ``columns`` maps every declared feature to a 1-D array of equal length: numeric and
        boolean features as floats (NaN where missing), categorical ones as Python strings.
        """
        return self._batch(columns, _length(columns, self._features))

    def predict_positive_row(self, row: Mapping[str, Any]) -> float:
        """One application's probability of the positive label: the hot path of a request.

        ``row`` maps feature names to scalars (numbers, booleans or strings); only the
        features the model reads are looked up.
        """
        return self._row(row)

    def __repr__(self) -> str:
        return f"FastModel(kind={self.kind!r})"


def compile_model(model: Any, dataset: Declaration) -> FastModel | None:
    """``model`` (as trained for ``dataset``) compiled, or ``None`` if its shape is unknown.

    Never raises: compiling reads fitted (partly private) attributes of scikit-learn objects,
    and any surprise there means "not understood", so the caller falls back to the reference
    pipeline rather than failing to load. The reason is logged.
    """
    try:
        return _compile(model, dataset)
    except _UnsupportedError as reason:
        logger.info("no fast path for %s: %s", type(model).__name__, reason)
    except Exception:
        logger.warning("no fast path for %s", type(model).__name__, exc_info=True)
    return None


def columns_from_frame(frame: pd.DataFrame, dataset: Declaration) -> dict[str, npt.NDArray[Any]]:
    """The declared feature columns of ``frame`` in the form :meth:`FastModel.predict_positive`
    reads: numbers as float64 (NaN for nulls), categories as object arrays."""
    numeric = set(dataset.numeric_features)
    return {
        name: (
            frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if name in numeric
            else frame[name].to_numpy(dtype=object)
        )
        for name in dataset.feature_names
    }


def _length(columns: Columns, features: Sequence[str]) -> int:
    missing = [name for name in features if name not in columns]
    if missing:
        raise KeyError(f"columns lack the declared features {missing}")
    lengths = {np.shape(columns[name]) for name in features}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"feature columns must be 1-D and of one length, got {sorted(lengths)}")
    return int(next(iter(lengths))[0])


# -- the dispatch ---------------------------------------------------------------------------


class _Base(Protocol):
    """A compiled classifier: its *response* (what a scikit-learn calibrator reads: the
    decision function if the model has one, else the positive probability) and whether the
    probability is ``expit(response)`` (``logit``) or the response itself."""

    @property
    def kind(self) -> str: ...

    @property
    def logit(self) -> bool: ...

    def response(self, columns: Columns, n: int) -> FloatArray: ...

    def response_row(self, row: Mapping[str, Any]) -> float: ...


class _Calibrator(Protocol):
    def batch(self, response: FloatArray) -> FloatArray: ...

    def row(self, response: float) -> float: ...


def _compile(model: Any, dataset: Declaration) -> FastModel:
    features = dataset.feature_names
    if type(model) is CalibratedClassifierCV:
        return _compile_calibrated(model, dataset)
    base = _compile_base(model, dataset)
    if base.logit:
        return FastModel(
            base.kind,
            features,
            lambda columns, n: _expit(base.response(columns, n)),
            lambda row: float(expit(base.response_row(row))),
        )
    return FastModel(base.kind, features, base.response, base.response_row)


def _expit(values: FloatArray) -> FloatArray:
    out: FloatArray = expit(values)
    return out


def _compile_base(model: Any, dataset: Declaration) -> _Base:
    if type(model) is RuleBaseline:
        return _compile_rules(model, dataset)
    if type(model) is not Pipeline:
        raise _UnsupportedError(
            f"{type(model).__name__} is not a pipeline, rule baseline or calibrator"
        )
    if len(model.steps) != 2:
        raise _UnsupportedError(f"a pipeline of {len(model.steps)} steps, not preprocess -> model")
    preprocess, final = model.steps[0][1], model.steps[1][1]
    names = tuple(getattr(preprocess, "feature_names_in_", ()))
    if names != dataset.feature_names:
        raise _UnsupportedError(
            "the preprocessing was fitted on other columns than the declaration's"
        )
    numeric = set(dataset.numeric_features)
    declared: list[_Source] = [_Number(n) if n in numeric else _Text(n) for n in names]
    sources = _through(preprocess, declared, names)
    if type(final) is HistGradientBoostingClassifier:
        return _compile_trees(final, sources)
    if type(final) is LogisticRegression:
        return _compile_linear(final, sources)
    raise _UnsupportedError(f"final step {type(final).__name__}")


# -- what each model input column is, in terms of the declared features ---------------------


@dataclass(frozen=True)
class _Number:
    """A declared numeric (or boolean) feature, as the float scikit-learn converts it to."""

    name: str


@dataclass(frozen=True)
class _Text:
    """A declared categorical feature as given: a string."""

    name: str


@dataclass(frozen=True)
class _Code:
    """A categorical feature after ordinal encoding: each declared string's code (in order),
    and the code of any other value (unknown or missing)."""

    name: str
    codes: tuple[tuple[str, float], ...]
    other: float


@dataclass(frozen=True)
class _Scaled:
    """A numeric feature standardised: ``(x - mean) / scale``."""

    name: str
    mean: float
    scale: float


@dataclass(frozen=True)
class _Indicator:
    """One one-hot column: 1 where the feature equals ``category``, else 0."""

    name: str
    category: str


_Source = _Number | _Text | _Code | _Scaled | _Indicator


def _through(
    transformer: Any, inputs: Sequence[_Source], names: Sequence[str] | None
) -> list[_Source]:
    """The output columns of a fitted ColumnTransformer, in its output order, as sources."""
    if type(transformer) is not ColumnTransformer or not hasattr(transformer, "transformers_"):
        raise _UnsupportedError(f"preprocessing by {type(transformer).__name__}")
    out: list[_Source] = []
    for _, step, selection in transformer.transformers_:
        picked = [inputs[i] for i in _positions(selection, names, len(inputs))]
        if picked and not (isinstance(step, str) and step == "drop"):
            out.extend(_transform(step, picked))
    return out


def _positions(selection: Any, names: Sequence[str] | None, n: int) -> list[int]:
    """Which input columns a ColumnTransformer entry selects (names, a mask or indices)."""
    if isinstance(selection, str | int | slice) or callable(selection):
        raise _UnsupportedError(f"column selection {selection!r}")
    items = list(selection)
    if not items:
        return []
    if all(isinstance(x, bool | np.bool_) for x in items):
        if len(items) != n:
            raise _UnsupportedError("a column mask of the wrong length")
        return [i for i, x in enumerate(items) if x]
    if all(isinstance(x, str) for x in items):
        if names is None or not set(items) <= set(names):
            raise _UnsupportedError(f"columns {items} not among the inputs")
        return [list(names).index(x) for x in items]
    if all(isinstance(x, int | np.integer) and 0 <= x < n for x in items):
        return [int(x) for x in items]
    raise _UnsupportedError(f"column selection {items!r}")


def _transform(step: Any, picked: list[_Source]) -> list[_Source]:
    if _is_identity(step):
        return picked
    if type(step) is OrdinalEncoder:
        return _ordinal(step, picked)
    if type(step) is StandardScaler:
        return _standardised(step, picked)
    if type(step) is OneHotEncoder:
        return _one_hot(step, picked)
    raise _UnsupportedError(f"{type(step).__name__} in a ColumnTransformer")


def _is_identity(step: Any) -> bool:
    """``passthrough``, or the FunctionTransformers scikit-learn puts in its place (none, or
    the gradient-boosting preprocessor's float conversion)."""
    if isinstance(step, str):
        return step == "passthrough"
    if type(step) is not FunctionTransformer:
        return False
    func = step.func
    return func is None or (
        isinstance(func, functools.partial) and func.func is check_array and not func.args
    )


def _ordinal(encoder: Any, picked: list[_Source]) -> list[_Source]:
    if encoder.handle_unknown != "use_encoded_value":
        raise _UnsupportedError("an OrdinalEncoder that does not encode unknown categories")
    if getattr(encoder, "_infrequent_enabled", False):
        raise _UnsupportedError("an OrdinalEncoder grouping infrequent categories")
    if np.dtype(encoder.dtype) != np.float64 or len(encoder.categories_) != len(picked):
        raise _UnsupportedError("an OrdinalEncoder of another dtype or width")
    unknown, missing = float(encoder.unknown_value), float(encoder.encoded_missing_value)
    return [
        _encoded(source, list(categories), unknown, missing)
        for source, categories in zip(picked, encoder.categories_, strict=True)
    ]


def _encoded(source: _Source, categories: list[Any], unknown: float, missing: float) -> _Code:
    """``source`` through one OrdinalEncoder column: the declared strings (first encoding) or
    the codes of an earlier encoding (the gradient-boosting model re-encodes its input)."""
    if isinstance(source, _Text):
        if not all(isinstance(c, str) for c in categories):
            raise _UnsupportedError(f"{source.name}: categories that are not all strings")
        codes = tuple((c, float(i)) for i, c in enumerate(categories))
        return _Code(source.name, codes, unknown)
    if isinstance(source, _Code):
        if not all(isinstance(c, int | float | np.integer | np.floating) for c in categories):
            raise _UnsupportedError(f"{source.name}: re-encoded categories that are not numbers")
        known = [float(c) for c in categories]
        has_missing = any(math.isnan(c) for c in known)

        def recode(code: float) -> float:
            if math.isnan(code):
                return missing if has_missing else unknown
            return float(known.index(code)) if code in known else unknown

        recoded = tuple((text, recode(code)) for text, code in source.codes)
        return _Code(source.name, recoded, recode(source.other))
    raise _UnsupportedError(f"ordinal encoding of {type(source).__name__}")


def _standardised(scaler: Any, picked: list[_Source]) -> list[_Source]:
    if not all(isinstance(s, _Number) for s in picked) or scaler.n_features_in_ != len(picked):
        raise _UnsupportedError("a StandardScaler on other than numeric features")
    mean = scaler.mean_ if scaler.with_mean else np.zeros(len(picked))
    scale = scaler.scale_ if scaler.with_std else np.ones(len(picked))
    return [
        _Scaled(s.name, float(m), float(d))
        for s, m, d in zip(picked, mean, scale, strict=True)
        if isinstance(s, _Number)
    ]


def _one_hot(encoder: Any, picked: list[_Source]) -> list[_Source]:
    if encoder.handle_unknown not in ("ignore", "warn", "infrequent_if_exist"):
        raise _UnsupportedError("a OneHotEncoder that raises on unknown categories")
    if encoder.drop_idx_ is not None or getattr(encoder, "_infrequent_enabled", False):
        raise _UnsupportedError("a OneHotEncoder that drops or groups categories")
    out: list[_Source] = []
    for source, categories in zip(picked, encoder.categories_, strict=True):
        if not isinstance(source, _Text) or not all(isinstance(c, str) for c in categories):
            raise _UnsupportedError("one-hot encoding of other than declared string categories")
        out.extend(_Indicator(source.name, c) for c in categories)
    return out


def _float(value: Any) -> float:
    """A numeric feature's value as the float64 scikit-learn reads (None as missing)."""
    return math.nan if value is None else float(value)


# -- gradient-boosted trees -----------------------------------------------------------------


@dataclass(frozen=True)
class _NumberSlots:
    """A numeric split feature: slot = how many of its thresholds lie below the value, so
    ``value <= thresholds[k]`` exactly when ``slot <= k``; NaN has the last slot."""

    name: str
    thresholds: tuple[float, ...]
    array: FloatArray

    @property
    def count(self) -> int:
        return len(self.thresholds) + 2

    def row(self, value: Any) -> int:
        x = _float(value)
        return len(self.thresholds) + 1 if x != x else bisect.bisect_left(self.thresholds, x)

    def batch(self, values: npt.NDArray[Any]) -> IndexArray:
        x = np.asarray(values, dtype=np.float64)
        slots: IndexArray = np.searchsorted(self.array, x, side="left")
        slots[np.isnan(x)] = len(self.thresholds) + 1
        return slots

    def children(self, node: np.void, left: int, right: int) -> list[int]:
        """The child each slot leads to at ``node`` (scikit-learn: ``x <= threshold`` goes
        left, NaN follows ``missing_go_to_left``)."""
        k = self.thresholds.index(float(node["num_threshold"]))
        missing = left if node["missing_go_to_left"] else right
        return [left if slot <= k else right for slot in range(len(self.thresholds) + 1)] + [
            missing
        ]


@dataclass(frozen=True)
class _CategorySlots:
    """A categorical split feature: slot = the declared category's position, the last slot
    for any other value; ``codes`` holds each slot's code as the trees see it."""

    name: str
    slot_of: Mapping[str, int]
    codes: tuple[float, ...]
    known_bits: npt.NDArray[np.uint32]

    @property
    def count(self) -> int:
        return len(self.codes)

    def row(self, value: Any) -> int:
        return self.slot_of.get(value, len(self.codes) - 1)

    def batch(self, values: npt.NDArray[Any]) -> IndexArray:
        other, get = len(self.codes) - 1, self.slot_of.get
        return np.fromiter((get(v, other) for v in values), dtype=np.intp, count=len(values))

    def children(
        self, node: np.void, left: int, right: int, left_bits: npt.NDArray[np.uint32]
    ) -> list[int]:
        """scikit-learn's rule: NaN or negative codes follow ``missing_go_to_left``; a code
        in the split's bitset goes left, another known category right, an unknown one as
        missing."""
        missing = left if node["missing_go_to_left"] else right
        out = []
        for code in self.codes:
            if math.isnan(code) or code < 0:
                out.append(missing)
                continue
            if code >= 256:
                raise _UnsupportedError(f"{self.name}: category code {code} beyond a bitset")
            if _in_bitset(left_bits, int(code)):
                out.append(left)
            elif _in_bitset(self.known_bits, int(code)):
                out.append(right)
            else:
                out.append(missing)
        return out


_Slots = _NumberSlots | _CategorySlots


def _in_bitset(bits: npt.NDArray[np.uint32], value: int) -> bool:
    return bool((int(bits[value // 32]) >> (value % 32)) & 1)


@dataclass(frozen=True)
class _Trees:
    """A fitted HistGradientBoostingClassifier as one transition table over all its nodes."""

    slots: tuple[_Slots, ...]
    next_flat: IndexArray  # next[node * width + slot]: the child, or the node itself for leaves
    width: int
    node_base: IndexArray  # node * width
    node_slot: IndexArray  # which slot each node reads (leaves: a constant 0 slot at the end)
    value: FloatArray  # leaf values; node 0 holds the baseline
    roots: IndexArray  # the pseudo-tree, then the trees in scikit-learn's order
    depth: int
    walk_roots: IndexArray  # the same roots, deepest tree first (for batches)
    walk_active: tuple[int, ...]  # trees still inside at each level, in walk order
    walk_position: tuple[int, ...]  # each root's position in walk order
    kind: str = "hist_gradient_boosting"
    logit: bool = True

    def response_row(self, row: Mapping[str, Any]) -> float:
        """The raw score: each node's next node for this row (one gather over all nodes),
        then ``depth`` hops from the roots, then the leaves summed in tree order."""
        slot = [s.row(row[s.name]) for s in self.slots]
        slot.append(0)
        step = self.next_flat.take(
            self.node_base + np.array(slot, dtype=np.intp).take(self.node_slot)
        )
        node = self.roots
        for _ in range(self.depth):
            node = step.take(node)
        return float(np.cumsum(self.value.take(node))[-1])

    def response(self, columns: Columns, n: int) -> FloatArray:
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, ROWS_PER_CHUNK):
            stop = min(n, start + ROWS_PER_CHUNK)
            out[start:stop] = self._walk(columns, start, stop)
        return out

    def _walk(self, columns: Columns, start: int, stop: int) -> FloatArray:
        """Level by level over (trees x rows); trees are ordered deepest first so that each
        level only steps the trees not yet at a leaf."""
        rows = stop - start
        slot = np.zeros((len(self.slots) + 1, rows), dtype=np.intp)
        for i, s in enumerate(self.slots):
            slot[i] = s.batch(columns[s.name][start:stop])
        flat = slot.ravel()
        offsets = np.arange(rows, dtype=np.intp)
        node = np.repeat(self.walk_roots[:, np.newaxis], rows, axis=1)
        for active in self.walk_active:
            part = node[:active]
            index = self.node_slot.take(part)
            index *= rows
            index += offsets
            part *= self.width
            part += flat.take(index)
            node[:active] = self.next_flat.take(part)
        leaf = self.value.take(node)
        raw: FloatArray = leaf[self.walk_position[0]].copy()
        for position in self.walk_position[1:]:
            raw += leaf[position]
        return raw


def _check_binary_logit(model: Any) -> None:
    classes = getattr(model, "classes_", ())
    if len(classes) != 2:
        raise _UnsupportedError(f"{type(model).__name__} with {len(classes)} classes")
    loss = model._loss
    if type(loss) is not HalfBinomialLoss or type(loss.link) is not LogitLink:
        raise _UnsupportedError(f"gradient boosting with loss {type(loss).__name__}")
    if model.n_trees_per_iteration_ != 1:
        raise _UnsupportedError("more than one tree per iteration")


def _compile_trees(model: Any, sources: list[_Source]) -> _Trees:
    _check_binary_logit(model)
    if model._preprocessor is not None:
        sources = _through(model._preprocessor, sources, None)
    if len(sources) != model.n_features_in_:
        raise _UnsupportedError("the model reads another number of columns than it is given")
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    if baseline.size != 1:
        raise _UnsupportedError("a baseline of more than one value")
    trees = [iteration[0].nodes for iteration in model._predictors]
    left_bits = [iteration[0].raw_left_cat_bitsets for iteration in model._predictors]
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    slots, position = _slots_of(trees, sources, known, f_idx_map)
    width = max([s.count for s in slots] + [1])
    sizes = [len(nodes) for nodes in trees]
    n_nodes = 1 + sum(sizes)
    table = np.repeat(np.arange(n_nodes, dtype=np.intp)[:, np.newaxis], width, axis=1)
    node_slot = np.full(n_nodes, len(slots), dtype=np.intp)
    value = np.zeros(n_nodes, dtype=np.float64)
    value[0] = baseline[0]
    roots, depths = [0], [0]
    offset = 1
    for nodes, bits in zip(trees, left_bits, strict=True):
        depths.append(_depth(nodes))
        roots.append(offset)
        for i, node in enumerate(nodes):
            if node["is_leaf"]:
                value[offset + i] = float(node["value"])
                continue
            at = position[int(node["feature_idx"])]
            s = slots[at]
            left, right = offset + int(node["left"]), offset + int(node["right"])
            if isinstance(s, _CategorySlots):
                children = s.children(node, left, right, bits[int(node["bitset_idx"])])
            else:
                children = s.children(node, left, right)
            table[offset + i, : len(children)] = children
            node_slot[offset + i] = at
        offset += len(nodes)
    order = sorted(range(len(roots)), key=lambda t: -depths[t])
    walk_position = [0] * len(roots)
    for place, tree in enumerate(order):
        walk_position[tree] = place
    return _Trees(
        slots=tuple(slots),
        next_flat=table.ravel(),
        width=width,
        node_base=np.arange(n_nodes, dtype=np.intp) * width,
        node_slot=node_slot,
        value=value,
        roots=np.array(roots, dtype=np.intp),
        depth=max(depths),
        walk_roots=np.array([roots[t] for t in order], dtype=np.intp),
        walk_active=tuple(sum(d > level for d in depths) for level in range(max(depths))),
        walk_position=tuple(walk_position),
    )


def _slots_of(
    trees: list[Any],
    sources: list[_Source],
    known: npt.NDArray[np.uint32],
    f_idx_map: npt.NDArray[np.uint32],
) -> tuple[list[_Slots], dict[int, int]]:
    """One slot rule per feature some split reads, and each such feature's position."""
    thresholds: dict[int, set[float]] = {}
    categorical: set[int] = set()
    for nodes in trees:
        for node in nodes[nodes["is_leaf"] == 0]:
            feature = int(node["feature_idx"])
            if node["is_categorical"]:
                categorical.add(feature)
            else:
                threshold = float(node["num_threshold"])
                if math.isnan(threshold):
                    raise _UnsupportedError("a NaN threshold")
                thresholds.setdefault(feature, set()).add(threshold)
    if categorical & set(thresholds):
        raise _UnsupportedError("a feature split both as a number and as a category")
    slots: list[_Slots] = []
    position: dict[int, int] = {}
    for feature in sorted(categorical | set(thresholds)):
        if not 0 <= feature < len(sources):
            raise _UnsupportedError(f"a split on feature {feature} of {len(sources)}")
        source = sources[feature]
        position[feature] = len(slots)
        if feature in categorical:
            if not isinstance(source, _Code):
                raise _UnsupportedError(f"a categorical split on {type(source).__name__}")
            slots.append(
                _CategorySlots(
                    name=source.name,
                    slot_of={text: i for i, (text, _) in enumerate(source.codes)},
                    codes=(*(code for _, code in source.codes), source.other),
                    known_bits=known[f_idx_map[feature]],
                )
            )
        else:
            if not isinstance(source, _Number):
                raise _UnsupportedError(f"a numeric split on {type(source).__name__}")
            ordered = tuple(sorted(thresholds[feature]))
            slots.append(_NumberSlots(source.name, ordered, np.array(ordered, dtype=np.float64)))
    return slots, position


def _depth(nodes: Any) -> int:
    """The tree's depth, from its links (which are also checked to form a tree)."""
    deepest, seen, stack = 0, 0, [(0, 0)]
    while stack:
        i, d = stack.pop()
        seen += 1
        if seen > len(nodes):
            raise _UnsupportedError("tree links that do not form a tree")
        deepest = max(deepest, d)
        if not nodes[i]["is_leaf"]:
            for child in (int(nodes[i]["left"]), int(nodes[i]["right"])):
                if not 0 < child < len(nodes):
                    raise _UnsupportedError("a tree link out of range")
                stack.append((child, d + 1))
    return deepest


# -- logistic regression --------------------------------------------------------------------


@dataclass(frozen=True)
class _Linear:
    """A fitted binary LogisticRegression over standardised numbers and one-hot categories."""

    columns: tuple[_Source, ...]  # the model's input columns, in order (batches)
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
            z += coef * ((_float(row[name]) - mean) / scale)
        for name, table in self.indicators:
            z += table.get(row[name], 0.0)
        return z + self.intercept

    def response(self, columns: Columns, n: int) -> FloatArray:
        """The design matrix scikit-learn would build, times the same coefficients."""
        X = np.zeros((n, len(self.columns)), dtype=np.float64)
        for j, source in enumerate(self.columns):
            if isinstance(source, _Scaled):
                x = np.asarray(columns[source.name], dtype=np.float64)
                X[:, j] = (x - source.mean) / source.scale
            elif isinstance(source, _Number):
                X[:, j] = np.asarray(columns[source.name], dtype=np.float64)
        rows = np.arange(n, dtype=np.intp)
        for name, column_of in self.indicator_columns:
            get = column_of.get
            column = np.fromiter((get(v, -1) for v in columns[name]), dtype=np.intp, count=n)
            hit = column >= 0
            X[rows[hit], column[hit]] = 1.0
        z: FloatArray = (X @ self.coef_t + self.intercept_array).reshape(-1)
        return z


def _compile_linear(model: Any, sources: list[_Source]) -> _Linear:
    if len(getattr(model, "classes_", ())) != 2:
        raise _UnsupportedError("a logistic regression that is not binary")
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.shape != (1, len(sources)):
        raise _UnsupportedError(f"coefficients of shape {coef.shape} for {len(sources)} columns")
    numbers: list[tuple[str, float, float, float]] = []
    indicators: dict[str, dict[str, float]] = {}
    indicator_columns: dict[str, dict[str, int]] = {}
    for j, (source, c) in enumerate(zip(sources, coef[0], strict=True)):
        if isinstance(source, _Scaled):
            numbers.append((source.name, source.mean, source.scale, float(c)))
        elif isinstance(source, _Number):
            numbers.append((source.name, 0.0, 1.0, float(c)))
        elif isinstance(source, _Indicator):
            table = indicators.setdefault(source.name, {})
            table[source.category] = table.get(source.category, 0.0) + float(c)
            if source.category in indicator_columns.setdefault(source.name, {}):
                raise _UnsupportedError(f"{source.name}: the category {source.category!r} twice")
            indicator_columns[source.name][source.category] = j
        else:
            raise _UnsupportedError(f"a logistic regression reading {type(source).__name__}")
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    return _Linear(
        columns=tuple(sources),
        coef_t=model.coef_.T,
        intercept_array=model.intercept_,
        numbers=tuple(numbers),
        indicators=tuple(indicators.items()),
        indicator_columns=tuple(indicator_columns.items()),
        intercept=float(intercept[0]),
    )


# -- the rule baseline ----------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class _Rules:
    """The fitted RuleBaseline: count the flags, look the rate up."""

    rules: tuple[tuple[str, str, Any, bool], ...]  # column, comparison, value, is numeric
    rates: FloatArray
    kind: str = "rule"
    logit: bool = False

    def response_row(self, row: Mapping[str, Any]) -> float:
        flags = 0
        for name, op, value, numeric in self.rules:
            x = _float(row[name]) if numeric else row[name]
            flags += bool(_OPERATORS[op](x, value))
        return float(self.rates[min(flags, len(self.rules))])

    def response(self, columns: Columns, n: int) -> FloatArray:
        flags = np.zeros(n, dtype=int)
        for name, op, value, numeric in self.rules:
            x = np.asarray(columns[name], dtype=np.float64 if numeric else object)
            flags += compare(x, op, value).astype(int)
        out: FloatArray = self.rates[np.minimum(flags, len(self.rules))]
        return out


def _compile_rules(model: Any, dataset: Declaration) -> _Rules:
    rates = np.asarray(getattr(model, "rate_per_flag_count_", ()), dtype=np.float64)
    if len(rates) <= len(model.rules) or len(getattr(model, "classes_", ())) != 2:
        raise _UnsupportedError("an unfitted rule baseline")
    numeric = set(dataset.numeric_features)
    rules = []
    for column, op, value in model.rules:
        if column not in dataset.feature_names or op not in _OPERATORS:
            raise _UnsupportedError(f"a rule {column} {op} {value!r} outside the declaration")
        if column in numeric:
            if isinstance(value, str):
                raise _UnsupportedError(f"a numeric rule against the text {value!r}")
            rules.append((column, op, float(value), True))
        else:
            rules.append((column, op, value, False))
    return _Rules(tuple(rules), rates)


# -- calibration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sigmoid:
    """Platt scaling as scikit-learn applies it: ``expit(-(a * response + b))``."""

    a: float
    b: float

    def batch(self, response: FloatArray) -> FloatArray:
        return _expit(-(self.a * response + self.b))

    def row(self, response: float) -> float:
        return float(expit(-(self.a * response + self.b)))


@dataclass(frozen=True)
class _Isotonic:
    """IsotonicRegression(out_of_bounds='clip') as it predicts: clip to the fitted range,
    then scipy's linear interp1d, which hands float64 data to ``np.interp``."""

    x: FloatArray
    y: FloatArray
    low: float
    high: float

    def batch(self, response: FloatArray) -> FloatArray:
        t = np.clip(response, self.low, self.high)
        if len(self.y) == 1:
            return np.repeat(self.y, t.shape)
        out: FloatArray = np.interp(t, self.x, self.y)
        out[(t < self.x[0]) | (t > self.x[-1])] = np.nan
        return out

    def row(self, response: float) -> float:
        if len(self.y) == 1:
            return float(self.y[0])
        if response != response:
            return math.nan
        t = min(max(response, self.low), self.high)
        if t < self.x[0] or t > self.x[-1]:
            return math.nan
        return float(np.interp(t, self.x, self.y))


def _compile_calibrator(calibrator: Any) -> _Calibrator:
    if type(calibrator) is _SigmoidCalibration:
        return _Sigmoid(float(calibrator.a_), float(calibrator.b_))
    if type(calibrator) is IsotonicRegression and calibrator.out_of_bounds == "clip":
        x = np.asarray(calibrator.X_thresholds_)
        y = np.asarray(calibrator.y_thresholds_)
        if x.dtype != np.float64 or y.dtype != np.float64 or len(x) != len(y) or not len(x):
            raise _UnsupportedError("isotonic thresholds that are not float64 pairs")
        return _Isotonic(x, y, float(calibrator.X_min_), float(calibrator.X_max_))
    raise _UnsupportedError(f"calibrator {type(calibrator).__name__}")


def _compile_calibrated(model: Any, dataset: Declaration) -> FastModel:
    """CalibratedClassifierCV: each member's calibrator on its model's response, rounded as
    scikit-learn rounds, averaged over the members in their order."""
    if len(model.classes_) != 2 or not model.calibrated_classifiers_:
        raise _UnsupportedError("a calibrated classifier that is not binary")
    members: list[tuple[_Base, _Calibrator]] = []
    methods = set()
    for member in model.calibrated_classifiers_:
        if member.method not in ("sigmoid", "isotonic") or len(member.calibrators) != 1:
            raise _UnsupportedError(f"calibration by {member.method!r}")
        estimator = member.estimator
        inner = estimator.estimator if type(estimator) is FrozenEstimator else estimator
        base = _compile_base(inner, dataset)
        if hasattr(estimator, "decision_function") != base.logit:
            raise _UnsupportedError("a calibrator reading another response than compiled")
        members.append((base, _compile_calibrator(member.calibrators[0])))
        methods.add(member.method)
    count = len(members)
    kind = f"{members[0][0].kind}+{'+'.join(sorted(methods))}"
    if count > 1:
        kind += f"x{count}"

    def batch(columns: Columns, n: int) -> FloatArray:
        total = np.zeros(n, dtype=np.float64)
        for base, calibrator in members:
            p = calibrator.batch(base.response(columns, n))
            p[(p > 1.0) & (p <= CALIBRATED_CEILING)] = 1.0
            total += p
        total /= count
        return total

    def row(values: Mapping[str, Any]) -> float:
        total = 0.0
        for base, calibrator in members:
            p = calibrator.row(base.response_row(values))
            total += 1.0 if 1.0 < p <= CALIBRATED_CEILING else p
        return total / count

    return FastModel(kind, dataset.feature_names, batch, row)
