"""The calibrators of a CalibratedClassifierCV, on the compiled model's response.

Isotonic calibration is read from IsotonicRegression's public fitted attributes
(``X_thresholds_``, ``y_thresholds_``, ``X_min_``, ``X_max_``) and repeats its ``np.interp``.
Platt (sigmoid) scaling is a private class of scikit-learn's; only its public fitted ``a_``
and ``b_`` are read, by the member's public ``method == "sigmoid"``, and the formula is then
checked against the calibrator's own public ``predict`` on a small array of scores: if they
differ in any bit, the model is not compiled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from loanrisk.fastpath.encoding import UnsupportedError

FloatArray = npt.NDArray[np.float64]
PROBE = np.array([-40.0, -7.5, -1.0, -0.1, 0.0, 1e-3, 0.3, 2.0, 9.0, 40.0, np.nan])
"""Scores the compiled sigmoid must map exactly as the calibrator's ``predict`` does."""


def expit_array(values: FloatArray) -> FloatArray:
    out: FloatArray = expit(values)
    return out


class Calibrator(Protocol):
    def batch(self, response: FloatArray) -> FloatArray: ...

    def row(self, response: float) -> float: ...


@dataclass(frozen=True)
class Sigmoid:
    """Platt scaling as scikit-learn applies it: ``expit(-(a * response + b))``."""

    a: float
    b: float

    def batch(self, response: FloatArray) -> FloatArray:
        return expit_array(-(self.a * response + self.b))

    def row(self, response: float) -> float:
        return float(expit(-(self.a * response + self.b)))


@dataclass(frozen=True)
class Isotonic:
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


def compile_calibrator(method: str, calibrator: Any) -> Calibrator:
    """The compiled form of one member's calibrator (``method`` as the member names it)."""
    if method == "sigmoid":
        compiled = Sigmoid(float(calibrator.a_), float(calibrator.b_))
        expected = np.asarray(calibrator.predict(PROBE), dtype=np.float64)
        if not np.array_equal(compiled.batch(PROBE), expected, equal_nan=True):
            raise UnsupportedError("a sigmoid calibrator that is not expit(-(a * s + b))")
        return compiled
    if type(calibrator) is IsotonicRegression and calibrator.out_of_bounds == "clip":
        x = np.asarray(calibrator.X_thresholds_)
        y = np.asarray(calibrator.y_thresholds_)
        if x.dtype != np.float64 or y.dtype != np.float64 or len(x) != len(y) or not len(x):
            raise UnsupportedError("isotonic thresholds that are not float64 pairs")
        return Isotonic(x, y, float(calibrator.X_min_), float(calibrator.X_max_))
    raise UnsupportedError(f"calibration by {method!r} ({type(calibrator).__name__})")
