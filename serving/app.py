"""The app factory: the service object behind its routers, with the edge in front.

`create_app(settings)` wires the pieces and nothing else: the protocol-free
:class:`~serving.service.Service` (models, routing, capture, monitoring, metrics), one
router per concern under `serving/routes/`, the error handlers and the ASGI edge
(`serving/edge.py`: request ids, body and concurrency limits, the request log). The model
loads in the lifespan, off the request path; until it has loaded and answered a warm-up
prediction, `/health/ready` says 503 with the reason while `/health/live` says 200.
Run it with `make serve` (uvicorn on 127.0.0.1:8000, `WORKERS=n` for several processes).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from loanrisk.errors import LoanriskError
from loanrisk.stage import one_line
from serving.edge import Edge
from serving.routes import admin, health, mlflow, model, monitoring, predict, v2
from serving.routes.common import JSON, install_error_handlers
from serving.routes.responses import add_edge_responses
from serving.service import LOG, Service
from serving.settings import Settings, load_settings
from serving.throttle import Throttle


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. Settings default to the environment (`serving.settings`)."""
    service = Service.from_settings(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        yield
        service.close()

    app = FastAPI(
        title="Loan risk service",
        version="1",
        lifespan=lifespan,
        default_response_class=JSON,
        description=f"Serves the champion for the dataset {service.dataset.name!r}.",
    )
    app.state.service = service
    app.state.throttle = Throttle()
    schema = service.door.application.model_json_schema()
    # The scoring routes first: FastAPI tries the routers in order, for every request.
    for router in (
        predict.router_for(schema, service.settings.max_batch),
        v2.router,
        mlflow.router,
        health.router,
        monitoring.router,
        model.router,
        admin.router,
    ):
        app.include_router(router)
    document = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with what the edge answers before any route."""
        return app.openapi_schema or add_edge_responses(document())

    app.openapi = openapi  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_exception_handler(v2.V2Error, v2.v2_error)  # type: ignore[arg-type]
    log = service.request_log if service.settings.log_requests else None
    app.add_middleware(Edge, settings=service.settings, log=log)
    return app


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
