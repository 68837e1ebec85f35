"""Two standard protocols for the same model, so existing clients work unchanged.

- The Open Inference Protocol v2 (KServe's REST protocol, also spoken by Seldon MLServer
  and Triton): one tensor per named column, ``parameters.content_type: "pd"``, the request
  ``id`` echoed, and errors as ``{"error": "..."}``.
- MLflow's scoring protocol (``POST /invocations``): ``dataframe_split``,
  ``dataframe_records`` or ``inputs``, answered ``{"predictions": [[p0, p1], ...]}`` as
  ``mlflow models serve`` answers for this model (its pyfunc serves ``predict_proba``).

Both go through the same contract check and scoring as ``/predict``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

if TYPE_CHECKING:
    from serving.app import Service

V2_TYPES = {"float": "FP64", "integer": "INT64", "boolean": "BOOL", "category": "BYTES"}

Validate = Callable[["Service", list[dict[str, Any]], str], list[dict[str, Any]]]
Predict = Callable[["Service", list[dict[str, Any]], str, Any], list[dict[str, Any]]]


class V2Error(Exception):
    """A v2 protocol error: ``{"error": message}`` with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def add_v2(app: FastAPI, service: Service, validate: Validate, predict: Predict) -> None:
    """The v2 endpoints (``/v2``, health, model metadata and readiness, infer)."""
    from serving.app import ProblemError

    def model_or_404(name: str, version: str | None = None) -> Any:
        champion = service.champion
        if champion is None or name != champion.name:
            raise V2Error(404, f"model {name!r} is not served here")
        if version is not None and version != champion.version:
            raise V2Error(404, f"model {name!r} has no version {version!r} here")
        return champion

    @app.exception_handler(V2Error)
    async def v2_error(request: Request, exc: V2Error) -> Response:
        return _json({"error": exc.message}, exc.status)

    @app.get("/v2", tags=["v2"])
    async def server_metadata() -> Response:
        return _json({"name": "loanrisk", "version": "1", "extensions": []})

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        ready = service.champion is not None
        return _json({"ready": ready}, 200 if ready else 503)

    async def metadata(name: str, version: str | None = None) -> Response:
        champion = model_or_404(name, version)
        dataset = service.dataset
        inputs = [{"name": dataset.id.column, "datatype": "BYTES", "shape": [-1]}] + [
            {"name": n, "datatype": V2_TYPES[c.type], "shape": [-1]}
            for n, c in dataset.columns.items()
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

    async def model_ready(name: str, version: str | None = None) -> Response:
        champion = service.champion
        ready = champion is not None and champion.name == name
        if ready and version is not None:
            ready = champion is not None and champion.version == version
        return _json({"name": name, "ready": ready}, 200 if ready else 503)

    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        champion = model_or_404(name, version)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise V2Error(400, "the body is not JSON") from None
        rows = _rows_from_tensors(payload)
        request_id = request.scope["state"]["request_id"]
        try:
            applications = validate(service, rows, request_id)
        except ProblemError as exc:
            raise V2Error(400, _one_line(exc.detail) or exc.error) from None
        predictions = predict(service, applications, request_id, champion)
        n = len(predictions)
        return _json(
            {
                "model_name": champion.name,
                "model_version": champion.version,
                "id": payload.get("id", request_id),
                "parameters": {"content_type": "pd"},
                "outputs": [
                    {
                        "name": "probability",
                        "datatype": "FP64",
                        "shape": [n],
                        "data": [p["probability"] for p in predictions],
                    },
                    {
                        "name": "decision",
                        "datatype": "BYTES",
                        "shape": [n],
                        "data": [p["decision"] for p in predictions],
                    },
                ],
            }
        )

    app.add_api_route("/v2/models/{name}", metadata, methods=["GET"], tags=["v2"])
    app.add_api_route(
        "/v2/models/{name}/versions/{version}", metadata, methods=["GET"], tags=["v2"]
    )
    app.add_api_route("/v2/models/{name}/ready", model_ready, methods=["GET"], tags=["v2"])
    app.add_api_route(
        "/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"], tags=["v2"]
    )
    app.add_api_route("/v2/models/{name}/infer", infer, methods=["POST"], tags=["v2"])
    app.add_api_route(
        "/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"], tags=["v2"]
    )


def _rows_from_tensors(payload: Any) -> list[dict[str, Any]]:
    """Rows from v2 input tensors, one tensor per column, all of the same length."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise V2Error(400, "expected an object with an 'inputs' list of tensors")
    columns: dict[str, list[Any]] = {}
    for tensor in payload["inputs"]:
        if not isinstance(tensor, dict) or not {"name", "data"} <= set(tensor):
            raise V2Error(400, "each input tensor needs a 'name' and 'data'")
        data = tensor["data"]
        if not isinstance(data, list):
            raise V2Error(400, f"input {tensor['name']!r}: 'data' must be a list")
        shape = tensor.get("shape")
        if isinstance(shape, list) and shape and shape[0] != -1 and shape[0] != len(data):
            raise V2Error(400, f"input {tensor['name']!r}: shape {shape} but {len(data)} values")
        columns[str(tensor["name"])] = data
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise V2Error(400, "every input tensor must hold the same number of rows")
    (n,) = lengths
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def _one_line(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(f"{d['field']}: {d['reason']}" for d in detail if isinstance(d, dict))
    return str(detail or "")


def add_invocations(app: FastAPI, service: Service, validate: Validate) -> None:
    """MLflow's scoring endpoint: ``{"predictions": [[p0, p1], ...]}`` per row."""
    from serving.app import ProblemError

    @app.post("/invocations", tags=["mlflow"])
    async def invocations(request: Request) -> Response:
        champion = service.require_champion()
        request_id = request.scope["state"]["request_id"]
        try:
            payload = orjson.loads(await request.body())
            rows = _rows_from_mlflow(payload)
            applications = validate(service, rows, request_id)
        except orjson.JSONDecodeError:
            return _mlflow_error("the body is not JSON")
        except (ValueError, TypeError, KeyError) as exc:
            return _mlflow_error(str(exc))
        except ProblemError as exc:
            return _mlflow_error(f"{exc.error}: {_one_line(exc.detail)}")
        features = service.dataset.feature_names
        p = champion.score_rows([{f: a[f] for f in features} for a in applications])
        return _json({"predictions": [[1.0 - float(q), float(q)] for q in p]})


def _rows_from_mlflow(payload: Any) -> list[dict[str, Any]]:
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
        inputs = payload["inputs"]
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
    raise ValueError("expected one of dataframe_split, dataframe_records or inputs")


def _mlflow_error(message: str) -> Response:
    """MLflow's own error shape for a bad request."""
    return _json({"error_code": "BAD_REQUEST", "message": message}, 400)
