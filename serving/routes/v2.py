"""The Open Inference Protocol v2 (KServe's REST protocol, also spoken by Seldon MLServer
and Triton), so existing clients work unchanged: one tensor per named column,
``parameters.content_type: "pd"``, the request ``id`` echoed, errors as
``{"error": "..."}``. Inference goes through `Service.predict` like `/predict`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from serving import tensors
from serving.errors import ProblemError
from serving.model import ServedModel
from serving.routes.common import (
    ServiceDep,
    client_of,
    json_body,
    request_id,
    service_of,
    where_in_json,
)
from serving.routes.responses import ProtocolError, problems
from serving.service import Service

V2_TYPES = {"float": "FP64", "integer": "INT64", "boolean": "BOOL", "category": "BYTES"}

router = APIRouter(prefix="/v2", tags=["v2"])

TENSORS = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "datatype": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "data": {"type": "array"},
                },
                "required": ["name", "data"],
            },
        },
        "parameters": {"type": "object"},
    },
    "required": ["inputs"],
}
"""The inference request: one tensor per column (``parameters.content_type: "pd"``)."""


class V2NotReady(BaseModel):
    name: str | None = None
    ready: Literal[False]


READY = {"model": V2NotReady, "description": "No model has loaded yet: retry"}


class V2Error(Exception):
    """A v2 protocol error: ``{"error": message}`` with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def v2_error(request: Request, exc: V2Error) -> Response:
    """The protocol's error body (installed by the app for :class:`V2Error`)."""
    return _json({"error": exc.message}, exc.status)


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _served(service: Service, name: str, version: str | None = None) -> ServedModel:
    champion = service.champion
    if champion is None or name != champion.name:
        raise V2Error(404, f"model {name!r} is not served here")
    if version is not None and version != champion.version:
        raise V2Error(404, f"model {name!r} has no version {version!r} here")
    return champion


@router.get("")
async def server_metadata() -> Response:
    return _json({"name": "loanrisk", "version": "1", "extensions": []})


@router.get("/health/live")
async def v2_live() -> Response:
    return _json({"live": True})


@router.get("/health/ready", responses={503: READY})
async def v2_ready(service: ServiceDep) -> Response:
    ready = service.champion is not None
    return _json({"ready": ready}, 200 if ready else 503)


MISSING = problems(404, body=ProtocolError)


@router.get("/models/{name}", responses=MISSING)
@router.get("/models/{name}/versions/{version}", responses=MISSING)
async def metadata(service: ServiceDep, name: str, version: str | None = None) -> Response:
    champion = _served(service, name, version)
    dataset = service.dataset
    inputs = [{"name": dataset.id.column, "datatype": "BYTES", "shape": [-1]}] + [
        {"name": n, "datatype": V2_TYPES[c.type], "shape": [-1]} for n, c in dataset.columns.items()
    ]
    return _json(
        {
            "name": champion.name,
            "versions": [champion.version],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": [
                {"name": "probability", "datatype": "FP64", "shape": [-1]},
                {"name": "decision", "datatype": "BYTES", "shape": [-1]},
            ],
            "parameters": {"content_type": "pd"},
        }
    )


@router.get("/models/{name}/ready", responses={**MISSING, 503: READY})
@router.get("/models/{name}/versions/{version}/ready", responses={**MISSING, 503: READY})
async def model_ready(service: ServiceDep, name: str, version: str | None = None) -> Response:
    """200 once the model answers; 503 while no model has loaded (say so, and retry);
    404 for a model or version this server does not serve, as its metadata says (a
    5xx would tell a client to retry what will never be ready)."""
    if service.champion is None:
        return _json({"name": name, "ready": False}, 503)
    _served(service, name, version)
    return _json({"name": name, "ready": True})


BINARY = {"schema": {"type": "string", "format": "binary"}}
"""A body with the binary tensor data extension: its JSON header's length in bytes is the
``Inference-Header-Content-Length`` header (`serving/tensors.py`)."""
INFER_BODY = json_body(TENSORS)
INFER_BODY["requestBody"]["content"]["application/octet-stream"] = BINARY
INFER_ERRORS: dict[int | str, dict[str, Any]] = {
    **problems(400, 404, 503, 504, body=ProtocolError),
    200: {
        "description": "The outputs, as JSON or as binary tensors",
        "content": {"application/octet-stream": BINARY},
    },
}


@router.post("/models/{name}/infer", openapi_extra=INFER_BODY, responses=INFER_ERRORS)
@router.post(
    "/models/{name}/versions/{version}/infer", openapi_extra=INFER_BODY, responses=INFER_ERRORS
)
async def infer(name: str, request: Request, version: str | None = None) -> Response:
    """Score the rows of the input tensors; JSON, or with the binary tensor data extension
    (`serving/tensors.py`) both ways when the client sends or asks for it."""
    service = service_of(request)
    champion = _served(service, name, version)
    rid = request_id(request)
    header_length = request.headers.get(tensors.HEADER)

    def read(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        payload = _payload(body, header_length)
        try:
            return payload, service.door.rows(rows_from_tensors(payload), rid)
        except ProblemError as exc:
            raise V2Error(400, exc.fields() or exc.error) from None

    payload, applications = await service.accept(await request.body(), read)
    wanted = _requested(payload)
    try:
        scored = await service.predict(applications, rid, champion, client_of(request))
        predictions = scored.predictions
    except ProblemError as exc:  # no model, or a timeout: in the protocol's own shape
        message = f"{exc.error}: {exc.fields()}" if exc.detail else exc.error
        raise V2Error(exc.status, message) from None
    n = len(predictions)
    outputs: list[dict[str, Any]] = [
        {"name": out, "datatype": kind, "shape": [n], "data": [p[out] for p in predictions]}
        for out, kind in OUTPUTS.items()
        if out in wanted
    ]
    answer = {
        "model_name": champion.name,
        "model_version": champion.version,
        "id": payload.get("id", rid),
        "parameters": {"content_type": "pd"},
        "outputs": outputs,
    }
    binary = {
        o["name"]: tensors.encode(o["data"], o["datatype"])
        for o in outputs
        if tensors.wants_binary(payload, o["name"])
    }
    content, json_size = tensors.pack(answer, binary)
    if json_size is None:
        return Response(content, media_type="application/json")
    headers = {tensors.HEADER: str(json_size)}
    return Response(content, media_type="application/octet-stream", headers=headers)


OUTPUTS = {"probability": "FP64", "decision": "BYTES"}
"""The model's output tensors and their datatypes, in the order they are answered."""


def _payload(body: bytes, header_length: str | None) -> dict[str, Any]:
    """The request object, its binary tensors decoded when it was sent with the extension."""
    try:
        if header_length is not None:
            header, binary = tensors.split_body(body, header_length)
            return tensors.attach_binary(header, binary)
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise V2Error(400, f"the body is not JSON: {where_in_json(exc)}") from None
    except tensors.TensorError as exc:
        raise V2Error(400, str(exc)) from None
    if not isinstance(payload, dict):
        raise V2Error(400, "expected an object with an 'inputs' list of tensors")
    return payload


def _requested(payload: dict[str, Any]) -> set[str]:
    """The outputs asked for (``outputs[].name``), all of them when the request names none."""
    asked = payload.get("outputs")
    if asked is None:
        return set(OUTPUTS)
    if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
        raise V2Error(400, "'outputs' must be a list of objects with a 'name'")
    names = {str(o.get("name"))[:100] for o in asked}
    unknown = sorted(names - set(OUTPUTS))
    if unknown:
        raise V2Error(400, f"unknown output {unknown[0]!r}: the model has {list(OUTPUTS)}")
    return names


def rows_from_tensors(payload: Any) -> list[dict[str, Any]]:
    """Rows from v2 input tensors, one tensor per column, all of the same length."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise V2Error(400, "expected an object with an 'inputs' list of tensors")
    if not isinstance(payload.get("id", ""), str):
        raise V2Error(400, "the request 'id' must be a string")  # echoed in the answer
    columns: dict[str, list[Any]] = {}
    for tensor in payload["inputs"]:
        if not isinstance(tensor, dict) or not {"name", "data"} <= set(tensor):
            raise V2Error(400, "each input tensor needs a 'name' and 'data'")
        if not isinstance(tensor["name"], str):
            raise V2Error(400, "each input tensor's 'name' must be a string")
        data = tensor["data"]
        if not isinstance(data, list):
            raise V2Error(400, f"input {tensor['name']!r}: 'data' must be a list")
        shape = tensor.get("shape")
        if isinstance(shape, list) and shape and shape[0] != -1 and shape[0] != len(data):
            raise V2Error(400, f"input {tensor['name']!r}: shape {shape} but {len(data)} values")
        columns[tensor["name"]] = data
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise V2Error(400, "every input tensor must hold the same number of rows")
    (n,) = lengths
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]
