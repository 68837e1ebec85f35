"""The models, each a scikit-learn estimator over the contract's feature columns.

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

from loanrisk.config import CandidateConfig, LogisticConfig, RuleConfig
from loanrisk.data.contract import CATEGORICAL_FEATURES, CATEGORIES, NUMERIC_FEATURES
from loanrisk.models.rules import RuleBaseline

_CATEGORY_LISTS = [list(CATEGORIES[c]) for c in CATEGORICAL_FEATURES]

MONOTONE = {
    "past_delinquencies": 1,
    "debt_to_income": 1,
    "credit_utilization": 1,
    "income": -1,
}
"""Domain knowledge the candidate may not contradict: risk never falls with more
delinquencies, debt or utilisation, and never rises with income. The behavioural tests
check the same promises on every trained model."""


def build_rule(config: RuleConfig) -> RuleBaseline:
    return RuleBaseline(
        max_delinquencies=config.max_delinquencies,
        max_debt_to_income=config.max_debt_to_income,
        max_credit_utilization=config.max_credit_utilization,
    )


def build_logistic(config: LogisticConfig) -> Pipeline:
    """Scaled numbers and one-hot categories into an L2 logistic regression."""
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(NUMERIC_FEATURES)),
            (
                "categorical",
                OneHotEncoder(
                    categories=_CATEGORY_LISTS, handle_unknown="ignore", sparse_output=False
                ),
                list(CATEGORICAL_FEATURES),
            ),
        ]
    )
    model = LogisticRegression(C=config.C, max_iter=config.max_iter)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def build_candidate(config: CandidateConfig, seed: int) -> Pipeline:
    """Gradient-boosted trees with native categorical splits (unknown categories as missing)."""
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    categories=_CATEGORY_LISTS,
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                ),
                list(CATEGORICAL_FEATURES),
            ),
            ("numeric", "passthrough", list(NUMERIC_FEATURES)),
        ]
    )
    n_categorical = len(CATEGORICAL_FEATURES)
    is_categorical = [True] * n_categorical + [False] * len(NUMERIC_FEATURES)
    model = HistGradientBoostingClassifier(
        learning_rate=config.learning_rate,
        max_iter=config.max_iter,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        early_stopping=config.early_stopping,
        categorical_features=is_categorical,
        monotonic_cst=[0] * n_categorical + [MONOTONE.get(c, 0) for c in NUMERIC_FEATURES],
        random_state=seed,
    )
    return Pipeline([("preprocess", preprocess), ("model", model)])
