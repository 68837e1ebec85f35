"""What every router shares: the JSON response, the service as a dependency, the admin
token check, and the error handlers that turn a :class:`ProblemError` into a response."""

from __future__ import annotations

import hmac
import math
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loanrisk.errors import LoanriskError
from loanrisk.stage import one_line
from serving.errors import ProblemError
from serving.service import Service
from serving.throttle import Throttle


class JSON(JSONResponse):
    """A JSON response serialised with orjson (numpy floats included); a ``JSONResponse``,
    so the OpenAPI document gives its body's schema rather than ``{"type": "string"}``."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def get_service(request: Request) -> Service:
    """The app's one service object (async: a plain function would cost a thread hop)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def service_of(request: Request) -> Service:
    """The service for the scoring routes, without a dependency for FastAPI to solve on every
    application (the one place where its microseconds show: about a tenth of a request)."""
    service: Service = request.app.state.service
    return service


def request_id(request: Request) -> str:
    """The id the edge gave this request (or the client sent): echoed in every answer."""
    found: str = request.scope["state"]["request_id"]
    return found


def client_of(request: Request) -> str:
    """Who sent the request, for probing detection: the ``X-Client-Id`` the gateway in front
    of the service sets, else the connection's address."""
    given = request.headers.get("x-client-id")
    if given:
        return given[:200]
    return request.client.host if request.client else ""


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # where and why, never the body's own text
        raise ProblemError(400, "the body is not JSON", where_in_json(exc)) from None


def where_in_json(exc: orjson.JSONDecodeError) -> str:
    """``unexpected character at line 1, column 12``: the parser's reason and position (NaN
    and Infinity are not JSON, nor are numbers beyond 64 bits or nesting beyond 1,024)."""
    reason = str(exc.msg).split(":")[0]
    return f"{reason} at line {exc.lineno}, column {exc.colno}"


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body itself (to validate it once, strictly)."""
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


Bearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(scheme_name="AdminToken", auto_error=False)),
]
"""Only for the OpenAPI document (its security scheme): the header is checked by `_bearer`."""
FeedbackBearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(scheme_name="FeedbackToken", auto_error=False)),
]


async def authorise(request: Request, service: ServiceDep, _: Bearer) -> None:
    """Admin routes need ``Authorization: Bearer $LOANRISK_ADMIN_TOKEN``; none is set: 403."""
    token = service.settings.admin_token
    if not token:
        raise ProblemError(403, "admin endpoints are disabled", "set LOANRISK_ADMIN_TOKEN")
    _bearer(request, token)


async def authorise_feedback(request: Request, service: ServiceDep, _: FeedbackBearer) -> None:
    """Outcomes become training data: with ``LOANRISK_FEEDBACK_TOKEN`` set, only its holder
    may post them."""
    if service.settings.feedback_token:
        _bearer(request, service.settings.feedback_token)


def _bearer(request: Request, token: str) -> None:
    """401 unless ``Authorization: Bearer <token>``; the comparison takes the same time
    whatever the guess, and a client that keeps guessing waits (429, `serving.throttle`)."""
    given = request.headers.get("authorization", "")
    if not given:  # no guess: nothing to throttle
        raise ProblemError(401, "a valid bearer token is required")
    throttle: Throttle = request.app.state.throttle
    client = client_of(request)
    wait = throttle.wait(client)
    if wait:
        raise ProblemError(
            429, "too many refused tokens from this client", f"retry in {math.ceil(wait)} s"
        )
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        throttle.refuse(client, request.url.path)
        raise ProblemError(401, "a valid bearer token is required")


def install_error_handlers(app: FastAPI) -> None:
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
