"""Liveness and readiness: live as long as the process answers, ready once a model has
loaded and answered its warm-up prediction (a broken model never takes the process down)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from serving.routes.common import JSON, ServiceDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/ready")
async def ready(service: ServiceDep) -> Response:
    if service.champion is None:
        return JSON({"ready": False, "reason": service.not_ready}, status_code=503)
    return JSON({"ready": True, "version": service.champion.version})
