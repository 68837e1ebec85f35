"""Liveness and readiness: live as long as the process answers, ready once a model has
loaded and answered its warm-up prediction (a broken model never takes the process down)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from serving.routes.common import JSON, ServiceDep

router = APIRouter(prefix="/health", tags=["health"])


class Live(BaseModel):
    live: Literal[True]


class Ready(BaseModel):
    ready: Literal[True]
    version: str


class NotReady(BaseModel):
    ready: Literal[False]
    reason: str


@router.get("/live", response_model=Live)
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": NotReady, "description": "No model has loaded yet, and why"}},
)
async def ready(service: ServiceDep) -> Response:
    if service.champion is None:
        return JSON({"ready": False, "reason": service.not_ready}, status_code=503)
    return JSON({"ready": True, "version": service.champion.version})
