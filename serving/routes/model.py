"""What is served: the champion's provenance, decision policy and inference path, the
challenger's traffic, and the champion's model card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from serving.routes.common import ServiceDep

router = APIRouter(prefix="/model", tags=["model"])


@router.get("")
async def model(service: ServiceDep) -> dict[str, Any]:
    return service.summary()


@router.get("/card")
async def card(service: ServiceDep, format: str = "html") -> Response:
    """The champion's model card (``?format=md`` for Markdown): the one its bundle (or
    registered run) carries, else the card rendered in the project if it describes this
    very model (same fingerprint)."""
    markdown, html = service.card()
    if format == "md":
        return Response(markdown, media_type="text/markdown")
    return Response(html, media_type="text/html")
