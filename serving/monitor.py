"""Online monitoring: drift and live quality measured inside the service.

Three pieces, all against the served model's reference profile
(:mod:`loanrisk.monitoring.profile`):

- **per-bin counters** for Prometheus (``loanrisk_drift_bin_total{feature, bin}``) and the
  profile's reference shares beside them (``loanrisk_drift_reference_share``). Prometheus sums
  the counters of every replica and its recording rules compute PSI from them
  (``serving/prometheus/rules.yml``): no replica holds shared state. A request only adds one
  to a numpy array; the counters are brought up to date in bulk, every second and before a
  scrape, because incrementing seventeen labelled counters per request cost more than
  scoring it;
- a **window** of the most recent requests' bins (a fixed-size ring, so memory does not grow
  with traffic) behind ``GET /drift``, judged by the same engine as the offline report;
- **live quality**: predictions remembered by application id (a bounded map), joined with
  the outcomes that ``POST /feedback`` reports; over a window of matured outcomes, ROC-AUC,
  calibration error, the positive rate and the approval rate by protected group. An
  outcome reported to a replica that did not score the application does not join here
  (counted as ``joined="false"``); the offline monitor joins the captures of all replicas.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.metrics import expected_calibration_error
from loanrisk.evaluation.policy import APPROVE
from loanrisk.monitoring.drift import Thresholds, compare
from loanrisk.monitoring.profile import SCORE, Profile, smoothed
from serving import metrics

FLUSH_INTERVAL_S = 1.0
MIN_OUTCOMES = 200
"""Fewer matured outcomes than this in the window: live quality is not reported (a ROC-AUC of
fifty outcomes swings by ten points)."""


class OnlineMonitor:
    """Bins every scored application; answers drift and live quality on demand.

    ``window`` is how many recent applications ``GET /drift`` judges; ``remember`` how many
    predictions wait for their outcome; ``outcomes`` how many matured outcomes live quality
    is computed over. Thread-safe: requests arrive on the event loop and the prediction pool.
    """

    def __init__(
        self,
        profile: Profile,
        dataset: Declaration,
        thresholds: Thresholds,
        window: int = 5_000,
        remember: int = 100_000,
        outcomes: int = 5_000,
        export: bool = True,
    ) -> None:
        self.profile = profile
        self.dataset = dataset
        self.thresholds = thresholds
        names = [*dataset.feature_names, SCORE]
        missing = [n for n in names if n not in profile.features]
        if missing:
            raise ValueError(f"the profile has no bins for {missing}")
        self._binned = [profile.features[n] for n in names]
        self._width = max(f.n_bins for f in self._binned)
        self._rows = np.arange(len(names))
        self._ring = np.zeros((window, len(names)), dtype=np.int16)
        self._window_counts = np.zeros((len(names), self._width), dtype=np.int64)
        self._totals = np.zeros((len(names), self._width), dtype=np.int64)
        self._exported = np.zeros_like(self._totals)
        self._position = 0
        self._filled = 0
        self._lock = threading.Lock()
        self._pending: collections.OrderedDict[str, tuple[float, str, dict[str, Any]]] = (
            collections.OrderedDict()
        )
        self._remember = remember
        self._matured: collections.deque[tuple[float, int, str, dict[str, Any]]] = (
            collections.deque(maxlen=outcomes)
        )
        self._quality_dirty = False
        self._export = export
        self._children: list[list[Any]] = []
        if export:
            self._children = [
                [metrics.child(metrics.DRIFT_BINS, f.name, label) for label in f.labels()]
                for f in self._binned
            ]
            for feature in self._binned:
                shares = smoothed(np.array(feature.counts), thresholds.pseudo_count)
                for label, share in zip(feature.labels(), shares, strict=True):
                    metrics.REFERENCE_SHARE.labels(feature.name, label).set(float(share))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ---------------------------------------------------------------------

    def observe(self, application: Mapping[str, Any], score: float) -> None:
        """Count one scored application in its bins (about ten microseconds)."""
        bins = [f.bin_of_one(application.get(f.name)) for f in self._binned[:-1]]
        bins.append(self._binned[-1].bin_of_one(score))
        with self._lock:
            ring = self._ring[self._position]
            if self._filled == len(self._ring):
                self._window_counts[self._rows, ring] -= 1
            else:
                self._filled += 1
            ring[:] = bins
            self._window_counts[self._rows, bins] += 1
            self._totals[self._rows, bins] += 1
            self._position = (self._position + 1) % len(self._ring)

    def remember(
        self, application_id: str, score: float, decision: str, groups: dict[str, Any]
    ) -> None:
        """Keep a prediction until its outcome arrives (the oldest is forgotten first)."""
        with self._lock:
            self._pending[application_id] = (score, decision, groups)
            self._pending.move_to_end(application_id)
            while len(self._pending) > self._remember:
                self._pending.popitem(last=False)

    def outcome(self, application_id: str, outcome: int) -> bool:
        """Join an observed outcome to its prediction; False when it is not remembered here."""
        with self._lock:
            found = self._pending.pop(application_id, None)
            if found is not None:
                score, decision, groups = found
                self._matured.append((score, outcome, decision, groups))
                self._quality_dirty = True
        metrics.child(metrics.FEEDBACK, "true" if found else "false").inc()
        return found is not None

    # -- reading ------------------------------------------------------------------------------

    def drift(self) -> dict[str, Any]:
        """The window judged against the profile by the offline report's engine."""
        with self._lock:
            counts = self._window_counts.astype(np.float64)
            rows = self._filled
        report = compare(
            self.profile, {}, self.thresholds, current_counts=counts, rows=rows
        ).to_dict()
        report["window"] = {"size": len(self._ring), "filled": rows}
        return report

    def quality(self) -> dict[str, Any]:
        """Live quality over the matured outcomes in the window."""
        with self._lock:
            matured = list(self._matured)
        n = len(matured)
        out: dict[str, Any] = {"outcomes": n, "min_outcomes": MIN_OUTCOMES}
        if n == 0:
            return out
        p = np.array([m[0] for m in matured])
        y = np.array([m[1] for m in matured])
        out["positive_rate"] = float(y.mean())
        out["mean_score"] = float(p.mean())
        if n >= MIN_OUTCOMES and 0 < y.sum() < n:
            out["roc_auc"] = float(roc_auc_score(y, p))
            out["ece"] = expected_calibration_error(y, p)
        frame = pd.DataFrame([m[3] for m in matured])
        approved = np.array([m[2] == APPROVE for m in matured])
        by_group: dict[str, dict[str, float]] = {}
        for group, column in self.dataset.group_names.items():
            if column not in frame or frame[column].isna().all():
                continue
            known = frame[column].notna().to_numpy()
            labels = self.dataset.group(frame[known], group)
            rates = pd.Series(approved[known]).groupby(labels.to_numpy()).mean()
            by_group[group] = {str(k): float(v) for k, v in rates.items()}
        out["approval_rate"] = by_group
        return out

    # -- Prometheus ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Bring the counters (and the live quality gauges) up to date."""
        if not self._export:
            return
        with self._lock:
            delta = self._totals - self._exported
            self._exported = self._totals.copy()
            dirty, self._quality_dirty = self._quality_dirty, False
        for i, j in zip(*np.nonzero(delta), strict=True):
            self._children[i][j].inc(int(delta[i, j]))
        if dirty:
            self._export_quality()

    def _export_quality(self) -> None:
        quality = self.quality()
        metrics.LIVE_OUTCOMES.set(quality["outcomes"])
        for key, gauge in (
            ("roc_auc", metrics.LIVE_ROC_AUC),
            ("ece", metrics.LIVE_ECE),
            ("positive_rate", metrics.LIVE_POSITIVE_RATE),
        ):
            gauge.set(quality.get(key, float("nan")))
        for group, rates in quality.get("approval_rate", {}).items():
            for value, rate in rates.items():
                metrics.LIVE_APPROVAL_RATE.labels(group, value).set(rate)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._flush_forever, name="monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _flush_forever(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self.flush()
