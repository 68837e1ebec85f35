"""The service itself, with no web framework: what every protocol's router calls.

One :class:`Service` owns the champion, the challenger, the drift monitor, the capture and
the metrics. Every protocol (`/predict`, the Open Inference Protocol v2, MLflow's
`/invocations`) answers through :meth:`Service.predict`, so each gets the same decision
policy, canary or shadow routing, timeout, capture, drift monitoring and metrics; the
routers only translate payloads (compare Seldon MLServer's data plane and its REST layer).

The service never writes to the model registry: rolling back is the CLI's
(`loanrisk rollback`), and the service follows on :meth:`reload`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from loanrisk.config import MonitorConfig
from loanrisk.data.declaration import Declaration
from loanrisk.errors import LoanriskError
from loanrisk.monitoring.drift import DEFAULTS
from loanrisk.stage import one_line
from serving import metrics
from serving.capture import Capture, now
from serving.cards import champion_card
from serving.errors import ProblemError
from serving.logs import RequestLog
from serving.model import ServedModel, load_served
from serving.monitor import OnlineMonitor
from serving.probing import ProbeDetector
from serving.requests import Feedback
from serving.scoring import CANARY, CHAMPION, SHADOW, answer, capture_records, route
from serving.settings import Settings, dataset_for, thresholds_for
from serving.validation import Door

LOG = logging.getLogger("loanrisk.serving")
T = TypeVar("T")
INLINE_BYTES = 16_384
"""The largest body parsed and validated on the event loop (about 50 applications); a larger
one is read in the prediction pool (:meth:`Service.accept`)."""


@dataclass(frozen=True)
class Scored:
    """One request's answer: the champion that answered (read once, so a reload landing
    meanwhile never makes one response name two versions) and one prediction per row."""

    champion: ServedModel
    predictions: list[dict[str, Any]]


@dataclass
class Service:
    """Everything a request needs; swapped pieces (the models) are replaced whole."""

    settings: Settings
    dataset: Declaration
    door: Door
    capture: Capture
    executor: ThreadPoolExecutor
    request_log: RequestLog
    thresholds: MonitorConfig = DEFAULTS
    champion: ServedModel | None = None
    challenger: ServedModel | None = None
    monitor: OnlineMonitor | None = None
    probes: ProbeDetector | None = None
    not_ready: str = "loading the model"
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        """The service for ``settings``, models not loaded yet (see :meth:`start`)."""
        dataset = dataset_for(settings)
        return cls(
            settings=settings,
            dataset=dataset,
            door=Door(dataset, settings.max_batch),
            capture=Capture.from_settings(settings),
            executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="predict"),
            request_log=RequestLog(sys.stdout.buffer),
            thresholds=thresholds_for(settings),
            probes=ProbeDetector.for_settings(settings, dataset.feature_names),
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the champion (and the challenger), off any request path; a model that fails
        leaves the service live but not ready, with the reason."""
        try:
            self.champion = await self._in_pool(load_served, self.settings.model_uri)
            self._announce(self.champion, CHAMPION)
            self._watch(self.champion)
            metrics.READY.set(1)
        except (LoanriskError, OSError) as exc:
            self.not_ready = one_line(exc)
            metrics.READY.set(0)
            _event("load_failed", self.not_ready)
        uri, traffic = self.settings.challenger_uri, self.settings.traffic
        if uri and traffic != CHAMPION:
            try:
                self.challenger = await self._in_pool(load_served, uri)
                self._announce(self.challenger, traffic)
            except (LoanriskError, OSError) as exc:
                _event("challenger_failed", one_line(exc))

    def close(self) -> None:
        self.request_log.flush()
        self.capture.close()
        if self.monitor is not None:
            self.monitor.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        metrics.leave()

    async def reload(self, uri: str | None = None) -> dict[str, Any]:
        """Build the new model off the request path; swap only if it loads and answers.

        The champion is read from ``uri`` (default: the configured model URI, a bundle
        directory the CLI exports or ``models:/<name>@champion``), so after
        `loanrisk rollback` a reload serves the previous champion.
        """
        async with self.reload_lock:
            try:
                fresh = await self._in_pool(load_served, uri or self.settings.model_uri)
            except (LoanriskError, OSError) as exc:
                metrics.RELOADS.labels("failed").inc()
                serving = self.champion.version if self.champion else None
                return {"reloaded": False, "reason": one_line(exc), "serving_version": serving}
            old = self.champion
            self.champion = fresh  # one reference swap: requests see the old or the new model
            self._watch(fresh)
            metrics.READY.set(1)
            metrics.RELOADS.labels("succeeded").inc()
            if old is not None:
                metrics.retire(metrics.MODEL_INFO, old.name, old.version, CHAMPION, old.path)
            self._announce(fresh, CHAMPION)
            return {
                "reloaded": True,
                "from_version": old.version if old else None,
                "serving_version": fresh.version,
                "inference_path": fresh.path,
            }

    # -- the data plane -----------------------------------------------------------------

    async def predict(
        self,
        applications: list[dict[str, Any]],
        request_id: str,
        champion: ServedModel | None = None,
        client: str = "",
    ) -> Scored:
        """Score and decide validated ``applications``: canary ones by the challenger, the
        rest by the champion (``champion``: the one the caller already checked); shadow
        traffic scored afterwards, off the response path; 504 past the timeout. ``client``
        names the sender for probing detection."""
        model = champion or self.require_champion()

        def work() -> list[dict[str, Any]]:
            return self.score(applications, request_id, model, client)

        # Microseconds on the compiled path: a hop to the pool would cost more than it.
        fast = len(applications) == 1 and model.fast is not None
        predictions = work() if fast else await self.run(work)
        if self.settings.traffic == SHADOW and self.challenger is not None:
            asyncio.get_running_loop().run_in_executor(self.executor, self.shadow, applications)
        return Scored(model, predictions)

    def score(
        self,
        applications: list[dict[str, Any]],
        request_id: str,
        champion: ServedModel,
        client: str = "",
    ) -> list[dict[str, Any]]:
        """The synchronous work of :meth:`predict`: route, score, decide, count, observe,
        watch for probing and offer the records to the capture."""
        id_column = self.dataset.id.column
        roles = [self.role_for(a[id_column]) for a in applications]
        out: list[dict[str, Any]] = [{} for _ in applications]
        for role in (CHAMPION, CANARY):
            index = [i for i, r in enumerate(roles) if r == role]
            model = champion if role == CHAMPION else self.challenger
            if not index or model is None:  # a canary role is only given with a challenger
                continue
            monitor = self.monitor if role == CHAMPION else None
            rows = [applications[i] for i in index]
            answers = answer(model, role, rows, self.dataset, monitor, self.settings.metrics)
            for i, one in zip(index, answers, strict=True):
                out[i] = one
        if self.probes is not None:
            self.probes.observe(client, applications, [p["decision"] for p in out])
        if self.capture.wanted():
            stamp = now().isoformat(timespec="microseconds")  # one format: readers parse it
            self.capture.offer(capture_records(applications, out, roles, request_id, stamp))
        return out

    def role_for(self, application_id: str) -> str:
        """Canary traffic is sticky: the same application id always goes to the same model."""
        if self.settings.traffic != CANARY or self.challenger is None:
            return CHAMPION
        return route(application_id, self.settings.canary_fraction)

    def shadow(self, applications: list[dict[str, Any]]) -> None:
        """The challenger scores what the champion answered; a failure never reaches a client."""
        if self.challenger is None:
            return
        try:
            answer(self.challenger, SHADOW, applications, self.dataset, None, self.settings.metrics)
        except Exception as exc:
            _event("shadow_failed", one_line(exc))

    async def feedback(self, outcome: Feedback, request_id: str) -> bool:
        """Append an observed outcome (synchronously: feedback is never dropped, and a disk
        that refuses it is a 503 the sender retries) and join it to the prediction this
        process made; whether it joined."""
        received = now().isoformat(timespec="microseconds")
        entry = {**outcome.model_dump(), "received_at": received, "request_id": request_id}
        try:
            await self._in_executor(self.capture.feedback, entry)
        except OSError as exc:
            raise ProblemError(503, "the outcome could not be recorded", one_line(exc)) from None
        monitor = self.monitor
        return monitor.outcome(outcome.id, outcome.outcome) if monitor is not None else False

    async def drift(self) -> dict[str, Any]:
        return await self._live(self.require_monitor().drift)

    async def quality(self) -> dict[str, Any]:
        return await self._live(self.require_monitor().quality)

    async def _live(self, report: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return {"model_version": self.require_champion().version, **await self.run(report)}

    # -- what is served -----------------------------------------------------------------

    def require_champion(self) -> ServedModel:
        if self.champion is None:
            raise ProblemError(503, "model not ready", self.not_ready)
        return self.champion

    def require_monitor(self) -> OnlineMonitor:
        champion = self.require_champion()
        if self.monitor is None:
            why = (
                "monitoring is off (LOANRISK_MONITOR=false)"
                if not self.settings.monitor
                else f"model v{champion.version} carries no reference profile (trained before "
                "profiles existed): retrain and promote it to monitor it"
            )
            raise ProblemError(404, "no drift monitor", why)
        return self.monitor

    def summary(self) -> dict[str, Any]:
        """The champion's provenance and path; the challenger's and its traffic, if any."""
        summary = self.require_champion().summary()
        if self.challenger is not None:
            summary["challenger"] = {
                **self.challenger.summary(),
                "traffic": self.settings.traffic,
                "canary_fraction": self.settings.canary_fraction,
            }
        return summary

    def card(self) -> tuple[str, str]:
        """The champion's model card as (Markdown, HTML): the one its bundle (or registered
        run) carries, else the project's if it describes this very model."""
        return champion_card(self.require_champion(), self.settings.cards_dir)

    # -- helpers ------------------------------------------------------------------------

    async def accept(self, body: bytes, read: Callable[[bytes], T]) -> T:
        """``read(body)``: parse and validate a request body. A small one (an application)
        on the event loop, where it takes microseconds; a large one, a batch, in the pool,
        so that a 1,000-row batch never holds up the health probes and the requests behind
        it."""
        if len(body) <= INLINE_BYTES:
            return read(body)
        return await self._in_executor(read, body)

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the prediction pool; 504 past the configured timeout."""
        try:
            return await asyncio.wait_for(self._in_executor(work), self.settings.timeout_s)
        except TimeoutError:
            timeout = self.settings.timeout_s
            raise ProblemError(504, "prediction timed out", f"over {timeout} s") from None

    async def _in_executor(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    async def _in_pool(self, load: Callable[[str, Declaration], T], uri: str) -> T:
        return await self._in_executor(load, uri, self.dataset)

    def _announce(self, model: ServedModel, role: str) -> None:
        metrics.MODEL_INFO.labels(model.name, model.version, role, model.path).set(1)

    def _watch(self, model: ServedModel) -> None:
        """Monitor ``model`` (the new champion) against its own reference profile."""
        if self.monitor is not None:
            self.monitor.close()
        # The bins are the new model's: counters of the old bins would mix two profiles.
        metrics.forget(metrics.DRIFT_BINS, metrics.REFERENCE_SHARE)
        self.monitor = OnlineMonitor.started_for(
            model.profile, self.dataset, self.thresholds, self.settings
        )


def _event(name: str, reason: str) -> None:
    LOG.error(orjson.dumps({"event": name, "reason": reason}).decode())
