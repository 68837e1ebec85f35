"""What the OpenAPI document says each route answers besides its success, and with which body.

One table of error statuses (:data:`WHY`) and the bodies they are sent with: the service's
own ``{"error": ..., "detail": ...}`` (:class:`Problem`, what `serving.routes.common`'s
handlers and the edge send), the Open Inference Protocol's ``{"error": ...}`` and MLflow's
``{"error_code": ..., "message": ...}``. Each route picks its statuses with
:func:`problems`; :func:`add_edge_responses` adds those the ASGI edge answers before any
route runs (408, 413 and 415 where a body is read, 429 wherever the concurrency cap
applies), so the document cannot drift from the edge's own rule (`serving.edge.EXEMPT`).
`tests/serving/test_schema_fuzz.py` holds every answer to this document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from serving.edge import EXEMPT


class FieldProblem(BaseModel):
    """One refused field and why; never its value."""

    model_config = ConfigDict(extra="forbid")

    field: str
    reason: str


class Problem(BaseModel):
    """The service's error body: what went wrong and, when there is more to say, which
    fields and why or the reason on one line."""

    model_config = ConfigDict(extra="forbid")

    error: str
    detail: str | list[FieldProblem] | None = None


class ProtocolError(BaseModel):
    """The Open Inference Protocol's error body."""

    model_config = ConfigDict(extra="forbid")

    error: str


class MlflowError(BaseModel):
    """MLflow's scoring server's error body for a request it cannot read."""

    model_config = ConfigDict(extra="forbid")

    error_code: Literal["BAD_REQUEST"]
    message: str


WHY = {
    400: "The body is not JSON (the parser's reason and position), or not the protocol's shape",
    401: "A valid bearer token is required",
    403: "The admin endpoints are disabled (no LOANRISK_ADMIN_TOKEN)",
    404: "Nothing to answer with: no such model, no model card, or no drift monitor",
    408: "The body stalled: each read waits at most LOANRISK_BODY_TIMEOUT_S",
    409: "Refused: the new model did not load or answer; the old one keeps serving",
    413: "The body is larger than LOANRISK_MAX_BODY_BYTES",
    415: "A body not sent as Content-Type: application/json",
    422: "The request breaks the contract: each field and the reason, never the value",
    429: "Too many requests in flight (LOANRISK_MAX_CONCURRENCY): retry after a second",
    503: "No model is ready yet, or the outcome could not be recorded: retry",
    504: "The prediction took longer than LOANRISK_TIMEOUT_S",
}
"""Every error status the service answers, and when."""

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}


def problems(*codes: int, body: type[BaseModel] = Problem) -> dict[int | str, dict[str, Any]]:
    """The responses of ``codes`` for a route's ``responses=``, each sent as ``body``."""
    return {code: {"model": body, "description": WHY[code]} for code in codes}


def add_edge_responses(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's OpenAPI) with the edge's refusals added to each operation a
    client meets them on: 408, 413 and 415 where a body is read, 429 (with ``Retry-After``)
    everywhere but the paths the cap exempts. Every error body as JSON (FastAPI gives a
    route's errors its success's media type: the model card's were ``text/html``), and
    without FastAPI's own 422."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            codes = [408, 413, 415] if "requestBody" in operation else []
            if not path.startswith(EXEMPT):
                codes.append(429)
            for code in codes:
                answer: dict[str, Any] = {
                    "description": WHY[code],
                    "content": {"application/json": {"schema": problem}},
                }
                if code == 429:
                    answer["headers"] = {
                        name: {**header, "required": True} for name, header in RETRY_AFTER.items()
                    }
                answers.setdefault(str(code), answer)
            for code, answer in answers.items():  # every error is JSON, whatever the route sends
                content = answer.get("content", {})
                if code[0] in "45" and content and "application/json" not in content:
                    answer["content"] = {"application/json": next(iter(content.values()))}
            # FastAPI documents its own 422 body on every route with a parameter; ours are
            # strings that always validate, and the 422s sent are declared with their body.
            if _refers(answers.get("422"), "HTTPValidationError"):
                del answers["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _refers(answer: dict[str, Any] | None, model: str) -> bool:
    content = (answer or {}).get("content", {}).get("application/json", {})
    return bool(content.get("schema", {}).get("$ref", "").endswith(f"/{model}"))
