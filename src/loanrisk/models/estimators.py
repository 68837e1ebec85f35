"""The models, each a scikit-learn estimator over the declared feature columns.

One evaluation, logging and serving path serves them all because every model, the rule
baseline included, takes the raw feature frame and answers ``predict_proba``.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from loanrisk.config import CandidateConfig, LogisticConfig
from loanrisk.data.declaration import Declaration
from loanrisk.models.rules import RuleBaseline


def _category_lists(dataset: Declaration) -> list[list[str]]:
    return [list(dataset.categories[c]) for c in dataset.categorical_features]


def build_rule(dataset: Declaration) -> RuleBaseline:
    """The declaration's red flags (``rule_baseline``) as an estimator."""
    return RuleBaseline(rules=tuple((f.column, f.op, f.value) for f in dataset.rule_baseline))


def build_logistic(config: LogisticConfig, dataset: Declaration) -> Pipeline:
    """Scaled numbers and one-hot categories into an L2 logistic regression."""
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(dataset.numeric_features)),
            (
                "categorical",
                OneHotEncoder(
                    categories=_category_lists(dataset),
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                list(dataset.categorical_features),
            ),
        ]
    )
    model = LogisticRegression(C=config.C, max_iter=config.max_iter)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def build_candidate(config: CandidateConfig, dataset: Declaration, seed: int) -> Pipeline:
    """Gradient-boosted trees with native categorical splits (unknown categories as missing).

    The features declared ``monotone`` constrain the trees: domain knowledge the candidate
    may not contradict (for loans, risk never falls with more delinquencies, debt or
    utilisation, and never rises with income).
    """
    numeric, categorical = dataset.numeric_features, dataset.categorical_features
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    categories=_category_lists(dataset),
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                ),
                list(categorical),
            ),
            ("numeric", "passthrough", list(numeric)),
        ]
    )
    n_categorical = len(categorical)
    is_categorical = [True] * n_categorical + [False] * len(numeric)
    monotone = dataset.monotone
    model = HistGradientBoostingClassifier(
        learning_rate=config.learning_rate,
        max_iter=config.max_iter,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        early_stopping=config.early_stopping,
        categorical_features=is_categorical,
        monotonic_cst=[0] * n_categorical + [monotone.get(c, 0) for c in numeric],
        random_state=seed,
    )
    return Pipeline([("preprocess", preprocess), ("model", model)])
