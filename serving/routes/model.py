"""What is served: the champion's provenance, decision policy and inference path, the
challenger's traffic, and the champion's model card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from serving.routes.common import ServiceDep
from serving.routes.responses import problems

router = APIRouter(prefix="/model", tags=["model"])


@router.get("", responses=problems(503))
async def model(service: ServiceDep) -> dict[str, Any]:
    return service.summary()


@router.get(
    "/card",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/markdown": {"schema": {"type": "string"}}}},
        **problems(404, 503),
    },
)
async def card(service: ServiceDep, format: str = "html") -> Response:
    """The champion's model card (``?format=md`` for Markdown): the one its bundle (or
    registered run) carries, else the card rendered in the project if it describes this
    very model (same fingerprint)."""
    markdown, html = service.card()
    if format == "md":
        return Response(markdown, media_type="text/markdown")
    return Response(html, media_type="text/html")
