"""MLflow's scoring protocol (``POST /invocations``), so clients of ``mlflow models serve``
work unchanged: ``dataframe_split``, ``dataframe_records`` or ``inputs``, answered
``{"predictions": [[p0, p1], ...]}`` as MLflow's pyfunc serves ``predict_proba``.

It goes through `Service.predict` like `/predict`: the same contract, decision policy
(counted, captured, not returned: the protocol has no field for it), canary routing,
monitoring and timeout.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.errors import ProblemError
from serving.routes.common import client_of, json_body, request_id, service_of, where_in_json
from serving.routes.responses import MlflowError, problems

router = APIRouter(tags=["mlflow"])

ROWS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
PAYLOAD = {
    "type": "object",
    "description": "One of dataframe_split, dataframe_records or inputs, as MLflow takes them",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
            "required": ["columns", "data"],
        },
        "dataframe_records": ROWS,
        "inputs": {"anyOf": [ROWS, {"type": "object", "additionalProperties": {"type": "array"}}]},
    },
}


@router.post(
    "/invocations",
    openapi_extra=json_body(PAYLOAD),
    responses={**problems(400, body=MlflowError), **problems(503, 504)},
)
async def invocations(request: Request) -> Response:
    service = service_of(request)
    champion = service.require_champion()
    rid = request_id(request)

    def read(body: bytes) -> list[dict[str, Any]] | str:
        """The validated rows, or MLflow's message for a bad request."""
        try:
            return service.door.rows(rows_from_mlflow(orjson.loads(body)), rid)
        except orjson.JSONDecodeError as exc:
            return f"the body is not JSON: {where_in_json(exc)}"
        except (ValueError, TypeError, KeyError) as exc:
            return str(exc)
        except ProblemError as exc:
            return f"{exc.error}: {exc.fields()}"

    applications = await service.accept(await request.body(), read)
    if isinstance(applications, str):
        return _mlflow_error(applications)
    scored = await service.predict(applications, rid, champion, client_of(request))
    p = [row["probability"] for row in scored.predictions]
    return _json({"predictions": [[1.0 - q, q] for q in p]})


def rows_from_mlflow(payload: Any) -> list[dict[str, Any]]:
    """Rows from any of the three payloads ``mlflow models serve`` accepts."""
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object with dataframe_split, dataframe_records or inputs")
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if not isinstance(split, dict) or "columns" not in split or "data" not in split:
            raise ValueError("dataframe_split needs 'columns' and 'data'")
        columns, data = split["columns"], split["data"]
        if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            raise ValueError("dataframe_split.columns must be a list of names")
        if not (isinstance(data, list) and all(isinstance(r, list) for r in data)):
            raise ValueError("dataframe_split.data must be a list of rows (lists)")
        return [dict(zip(columns, row, strict=True)) for row in data]
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("dataframe_records must be a list of objects")
        return list(records)
    if "inputs" in payload:
        return _inputs(payload["inputs"])
    raise ValueError("expected one of dataframe_split, dataframe_records or inputs")


def _inputs(inputs: Any) -> list[dict[str, Any]]:
    if isinstance(inputs, dict):
        if not all(isinstance(v, list) for v in inputs.values()):
            raise ValueError("inputs: every column must be a list")
        n = {len(v) for v in inputs.values()}
        if len(n) != 1:
            raise ValueError("inputs: every column must be a list of the same length")
        (rows,) = n
        return [{k: v[i] for k, v in inputs.items()} for i in range(rows)]
    if isinstance(inputs, list) and all(isinstance(r, dict) for r in inputs):
        return list(inputs)
    raise ValueError("inputs must be an object of columns or a list of records")


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _mlflow_error(message: str) -> Response:
    """MLflow's own error shape for a bad request."""
    return _json({"error_code": "BAD_REQUEST", "message": message}, 400)
