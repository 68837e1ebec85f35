"""The app factory: the champion behind HTTP, with the contract at the door.

`create_app(settings)` builds the FastAPI app; the model loads in the lifespan, off the request
path. Until the model has loaded and answered a warm-up prediction, `/health/ready` says 503
with the reason, while `/health/live` says 200: a broken model never takes the process down.
Run it with `make serve` (uvicorn on 127.0.0.1:8000, `WORKERS=n` for several processes).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loanrisk.config import MonitorConfig, load_params
from loanrisk.data.declaration import Declaration, load_declaration
from loanrisk.errors import ConfigError, LoanriskError
from loanrisk.monitoring.drift import DEFAULTS
from loanrisk.project import load_project
from loanrisk.stage import one_line
from serving import metrics, protocols
from serving.capture import Capture, now
from serving.logs import RequestLog
from serving.model import ServedModel, load_served
from serving.monitor import OnlineMonitor
from serving.requests import Feedback, application_model, batch_model
from serving.settings import Settings, load_settings

LOG = logging.getLogger("loanrisk.serving")
CHAMPION, CANARY, SHADOW = "champion", "canary", "shadow"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class JSON(Response):
    """A JSON response serialised with orjson (numpy floats included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class ProblemError(Exception):
    """An error answered as ``{"error": ..., "detail": ...}`` with its status."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


@dataclass
class Service:
    """Everything a request needs; swapped pieces (the models) are replaced whole."""

    settings: Settings
    dataset: Declaration
    application: type[BaseModel]
    batch: type[BaseModel]
    capture: Capture
    executor: ThreadPoolExecutor
    request_log: RequestLog
    thresholds: MonitorConfig = DEFAULTS
    champion: ServedModel | None = None
    challenger: ServedModel | None = None
    monitor: OnlineMonitor | None = None
    not_ready: str = "loading the model"
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def require_champion(self) -> ServedModel:
        if self.champion is None:
            raise ProblemError(503, "model not ready", self.not_ready)
        return self.champion


def dataset_for(settings: Settings) -> Declaration:
    if settings.dataset:
        return load_declaration(settings.dataset)
    return load_project(settings.params).dataset


def thresholds_for(settings: Settings) -> MonitorConfig:
    """Drift thresholds from params.yaml's ``monitor`` section; the defaults without one (a
    container that carries only the bundle and a declaration)."""
    try:
        return load_params(settings.params).monitor
    except ConfigError:
        return DEFAULTS


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. Settings default to the environment (`serving.settings`)."""
    settings = settings or load_settings()
    dataset = dataset_for(settings)
    application = application_model(dataset)
    service = Service(
        settings=settings,
        dataset=dataset,
        application=application,
        batch=batch_model(application, settings.max_batch),
        capture=Capture(settings.capture_dir, settings.capture_sample, settings.capture_queue),
        executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="predict"),
        request_log=RequestLog(sys.stdout.buffer),
        thresholds=thresholds_for(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _load_all(service)
        yield
        service.request_log.flush()
        service.capture.close()
        if service.monitor is not None:
            service.monitor.close()
        service.executor.shutdown(wait=False, cancel_futures=True)
        metrics.leave()

    app = FastAPI(
        title="Loan risk service",
        version="1",
        lifespan=lifespan,
        default_response_class=JSON,
        description=f"Serves the champion for the dataset {dataset.name!r}.",
    )
    app.state.service = service
    _routes(app, service)
    _errors(app)
    log = service.request_log if settings.log_requests else None
    app.add_middleware(Edge, settings=settings, log=log)  # type: ignore[arg-type]
    return app


async def _load_all(service: Service) -> None:
    settings = service.settings
    loop = asyncio.get_running_loop()
    try:
        service.champion = await loop.run_in_executor(
            service.executor, load_served, settings.model_uri, service.dataset
        )
        _announce(service.champion, CHAMPION)
        _watch(service, service.champion)
        metrics.READY.set(1)
    except (LoanriskError, OSError) as exc:
        service.not_ready = one_line(exc)
        metrics.READY.set(0)
        LOG.error(orjson.dumps({"event": "load_failed", "reason": service.not_ready}).decode())
    if settings.challenger_uri and settings.traffic != CHAMPION:
        try:
            service.challenger = await loop.run_in_executor(
                service.executor, load_served, settings.challenger_uri, service.dataset
            )
            _announce(service.challenger, settings.traffic)
        except (LoanriskError, OSError) as exc:
            LOG.error(
                orjson.dumps({"event": "challenger_failed", "reason": one_line(exc)}).decode()
            )


def _announce(model: ServedModel, role: str) -> None:
    metrics.MODEL_INFO.labels(model.name, model.version, role, model.path).set(1)


def _watch(service: Service, model: ServedModel) -> None:
    """Monitor ``model`` (the new champion) against its own reference profile."""
    old = service.monitor
    if old is not None:
        old.close()
    # The bins are the new model's: counters of the old bins would mix two profiles.
    metrics.forget(metrics.DRIFT_BINS, metrics.REFERENCE_SHARE)
    service.monitor = None
    if not service.settings.monitor or model.profile is None:
        return
    monitor = OnlineMonitor(
        model.profile,
        service.dataset,
        service.thresholds,
        window=service.settings.drift_window,
        export=service.settings.metrics,
    )
    monitor.start()
    service.monitor = monitor


# -- scoring ----------------------------------------------------------------------------------


def _role_for(service: Service, application_id: str) -> str:
    """Canary traffic is sticky: the same application id always goes to the same model."""
    s = service.settings
    if s.traffic != CANARY or service.challenger is None:
        return CHAMPION
    bucket = zlib.crc32(application_id.encode()) % 10_000
    return CANARY if bucket < s.canary_fraction * 10_000 else CHAMPION


def _predict(
    service: Service,
    applications: list[dict[str, Any]],
    request_id: str,
    champion: ServedModel | None = None,
) -> list[dict[str, Any]]:
    """Score and decide every application; canary ones by the challenger.

    ``champion`` is the model the caller read once for the whole request: a reload landing
    meanwhile must not make one response name two versions.
    """
    champion = champion or service.require_champion()
    id_column = service.dataset.id.column
    features = service.dataset.feature_names
    roles = [_role_for(service, a[id_column]) for a in applications]
    out: list[dict[str, Any]] = [{} for _ in applications]
    for role in (CHAMPION, CANARY):
        index = [i for i, r in enumerate(roles) if r == role]
        if not index:
            continue
        model = champion if role == CHAMPION else service.challenger
        assert model is not None  # a canary role is only given when a challenger is loaded
        rows = [{f: applications[i][f] for f in features} for i in index]
        p = model.score_rows(rows)
        decisions = model.decide(p)
        if service.settings.metrics:
            _record(model, role, p, decisions)
        monitor = service.monitor
        if role == CHAMPION and monitor is not None:
            _observe(monitor, service.dataset, [applications[i] for i in index], p, decisions)
        for j, i in enumerate(index):
            out[i] = {
                "id": applications[i][id_column],
                "probability": float(p[j]),
                "decision": str(decisions[j]),
                "model_version": model.version,
            }
    if service.capture.wanted():
        stamp = now().isoformat(timespec="microseconds")  # one format: readers parse it whole
        service.capture.offer(
            [
                {
                    **applications[i],
                    "request_id": request_id,
                    "at": stamp,
                    "score": out[i]["probability"],
                    "decision": out[i]["decision"],
                    "model_version": out[i]["model_version"],
                    "role": roles[i],
                }
                for i in range(len(applications))
            ]
        )
    return out


def _observe(
    monitor: OnlineMonitor,
    dataset: Declaration,
    applications: list[dict[str, Any]],
    p: np.ndarray,
    decisions: list[str],
) -> None:
    """Bin each application for drift; remember its prediction until its outcome arrives."""
    id_column = dataset.id.column
    for application, score, decision in zip(applications, p.tolist(), decisions, strict=True):
        monitor.observe(application, score)
        groups = {name: application.get(name) for name in dataset.protected}
        monitor.remember(application[id_column], score, decision, groups)


def _record(model: ServedModel, role: str, p: np.ndarray, decisions: list[str]) -> None:
    """Decisions and scores by model version and role (labelled children looked up once)."""
    histogram = metrics.child(metrics.SCORES, model.version, role)
    for value, decision in zip(p.tolist(), decisions, strict=True):
        metrics.child(metrics.PREDICTIONS, decision, model.version, role).inc()
        histogram.observe(value)


def _shadow(service: Service, applications: list[dict[str, Any]]) -> None:
    """The challenger scores what the champion answered, off the response path."""
    model = service.challenger
    if model is None:
        return
    features = service.dataset.feature_names
    try:
        p = model.score_rows([{f: a[f] for f in features} for a in applications])
        if service.settings.metrics:
            _record(model, SHADOW, p, model.decide(p))
    except Exception as exc:  # a shadow failure must never reach a client
        LOG.error(orjson.dumps({"event": "shadow_failed", "reason": one_line(exc)}).decode())


async def _run(service: Service, work: Callable[[], Any]) -> Any:
    """Run ``work`` in the prediction pool; 504 past the configured timeout."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(service.executor, work), service.settings.timeout_s
        )
    except TimeoutError:
        raise ProblemError(
            504, "prediction timed out", f"over {service.settings.timeout_s} s"
        ) from None


def _validate(service: Service, payload: Any) -> list[dict[str, Any]]:
    """One application or ``{"applications": [...]}``, checked against the contract."""
    try:
        if isinstance(payload, dict) and "applications" in payload:
            batch = service.batch.model_validate(payload)
            return [a.model_dump() for a in batch.applications]  # type: ignore[attr-defined]
        return [service.application.model_validate(payload).model_dump()]
    except ValidationError as exc:
        raise ProblemError(422, "invalid application", field_problems(service, exc)) from None


def field_problems(service: Service, exc: ValidationError) -> list[dict[str, str]]:
    """Each bad field and why, without echoing the applicant's values; counted by field
    (a name outside the contract counts as "(other)", so the label set stays bounded)."""
    known = {service.dataset.id.column, *service.dataset.columns}
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        name = str(error["loc"][-1]) if error["loc"] else "(body)"
        metrics.VALIDATION_FAILURES.labels(name if name in known else "(other)").inc()
        reason = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append({"field": where, "reason": reason})
    return problems


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProblemError(400, "the body is not JSON") from None


# -- routes -----------------------------------------------------------------------------------


def _routes(app: FastAPI, service: Service) -> None:
    schema = service.application.model_json_schema()

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> Response:
        if service.champion is None:
            return JSON({"ready": False, "reason": service.not_ready}, status_code=503)
        return JSON({"ready": True, "version": service.champion.version})

    @app.post(
        "/predict",
        tags=["predict"],
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": schema}},
                "required": True,
            }
        },
    )
    async def predict(request: Request) -> Response:
        """Score one application, or ``{"applications": [...]}``; decide each."""
        request_id = request.scope["state"]["request_id"]
        applications = _validate(service, _parse(await request.body()))
        champion = service.require_champion()
        if len(applications) == 1 and champion.fast is not None:
            # Microseconds on the compiled path: a hop to the pool would cost more than it.
            predictions = _predict(service, applications, request_id, champion)
        else:
            predictions = await _run(
                service, lambda: _predict(service, applications, request_id, champion)
            )
        if service.settings.traffic == SHADOW and service.challenger is not None:
            asyncio.get_running_loop().run_in_executor(
                service.executor, _shadow, service, applications
            )
        return JSON(
            {
                "request_id": request_id,
                "model": {"name": champion.name, "version": champion.version},
                "predictions": predictions,
            }
        )

    @app.post(
        "/feedback",
        tags=["predict"],
        status_code=202,
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": Feedback.model_json_schema()}},
                "required": True,
            }
        },
    )
    async def feedback(request: Request) -> Response:
        """Record an observed outcome for an application scored earlier."""
        try:
            outcome = Feedback.model_validate(_parse(await request.body()))
        except ValidationError as exc:
            raise ProblemError(422, "invalid feedback", field_problems(service, exc)) from None
        record = {
            **outcome.model_dump(),
            "received_at": now().isoformat(timespec="microseconds"),
            "request_id": request.scope["state"]["request_id"],
        }
        await asyncio.get_running_loop().run_in_executor(
            service.executor, service.capture.feedback, record
        )
        monitor = service.monitor
        joined = monitor.outcome(outcome.id, outcome.outcome) if monitor is not None else False
        return JSON({"status": "recorded", "id": outcome.id, "joined": joined}, status_code=202)

    @app.get("/drift", tags=["monitoring"])
    async def drift() -> Response:
        """Recent applications against the champion's reference profile: PSI, Jensen-Shannon
        distance and missing shares per feature, score drift and a verdict."""
        monitor = _require_monitor(service)
        report = await _run(service, monitor.drift)
        return JSON({"model_version": service.require_champion().version, **report})

    @app.get("/quality", tags=["monitoring"])
    async def quality() -> Response:
        """Live quality from /feedback outcomes joined to this process's predictions."""
        monitor = _require_monitor(service)
        report = await _run(service, monitor.quality)
        return JSON({"model_version": service.require_champion().version, **report})

    @app.get("/model", tags=["model"])
    async def model() -> dict[str, Any]:
        champion = service.require_champion()
        summary = champion.summary()
        if service.challenger is not None:
            summary["challenger"] = {
                **service.challenger.summary(),
                "traffic": service.settings.traffic,
                "canary_fraction": service.settings.canary_fraction,
            }
        return summary

    @app.get("/model/card", tags=["model"])
    async def card(format: str = "html") -> Response:
        """The champion's model card (``?format=md`` for Markdown): the one its bundle (or
        registered run) carries, else the card rendered in the project if it describes this
        very model (same fingerprint)."""
        champion = service.require_champion()
        found = champion.card or model_card(service.settings.cards_dir, champion)
        if isinstance(found, str):
            return JSON({"error": "no model card for the champion", "detail": found}, 404)
        markdown, html = found
        if format == "md":
            return Response(markdown, media_type="text/markdown")
        return Response(html, media_type="text/html")

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def prometheus() -> Response:
        if service.monitor is not None:
            service.monitor.flush()
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.post("/admin/reload", tags=["operations"])
    async def reload(request: Request) -> Response:
        _authorise(service, request)
        return await _reload(service, service.settings.model_uri)

    @app.post("/admin/rollback", tags=["operations"])
    async def rollback(request: Request) -> Response:
        """Roll the registry's champion back, re-export the bundle and reload. An optional
        body ``{"by": ..., "reason": ...}`` is recorded on both versions."""
        _authorise(service, request)
        raw = await request.body()
        try:
            asked = RollbackRequest.model_validate(_parse(raw) if raw else {})
        except ValidationError as exc:
            raise ProblemError(422, "invalid rollback", field_problems(service, exc)) from None
        async with service.reload_lock:  # no reload or second rollback in between
            loop = asyncio.get_running_loop()
            moved = await loop.run_in_executor(
                service.executor, _rollback_registry, service, asked.by, asked.reason
            )
            response = await _swap(service, service.settings.model_uri)
        body = orjson.loads(response.body)
        body["rollback"] = moved
        return JSON(body, status_code=response.status_code)

    protocols.add_v2(app, service, _validate_columns, _predict)
    protocols.add_invocations(app, service, _validate_columns)


CARD_FINGERPRINT = re.compile(r"\*\*Fingerprint\*\*: `([^`]+)`")


def model_card(folder: Path, champion: ServedModel) -> tuple[str, str] | str:
    """The card's Markdown and HTML in ``folder``, or why there is none for this champion."""
    markdown, html = folder / f"{champion.name}.md", folder / f"{champion.name}.html"
    if not (markdown.is_file() and html.is_file()):
        return f"no {markdown} and {html}: the documentation stage renders them (make repro)"
    found = CARD_FINGERPRINT.search(markdown.read_text())
    served = champion.provenance.get("fingerprint")
    if found is None or served is None or found.group(1) != served:
        described = found.group(1)[:12] if found else "an unknown model"
        return (
            f"the card in {folder} describes {described}, not the champion "
            f"(v{champion.version}, fingerprint {str(served)[:12]}): the last run's candidate "
            "was not promoted"
        )
    return markdown.read_text(), html.read_text()


def _require_monitor(service: Service) -> OnlineMonitor:
    champion = service.require_champion()
    if service.monitor is None:
        why = (
            "monitoring is off (LOANRISK_MONITOR=false)"
            if not service.settings.monitor
            else f"model v{champion.version} carries no reference profile (trained before "
            "profiles existed): retrain and promote it to monitor it"
        )
        raise ProblemError(404, "no drift monitor", why)
    return service.monitor


def _validate_columns(
    service: Service, applications: list[dict[str, Any]], request_id: str = "row"
) -> list[dict[str, Any]]:
    """Rows from a protocol's columnar payload, checked like /predict's (an empty batch is a
    refusal there too)."""
    id_column = service.dataset.id.column
    rows = []
    for i, row in enumerate(applications):
        # A protocol's rows may carry no id: one unique to this request, so canary routing is
        # random for them (nothing to be sticky to) and capture never joins them to feedback.
        rows.append({id_column: f"{request_id}-{i}", **row})
    return _validate(service, {"applications": rows})


def _authorise(service: Service, request: Request) -> None:
    token = service.settings.admin_token
    if not token:
        raise ProblemError(403, "admin endpoints are disabled", "set LOANRISK_ADMIN_TOKEN")
    given = request.headers.get("authorization", "")
    expected = f"Bearer {token}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ProblemError(401, "a valid bearer token is required")


async def _reload(service: Service, uri: str) -> Response:
    """Build the new model off the request path; swap only if it loads and answers."""
    async with service.reload_lock:
        return await _swap(service, uri)


async def _swap(service: Service, uri: str) -> Response:
    """The reload itself; the caller holds ``service.reload_lock``."""
    loop = asyncio.get_running_loop()
    try:
        fresh = await loop.run_in_executor(service.executor, load_served, uri, service.dataset)
    except (LoanriskError, OSError) as exc:
        metrics.RELOADS.labels("failed").inc()
        serving = service.champion.version if service.champion else None
        return JSON(
            {"reloaded": False, "reason": one_line(exc), "serving_version": serving},
            status_code=409,
        )
    old = service.champion
    service.champion = fresh  # one reference swap: requests see the old or the new model
    _watch(service, fresh)
    metrics.READY.set(1)
    metrics.RELOADS.labels("succeeded").inc()
    if old is not None:
        metrics.retire(metrics.MODEL_INFO, old.name, old.version, CHAMPION, old.path)
    _announce(fresh, CHAMPION)
    return JSON(
        {
            "reloaded": True,
            "from_version": old.version if old else None,
            "serving_version": fresh.version,
            "inference_path": fresh.path,
        }
    )


class RollbackRequest(BaseModel):
    """Who asks for the rollback and why: kept as tags on both registry versions."""

    model_config = ConfigDict(extra="forbid", strict=True)

    by: str = Field("serving-admin", min_length=1, max_length=100)
    reason: str = Field("POST /admin/rollback", min_length=1, max_length=500)


def _rollback_registry(service: Service, by: str, reason: str) -> dict[str, Any]:
    """The registry's rollback, then (for a bundle directory) the bundle re-exported."""
    import mlflow

    from loanrisk import tracking
    from loanrisk.data.contract import build_contract, contract_json_schema
    from loanrisk.registry import registry
    from loanrisk.registry.bundle import export_version

    champion = service.require_champion()
    name = champion.name
    mlflow.set_tracking_uri(tracking.tracking_uri())
    moved = registry.rollback(name, by=by, reason=reason)
    uri = service.settings.model_uri
    if not uri.startswith("models:/"):
        with tracking.store_errors():
            restored = registry.client().get_model_version(name, moved.to_version)
        export_version(uri, name, restored, contract_json_schema(build_contract(service.dataset)))
    return {"from_version": moved.from_version, "to_version": moved.to_version}


# -- errors and the edge ----------------------------------------------------------------------


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> Response:
        body: dict[str, Any] = {"error": exc.error}
        if exc.detail is not None:
            body["detail"] = exc.detail
        headers = {"Retry-After": "1"} if exc.status in (429, 503) else None
        return JSON(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"] if p != "body") or "(body)"
            problems.append({"field": where, "reason": error["msg"]})
        return JSON({"error": "invalid request", "detail": problems}, status_code=422)

    @app.exception_handler(LoanriskError)
    async def project_error(request: Request, exc: LoanriskError) -> Response:
        return JSON({"error": one_line(exc)}, status_code=409)


class Edge:
    """The outermost layer, as plain ASGI (no per-request task or copy, unlike Starlette's
    BaseHTTPMiddleware): request ids, body-size and concurrency limits, metrics, one JSON log
    line per request (route, status, latency, model version; never an applicant's field)."""

    def __init__(self, app: ASGIApp, settings: Settings, log: RequestLog | None = None) -> None:
        self.app, self.settings, self.log = app, settings, log
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500, "started": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], 1
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            limited = await self._limits(scope, receive, send_with_id)
            if limited is None:
                self.inflight += 1
                try:
                    capped = _capped(receive, self.settings.max_body_bytes)
                    await self.app(scope, capped, send_with_id)
                except BodyTooLargeError:
                    if not status["started"]:
                        await _plain(send_with_id, 413, "the body is larger than the limit")
                except Exception:  # a bug: answered as a plain 500, logged, still counted
                    LOG.exception("unhandled error (request %s)", request_id)
                    if not status["started"]:
                        await _plain(send_with_id, 500, "internal error")
                finally:
                    self.inflight -= 1
        finally:
            self._observe(scope, status["code"], time.perf_counter() - start, request_id)

    async def _limits(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        for name, value in scope.get("headers", ()):
            too_large = value.isdigit() and int(value) > self.settings.max_body_bytes
            if name == b"content-length" and too_large:
                await _plain(send, 413, "the body is larger than the limit")
                return 413
        if self.inflight >= self.settings.max_concurrency:
            await _plain(send, 429, "too many requests in flight", retry=True)
            return 429
        return None

    def _observe(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        if self.settings.metrics:
            metrics.child(metrics.REQUESTS, template, str(status)).inc()
            metrics.child(metrics.LATENCY, template).observe(seconds)
        if self.log is not None:
            app = scope.get("app")
            service = getattr(getattr(app, "state", None), "service", None)
            champion = getattr(service, "champion", None)
            self.log.write(
                {
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": template,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 3),
                    "model_version": getattr(champion, "version", None),
                }
            )


class BodyTooLargeError(Exception):
    pass


def _capped(receive: Receive, limit: int) -> Receive:
    """A body sent without Content-Length (chunked) is counted as it arrives."""
    seen = {"bytes": 0}

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            seen["bytes"] += len(message.get("body", b""))
            if seen["bytes"] > limit:
                raise BodyTooLargeError
        return message

    return wrapped


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and 0 < len(value) <= 100:
            return str(value.decode("latin-1"))
    return os.urandom(16).hex()


async def _plain(send: Send, status: int, error: str, retry: bool = False) -> None:
    headers = [(b"content-type", b"application/json")]
    if retry:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps({"error": error})})


def configure_logging() -> None:
    """Events (a model that failed to load, a shadow failure) as JSON lines on stderr; the
    per-request lines go through :class:`serving.logs.RequestLog` on stdout."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(os.environ.get("LOANRISK_LOG_LEVEL", "INFO"))
    LOG.propagate = False


def factory() -> FastAPI:
    """What `uvicorn --factory serving.app:factory` calls; a bad setting is one line."""
    configure_logging()
    try:
        return create_app()
    except LoanriskError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
