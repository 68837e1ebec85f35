"""Drift and live quality against the champion's reference profile, and the metrics that
Prometheus scrapes (recording rules in serving/prometheus/ compute PSI across replicas)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from serving import metrics
from serving.routes.common import JSON, ServiceDep
from serving.routes.responses import problems

router = APIRouter(tags=["monitoring"])


@router.get("/drift", responses=problems(404, 503, 504))
async def drift(service: ServiceDep) -> Response:
    """Recent applications against the champion's reference profile: PSI, Jensen-Shannon
    distance and missing shares per feature, score drift and a verdict."""
    return JSON(await service.drift())


@router.get("/quality", responses=problems(404, 503, 504))
async def quality(service: ServiceDep) -> Response:
    """Live quality from /feedback outcomes joined to this process's predictions."""
    return JSON(await service.quality())


@router.get("/metrics", tags=["operations"], include_in_schema=False)
async def prometheus(service: ServiceDep) -> Response:
    if service.monitor is not None:
        service.monitor.flush()
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
