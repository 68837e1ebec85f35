"""The compiled fast path gives the reference pipeline's probabilities, or declines.

Every model the gate can promote (the rule baseline, the logistic pipeline, the candidate
with each calibration method) is compiled and compared with ``predict_proba`` on the whole
test split, on random valid applications (including values exactly on the trees'
thresholds, where ``<=`` against ``<`` would show), on missing numbers and on unknown
categories. A model of another shape must compile to ``None``, never to a guess.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.fastpath import FastModel, columns_from_frame, compile_model
from loanrisk.models.estimators import build_candidate
from loanrisk.models.train import features, fit_model, labels
from tests.conftest import LOANS

TOLERANCE = 1e-9
MODELS = ("rule", "logistic", "candidate-none", "candidate-sigmoid", "candidate-isotonic")
KINDS = {
    "rule": "rule",
    "logistic": "logistic",
    "candidate-none": "hist_gradient_boosting",
    "candidate-sigmoid": "hist_gradient_boosting+sigmoid",
    "candidate-isotonic": "hist_gradient_boosting+isotonic",
}
TREES = ("candidate-none", "candidate-sigmoid", "candidate-isotonic")


def _fit(name: str, params: Params, splits: dict[str, pd.DataFrame]) -> Any:
    if not name.startswith("candidate-"):
        return fit_model(name, params, LOANS, splits).estimator
    method = name.removeprefix("candidate-")
    candidate = params.train.candidate.model_copy(update={"calibration": method})
    train = params.train.model_copy(update={"candidate": candidate})
    return fit_model(
        "candidate", params.model_copy(update={"train": train}), LOANS, splits
    ).estimator


@pytest.fixture(scope="module")
def fitted(params: Params, splits: dict[str, pd.DataFrame]) -> dict[str, Any]:
    with threadpool_limits(1, "openmp"):
        return {name: _fit(name, params, splits) for name in MODELS}


@pytest.fixture(scope="module")
def compiled(fitted: dict[str, Any], loans: Declaration) -> dict[str, FastModel]:
    out = {}
    for name, model in fitted.items():
        fast = compile_model(model, loans)
        assert fast is not None, name
        out[name] = fast
    return out


def reference(model: Any, frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    """The reference pipeline's answer, on one OpenMP thread: on busy cores, the trees'
    threads otherwise wait on each other for longer than they compute."""
    with warnings.catch_warnings(), threadpool_limits(1, "openmp"):
        warnings.filterwarnings("ignore", message="Found unknown categories")
        p: np.ndarray = model.predict_proba(features(frame, dataset))[:, 1]
    return p


def fast_batch(fast: FastModel, frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    return fast.predict_positive(columns_from_frame(frame, dataset))


def fast_rows(fast: FastModel, frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    rows = cast(list[dict[str, Any]], features(frame, dataset).to_dict("records"))
    return np.array([fast.predict_positive_row(row) for row in rows])


def assert_same(expected: np.ndarray, got: np.ndarray, equal_nan: bool = False) -> None:
    assert got.shape == expected.shape
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE, equal_nan=equal_nan)


# -- the models the gate can promote ---------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_compiles_to_its_kind(name: str, compiled: dict[str, FastModel]) -> None:
    assert compiled[name].kind == KINDS[name]


@pytest.mark.parametrize("name", MODELS)
def test_same_probabilities_and_decisions_on_the_test_split(
    name: str,
    fitted: dict[str, Any],
    compiled: dict[str, FastModel],
    splits: dict[str, pd.DataFrame],
    loans: Declaration,
    params: Params,
) -> None:
    test = splits["test"]
    expected = reference(fitted[name], test, loans)
    batch = fast_batch(compiled[name], test, loans)
    rows = fast_rows(compiled[name], test, loans)
    assert_same(expected, batch)
    assert_same(expected, rows)
    problem = params.problem
    threshold = cost_optimal_threshold(problem.cost_approve_default, problem.cost_reject_good)
    decisions = expected >= threshold
    assert np.array_equal(batch >= threshold, decisions)
    assert np.array_equal(rows >= threshold, decisions)
    assert 0 < decisions.mean() < 1, "the threshold decides both ways on the test split"


def test_the_batch_walks_chunks_and_single_rows_alike(
    compiled: dict[str, FastModel], splits: dict[str, pd.DataFrame], loans: Declaration
) -> None:
    """Batches longer than one chunk, and of one row, give each row its own answer."""
    fast = compiled["candidate-isotonic"]
    test = splits["test"].iloc[:1500]
    whole = fast_batch(fast, test, loans)
    one_by_one = np.concatenate([fast_batch(fast, test.iloc[[i]], loans) for i in range(20)])
    assert np.array_equal(whole[:20], one_by_one)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("name", ["rule", "logistic"])
def test_calibrating_the_other_models_compiles_too(
    name: str,
    method: str,
    fitted: dict[str, Any],
    splits: dict[str, pd.DataFrame],
    loans: Declaration,
) -> None:
    """A calibrator reads the decision function where a model has one (logistic) and the
    probability where it has not (rule): the compiled path must read the same."""
    X, y = features(splits["valid"], loans), labels(splits["valid"], loans)
    model = CalibratedClassifierCV(FrozenEstimator(fitted[name]), method=method).fit(X, y)
    fast = compile_model(model, loans)
    assert fast is not None and fast.kind == f"{name}+{method}"
    expected = reference(model, splits["test"], loans)
    assert_same(expected, fast_batch(fast, splits["test"], loans))
    assert_same(expected, fast_rows(fast, splits["test"], loans))


# -- random valid applications ----------------------------------------------------------------


def tree_thresholds(model: Any) -> dict[str, list[float]]:
    """The candidate's numeric split points by feature name: the values where ``<=``
    against ``<`` decides, which uniform random floats would almost never hit."""
    pipeline = model.calibrated_classifiers_[0].estimator.estimator
    preprocess, trees = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    names = [c for label, _, cols in preprocess.transformers_ if label != "remainder" for c in cols]
    binned = trees._bin_mapper
    return {
        name: [float(t) for t in binned.bin_thresholds_[i]]
        for i, name in enumerate(names)
        if not binned.is_categorical_[i]
    }


def application(dataset: Declaration, thresholds: dict[str, list[float]]) -> Any:
    """Random applications inside the declared ranges and categories."""
    fields = {}
    for name, f in dataset.features.items():
        strategy: st.SearchStrategy[Any]
        if f.type == "category":
            strategy = st.sampled_from(f.categories or ())
        elif f.type == "boolean":
            strategy = st.booleans()
        elif f.type == "integer":
            if f.values:
                strategy = st.sampled_from(f.values)
            else:
                low, high = f.range or (0, 100)
                strategy = st.integers(int(low), int(high))
        else:
            low, high = f.range or (-1e6, 1e6)
            strategy = st.floats(float(low), float(high))
            edges = [t for t in thresholds.get(name, []) if low <= t <= high]
            if edges:
                strategy = st.one_of(strategy, st.sampled_from(edges))
        fields[name] = strategy
    return st.fixed_dictionaries(fields)


def frame_of(rows: list[dict[str, Any]], dataset: Declaration) -> pd.DataFrame:
    """The rows with the dtypes the contract gives real data."""
    dtypes = {"float": "float64", "integer": "int64", "boolean": "bool", "category": "str"}
    frame = pd.DataFrame(rows, columns=list(dataset.feature_names))
    return frame.astype({n: dtypes[f.type] for n, f in dataset.features.items()})


def test_same_probabilities_on_random_applications(
    fitted: dict[str, Any], compiled: dict[str, FastModel], loans: Declaration
) -> None:
    thresholds = tree_thresholds(fitted["candidate-isotonic"])
    assert thresholds, "the candidate splits on numbers"

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(application(loans, thresholds), min_size=1, max_size=16))
    def check(rows: list[dict[str, Any]]) -> None:
        frame = frame_of(rows, loans)
        for name in MODELS:
            expected = reference(fitted[name], frame, loans)
            assert_same(expected, fast_batch(compiled[name], frame, loans))
            assert_same(expected, np.array([compiled[name].predict_positive_row(r) for r in rows]))

    check()


# -- inputs the service refuses at the door, which must still not crash ----------------------


def test_missing_numbers_go_where_scikit_learn_sends_them(
    fitted: dict[str, Any],
    compiled: dict[str, FastModel],
    splits: dict[str, pd.DataFrame],
    loans: Declaration,
) -> None:
    frame = splits["test"].iloc[:40].copy()
    # Booleans stay booleans: with every numeric column float64 the reference candidate
    # pipeline itself raises (its trees' inner encoder was fitted on object-dtype codes).
    numeric = [n for n in loans.numeric_features if loans.features[n].type != "boolean"]
    frame = frame.astype({name: "float64" for name in numeric})
    for i, name in enumerate(numeric):
        frame.loc[frame.index[i], name] = np.nan
    frame.loc[frame.index[len(numeric) :: 3], numeric] = np.nan
    for name in (*TREES, "rule"):
        expected = reference(fitted[name], frame, loans)
        assert_same(expected, fast_batch(compiled[name], frame, loans))
        assert_same(expected, fast_rows(compiled[name], frame, loans))
    # The logistic pipeline refuses missing values; the fast path answers NaN, not a number.
    assert np.isnan(fast_batch(compiled["logistic"], frame, loans)[: len(numeric)]).all()
    assert np.isnan(fast_rows(compiled["logistic"], frame, loans)[: len(numeric)]).all()


def test_unknown_categories_score_as_scikit_learn_scores_them(
    fitted: dict[str, Any],
    compiled: dict[str, FastModel],
    splits: dict[str, pd.DataFrame],
    loans: Declaration,
) -> None:
    frame = splits["test"].iloc[:60].copy()
    for k, name in enumerate(loans.categorical_features):
        frame[name] = frame[name].astype(object)
        frame.loc[frame.index[k::4], name] = f"not-a-{name}"
    for name in MODELS:
        expected = reference(fitted[name], frame, loans)
        assert_same(expected, fast_batch(compiled[name], frame, loans))
        assert_same(expected, fast_rows(compiled[name], frame, loans))


def test_columns_must_be_complete_and_aligned(
    compiled: dict[str, FastModel], splits: dict[str, pd.DataFrame], loans: Declaration
) -> None:
    columns = columns_from_frame(splits["test"].iloc[:5], loans)
    fast = compiled["candidate-none"]
    with pytest.raises(KeyError, match="income"):
        fast.predict_positive({k: v for k, v in columns.items() if k != "income"})
    with pytest.raises(ValueError, match="one length"):
        fast.predict_positive({**columns, "income": columns["income"][:3]})


# -- shapes the fast path does not know -------------------------------------------------------


def _random_forest(splits: dict[str, pd.DataFrame], dataset: Declaration) -> Pipeline:
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    preprocess = ColumnTransformer(
        [
            ("categorical", encode, list(dataset.categorical_features)),
            ("numeric", "passthrough", list(dataset.numeric_features)),
        ]
    )
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    pipeline = Pipeline([("preprocess", preprocess), ("model", forest)])
    X, y = features(splits["train"], dataset), labels(splits["train"], dataset)
    return pipeline.fit(X, y)


def _temperature(fitted: dict[str, Any], splits: dict[str, pd.DataFrame]) -> Any:
    X, y = features(splits["valid"], LOANS), labels(splits["valid"], LOANS)
    model = FrozenEstimator(fitted["candidate-none"])
    return CalibratedClassifierCV(model, method="temperature").fit(X, y)


def unsupported(
    shape: str, fitted: dict[str, Any], splits: dict[str, pd.DataFrame], params: Params
) -> Any:
    if shape == "a random forest pipeline":
        return _random_forest(splits, LOANS)
    if shape == "temperature scaling":
        return _temperature(fitted, splits)
    if shape == "an unfitted candidate":
        return build_candidate(params.train.candidate, LOANS, params.seed)
    if shape == "the trees without their preprocessing":
        return fitted["candidate-none"].named_steps["model"]
    if shape == "any object":
        return object()
    return None


SHAPES = (
    "a random forest pipeline",
    "temperature scaling",
    "an unfitted candidate",
    "the trees without their preprocessing",
    "any object",
    "nothing",
)


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unknown_shape_compiles_to_none(
    shape: str,
    fitted: dict[str, Any],
    splits: dict[str, pd.DataFrame],
    params: Params,
    loans: Declaration,
) -> None:
    assert compile_model(unsupported(shape, fitted, splits, params), loans) is None
