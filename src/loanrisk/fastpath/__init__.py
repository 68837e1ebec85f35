"""A compiled inference path: the fitted model, re-expressed once on plain numpy arrays.

Serving one application through the reference pipeline spends nearly all its time in pandas
and the ColumnTransformer (5-11 ms a row), not in the model. :func:`compile_model` reads the
fitted model once, at load time, into lookup tables and coefficient vectors that answer for a
mapping of feature name -> value (one application) or feature name -> 1-D array (a batch).

Nothing is read from scikit-learn's private internals (``tests/code/test_private_names.py``
checks it): the encoders, scaler, logistic regression and calibrators by their public fitted
attributes (:mod:`.encoding`, :mod:`.linear`, :mod:`.calibration`); the gradient-boosted
trees through treelite's maintained importer and its public model dump (:mod:`.trees`, which
says why the walk is ours and not ``treelite.gtil``'s). A model of a shape this package does
not recognise compiles to ``None``, never to a guess, and the caller serves it through the
reference pipeline instead.

Exactness is by construction, not by tolerance: each evaluator repeats scikit-learn's
arithmetic in scikit-learn's order where the order can matter (the trees' sum starts at the
baseline and adds the trees one by one, the calibrators call the same ``np.interp`` and
``expit``), because an isotonic calibrator can turn an ulp of difference in its input into a
visible difference in its output. ``tests/fastpath/test_fastpath.py`` holds it to 1e-9.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from loanrisk.data.declaration import Declaration
from loanrisk.fastpath.calibration import Calibrator, compile_calibrator, expit_array
from loanrisk.fastpath.encoding import Number, Source, Text, UnsupportedError, through
from loanrisk.fastpath.linear import compile_linear, compile_rules
from loanrisk.fastpath.trees import Trees, from_treelite, model_input, verify
from loanrisk.models.rules import RuleBaseline

__all__ = ["FastModel", "columns_from_frame", "compile_model"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Columns = Mapping[str, npt.NDArray[Any]]

CALIBRATED_CEILING = 1.0 + 1e-5
"""scikit-learn rounds calibrated probabilities in (1, 1 + 1e-5] down to 1; so do we."""


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

    Never raises: any surprise while reading the fitted model means "not understood", so the
    caller falls back to the reference pipeline rather than failing to load. The reason is
    logged.
    """
    try:
        return _compile(model, dataset)
    except UnsupportedError as reason:
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


def _compile(model: Any, dataset: Declaration) -> FastModel:
    features = dataset.feature_names
    if type(model) is CalibratedClassifierCV:
        return _compile_calibrated(model, dataset)
    base = _compile_base(model, dataset)
    if base.logit:
        return FastModel(
            base.kind,
            features,
            lambda columns, n: expit_array(base.response(columns, n)),
            lambda row: float(expit(base.response_row(row))),
        )
    return FastModel(base.kind, features, base.response, base.response_row)


def _compile_base(model: Any, dataset: Declaration) -> _Base:
    if type(model) is RuleBaseline:
        return compile_rules(model, dataset)
    if type(model) is not Pipeline:
        raise UnsupportedError(
            f"{type(model).__name__} is not a pipeline, rule baseline or calibrator"
        )
    if len(model.steps) != 2:
        raise UnsupportedError(f"a pipeline of {len(model.steps)} steps, not preprocess -> model")
    preprocess, final = model.steps[0][1], model.steps[1][1]
    names = tuple(getattr(preprocess, "feature_names_in_", ()))
    if names != dataset.feature_names:
        raise UnsupportedError(
            "the preprocessing was fitted on other columns than the declaration's"
        )
    numeric = set(dataset.numeric_features)
    declared: list[Source] = [Number(n) if n in numeric else Text(n) for n in names]
    sources = through(preprocess, declared, names)
    if type(final) is HistGradientBoostingClassifier:
        return _compile_trees(final, sources)
    if type(final) is LogisticRegression:
        return compile_linear(final, sources)
    raise UnsupportedError(f"final step {type(final).__name__}")


def _compile_calibrated(model: Any, dataset: Declaration) -> FastModel:
    """CalibratedClassifierCV: each member's calibrator on its model's response, rounded as
    scikit-learn rounds, averaged over the members in their order."""
    if len(model.classes_) != 2 or not model.calibrated_classifiers_:
        raise UnsupportedError("a calibrated classifier that is not binary")
    members: list[tuple[_Base, Calibrator]] = []
    methods = set()
    for member in model.calibrated_classifiers_:
        if member.method not in ("sigmoid", "isotonic") or len(member.calibrators) != 1:
            raise UnsupportedError(f"calibration by {member.method!r}")
        estimator = member.estimator
        inner = estimator.estimator if type(estimator) is FrozenEstimator else estimator
        base = _compile_base(inner, dataset)
        if hasattr(estimator, "decision_function") != base.logit:
            raise UnsupportedError("a calibrator reading another response than compiled")
        members.append((base, compile_calibrator(member.method, member.calibrators[0])))
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


def _compile_trees(model: Any, sources: list[Source]) -> Trees:
    """treelite imports the fitted trees; the walk is checked against the model's own
    ``decision_function`` on rows that reach every split."""
    import treelite.sklearn

    if len(getattr(model, "classes_", ())) != 2 or model.n_trees_per_iteration_ != 1:
        raise UnsupportedError("gradient boosting that is not a binary classifier")
    trees = from_treelite(treelite.sklearn.import_model(model), sources)

    def decision(columns: Mapping[str, npt.NDArray[Any]], n: int) -> FloatArray:
        # One OpenMP thread: on busy cores (workers loading together) the trees' threads
        # otherwise wait on each other for seconds.
        with threadpool_limits(limits=1, user_api="openmp"):
            scores: FloatArray = model.decision_function(model_input(sources, columns, n))
        return scores

    verify(trees, decision)
    return trees
