"""The ASGI edge: the outermost layer, in front of every route.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware`` (no per-request task or copy):
a request id on every response, bodies as JSON only (415), the body-size limit (declared
and, for chunked bodies, counted as the body arrives), a timeout on each read of the body,
the concurrency cap (the health probes and /metrics are exempt), the request metrics, and
one JSON log line per request (route, status, latency, model version; never an applicant's
field).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect

from serving import metrics
from serving.logs import RequestLog
from serving.settings import Settings

LOG = logging.getLogger("loanrisk.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLIENT_CLOSED = 499
"""What the metrics and the log say of a request whose client left before its answer (the
code nginx uses): not a 5xx, so it never fires the error-rate alert."""
EXEMPT = ("/health/", "/metrics")
"""Paths the concurrency cap never refuses: an orchestrator's probes and Prometheus' scrape
must keep answering while the service is saturated, or a flood looks like a dead process."""


class Edge:
    """Request ids, limits, metrics and the request log around ``app``."""

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
            counted = not str(scope.get("path", "")).startswith(EXEMPT)
            limited = await self._limits(scope, send_with_id, counted)
            if limited is None:
                self.inflight += counted
                try:
                    capped = _capped(
                        receive, self.settings.max_body_bytes, self.settings.body_timeout_s
                    )
                    await self.app(scope, capped, send_with_id)
                except BodyTooLargeError:
                    if not status["started"]:
                        await _plain(send_with_id, 413, "the body is larger than the limit")
                except BodyTimeoutError:
                    if not status["started"]:
                        await _plain(send_with_id, 408, "the body stalled: send it whole")
                except ClientDisconnect:  # the client left: nobody to answer, not our error
                    status["code"] = CLIENT_CLOSED
                except Exception:  # a bug: answered as a plain 500, logged, still counted
                    LOG.exception("unhandled error (request %s)", request_id)
                    if not status["started"]:
                        await _plain(send_with_id, 500, "internal error")
                finally:
                    self.inflight -= counted
        finally:
            self._observe(scope, status["code"], time.perf_counter() - start, request_id)

    async def _limits(self, scope: Scope, send: Send, counted: bool) -> int | None:
        """413 or 429 when the request is refused before the app sees it (``counted``: it
        takes a place under the concurrency cap), else None."""
        kind, body, binary = b"", False, False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if value.isdigit() and int(value) > self.settings.max_body_bytes:
                    await _plain(send, 413, "the body is larger than the limit")
                    return 413
                body = value not in (b"0", b"")
            elif name == b"transfer-encoding":
                body = True
            elif name == b"content-type":
                kind = value.split(b";")[0].strip().lower()
            elif name == b"inference-header-content-length":
                binary = True
        json = kind == b"application/json" or kind.endswith(b"+json")
        if body and not json and not binary:
            # Every body the service reads is JSON and must say so: what it is sent is
            # captured and becomes training data, and a cross-site form cannot post
            # application/json without the browser asking first. The one exception is
            # the v2 protocol's binary tensors (serving/tensors.py), which Triton's client
            # sends with no content type: the header that announces them is not one a
            # page may send cross-site without asking first either.
            await _plain(send, 415, "send the body as Content-Type: application/json")
            return 415
        if counted and self.inflight >= self.settings.max_concurrency:
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


class BodyTimeoutError(Exception):
    pass


def _capped(receive: Receive, limit: int, timeout_s: float) -> Receive:
    """A body sent without Content-Length (chunked) is counted as it arrives; until the
    body is complete, each read waits at most ``timeout_s`` (after it, a read waits for the
    client to disconnect, for as long as that takes)."""
    seen = {"bytes": 0, "done": False}

    async def wrapped() -> Message:
        if seen["done"]:
            return await receive()
        try:
            async with asyncio.timeout(timeout_s):  # no task per read, unlike wait_for
                message = await receive()
        except TimeoutError:
            raise BodyTimeoutError from None
        if message["type"] == "http.request":
            seen["bytes"] += len(message.get("body", b""))
            if seen["bytes"] > limit:
                raise BodyTooLargeError
            seen["done"] = not message.get("more_body", False)
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
