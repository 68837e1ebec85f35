"""Online monitoring: drift and live quality measured inside the service.

Three pieces, all against the served model's reference profile
(:mod:`loanrisk.monitoring.profile`):

- **per-bin counters** for Prometheus (``loanrisk_drift_bin_total{feature, bin}``) and the
  profile's reference shares beside them (``loanrisk_drift_reference_share``). Prometheus sums
  the counters of every replica and its recording rules compute PSI from them
  (``serving/prometheus/rules.yml``): no replica holds shared state. A request only adds one
  to plain Python lists; the counters are brought up to date in bulk, every second and
  before a scrape, because incrementing seventeen labelled counters per request cost more
  than scoring it (and numpy's fancy indexing, 13 µs for three updates of one row, cost
  three times the lists' loop: `make bench-drift`);
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

from loanrisk.config import MonitorConfig
from loanrisk.data.declaration import Declaration
from loanrisk.evaluation.policy import APPROVE
from loanrisk.monitoring.drift import compare
from loanrisk.monitoring.profile import SCORE, Profile, smoothed
from loanrisk.monitoring.quality import MIN_OUTCOMES, protected_groups, quality
from serving import metrics
from serving.settings import Settings

FLUSH_INTERVAL_S = 1.0


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
        thresholds: MonitorConfig,
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
        self._ring: list[list[int] | None] = [None] * window
        self._window_counts = [[0] * f.n_bins for f in self._binned]
        self._totals = [[0] * f.n_bins for f in self._binned]
        self._exported = [[0] * f.n_bins for f in self._binned]
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
            # Unknown, not zero, until outcomes arrive: a ROC-AUC of 0 would look like a
            # model gone wrong on every fresh replica.
            for gauge in (metrics.LIVE_ROC_AUC, metrics.LIVE_ECE, metrics.LIVE_POSITIVE_RATE):
                gauge.set(float("nan"))
            metrics.LIVE_OUTCOMES.set(0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ---------------------------------------------------------------------

    def observe(self, application: Mapping[str, Any], score: float) -> None:
        """Count one scored application in its bins (about ten microseconds)."""
        bins = [f.bin_of_one(application.get(f.name)) for f in self._binned[:-1]]
        bins.append(self._binned[-1].bin_of_one(score))
        with self._lock:
            old = self._ring[self._position]
            if old is None:
                self._filled += 1
            else:
                for counts, b in zip(self._window_counts, old, strict=True):
                    counts[b] -= 1
            self._ring[self._position] = bins
            for counts, totals, b in zip(self._window_counts, self._totals, bins, strict=True):
                counts[b] += 1
                totals[b] += 1
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
            counts = self._padded(self._window_counts)
            rows = self._filled
        report = compare(
            self.profile, {}, self.thresholds, current_counts=counts, rows=rows
        ).to_dict()
        report["window"] = {"size": len(self._ring), "filled": rows}
        return report

    def quality(self) -> dict[str, Any]:
        """Live quality over the matured outcomes in the window (the offline monitor's
        definition, :func:`loanrisk.monitoring.quality.quality`)."""
        with self._lock:
            matured = list(self._matured)
        p = np.array([m[0] for m in matured], dtype=float)
        y = np.array([m[1] for m in matured], dtype=int)
        approved = np.array([m[2] == APPROVE for m in matured], dtype=bool)
        groups = protected_groups(pd.DataFrame([m[3] for m in matured]), self.dataset)
        return {"min_outcomes": MIN_OUTCOMES, **quality(y, p, approved, groups)}

    # -- Prometheus ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Bring the counters (and the live quality gauges) up to date."""
        if not self._export:
            return
        with self._lock:
            totals = [row.copy() for row in self._totals]
            dirty, self._quality_dirty = self._quality_dirty, False
        for children, now, before in zip(self._children, totals, self._exported, strict=True):
            for j, (count, exported) in enumerate(zip(now, before, strict=True)):
                if count > exported:
                    children[j].inc(count - exported)
        self._exported = totals
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

    def _padded(self, rows: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(rows), self._width))
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    @classmethod
    def started_for(
        cls,
        profile: Profile | None,
        dataset: Declaration,
        thresholds: MonitorConfig,
        settings: Settings,
    ) -> OnlineMonitor | None:
        """A running monitor of a champion with ``profile``; None when monitoring is off
        (``LOANRISK_MONITOR=false``) or the model carries no profile."""
        if not settings.monitor or profile is None:
            return None
        monitor = cls(
            profile, dataset, thresholds, window=settings.drift_window, export=settings.metrics
        )
        monitor.start()
        return monitor

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
