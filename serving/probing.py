"""Probing: one client walking one feature of an otherwise identical application across the
decision threshold, which is how an applicant (or a competitor) maps the model's boundary.

For every scored application the detector hashes each feature's value with a key drawn at
start (so nothing kept can be turned back into an applicant's value), and for each feature
the sum of the others' hashes: applications that differ in that one feature only share that
sum. A shape seen once is kept as one (value, decision) pair; only a second value of the
feature makes it a walk, so ordinary traffic costs a dictionary entry per feature. Per client and
per such sum it remembers which values of the feature it saw (at most
``steps``) and which decisions they got. Once one client has sent ``steps`` values of one
feature with everything else the same and the decisions changed along the way, that is one
probe, counted once in ``loanrisk_probes_total{feature}``; the alert `LoanriskBoundaryProbing`
fires on it (serving/prometheus/alerts.yml).

Memory is bounded: at most ``clients`` clients and ``per_client`` application shapes each,
the least recently seen forgotten first. A client is its ``X-Client-Id`` header (set by the
gateway in front of the service) or else its address.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from serving import metrics
from serving.settings import Settings

MASK = (1 << 64) - 1


@dataclass
class _Walk:
    """One application shape with one feature left free: the free values seen (as hashes)
    and the decisions they got."""

    values: set[int] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    flagged: bool = False


class ProbeDetector:
    """Counts boundary probes per feature; thread-safe, bounded, keeps no applicant value."""

    def __init__(
        self,
        features: Sequence[str],
        steps: int = 5,
        clients: int = 4096,
        per_client: int = 256,
        export: bool = True,
    ) -> None:
        self.features = tuple(features)
        self.steps, self.clients, self.per_client, self.export = steps, clients, per_client, export
        key = int.from_bytes(os.urandom(8), "little")
        self._salts = tuple(hash((key, name)) for name in self.features)
        """One secret salt a feature: what is kept is hash((salt, value)), never the value."""
        self._seen: OrderedDict[str, OrderedDict[int, _Walk | tuple[int, str]]] = OrderedDict()
        self._lock = threading.Lock()
        self.probes: dict[str, int] = {}
        if export:  # every feature's series from 0: increase() misses a series born at 1
            for name in self.features:
                metrics.child(metrics.PROBES, name)

    @classmethod
    def for_settings(cls, settings: Settings, features: Sequence[str]) -> ProbeDetector | None:
        """The detector ``LOANRISK_PROBE_STEPS`` asks for (None when it is 0: off)."""
        if not settings.probe_steps:
            return None
        return cls(features, settings.probe_steps, export=settings.metrics)

    def observe(
        self, client: str, applications: Sequence[dict[str, Any]], decisions: Sequence[str]
    ) -> None:
        """Remember what ``client`` sent and was answered; count a probe when one is seen."""
        salts, features = self._salts, self.features
        with self._lock:
            walks = self._walks_of(client)
            for application, decision in zip(applications, decisions, strict=True):
                # map and zip: the per-feature hashes without a Python frame per feature
                values = map(application.get, features)
                hashes = list(map(hash, zip(salts, values, strict=True)))
                total = sum(hashes)
                for index, own in enumerate(hashes):
                    shape = ((total - own) * 31 + index) & MASK
                    seen = walks.get(shape)
                    if seen is None:  # most shapes are seen once: a pair, not a walk
                        walks[shape] = (own, decision)
                        continue
                    walks.move_to_end(shape)
                    if isinstance(seen, tuple):
                        if seen[0] == own:  # the same application again: no step
                            continue
                        seen = walks[shape] = _Walk({seen[0]}, {seen[1]})
                    if seen.flagged:
                        continue
                    if len(seen.values) < self.steps:
                        seen.values.add(own)
                    seen.decisions.add(decision)
                    if len(seen.values) >= self.steps and len(seen.decisions) > 1:
                        seen.flagged = True
                        self._count(features[index])
                while len(walks) > self.per_client:  # the least recently seen go first
                    walks.popitem(last=False)

    def _walks_of(self, client: str) -> OrderedDict[int, _Walk | tuple[int, str]]:
        walks = self._seen.get(client)
        if walks is None:
            walks = self._seen[client] = OrderedDict()
            if len(self._seen) > self.clients:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(client)
        return walks

    def _count(self, feature: str) -> None:
        self.probes[feature] = self.probes.get(feature, 0) + 1
        if self.export:
            metrics.child(metrics.PROBES, feature).inc()
