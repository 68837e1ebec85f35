"""What a model reads and what it is judged against, shared by training, evaluation, the gate
and serving: the declared features in the models' order, the 0/1 label, and the score.

It sits below both `models` and `evaluation`, so neither needs the other for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loanrisk.data.declaration import Declaration


def features(frame: pd.DataFrame, dataset: Declaration) -> pd.DataFrame:
    """The model's inputs: the declared feature columns, in the models' order."""
    return frame.loc[:, list(dataset.feature_names)]


def labels(frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    """The label as 0/1 (the contract stores the positive value as 1)."""
    return frame[dataset.label.column].to_numpy(dtype=int)


def score(model: Any, frame: pd.DataFrame, dataset: Declaration) -> np.ndarray:
    """Each row's probability of the positive label; the model sees the feature columns
    only, never the protected attributes, whatever else the frame holds."""
    p: np.ndarray = model.predict_proba(features(frame, dataset))[:, 1]
    return p
