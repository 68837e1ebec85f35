"""Operations that change what this process serves, behind the admin token.

There is no rollback here on purpose: the serving process never writes to the model
registry, so it needs no write credentials. `loanrisk rollback` moves the alias (audited,
with who and why) and exports the bundle; `POST /admin/reload` then serves it (or
`kill -HUP` the uvicorn parent, which replaces every worker).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from serving.routes.common import JSON, ServiceDep, authorise
from serving.routes.responses import WHY, problems

router = APIRouter(
    prefix="/admin",
    tags=["operations"],
    dependencies=[Depends(authorise)],
    responses=problems(401, 403),
)


class Reloaded(BaseModel):
    reloaded: Literal[True]
    from_version: str | None
    serving_version: str
    inference_path: str


class ReloadRefused(BaseModel):
    reloaded: Literal[False]
    reason: str
    serving_version: str | None


@router.post(
    "/reload",
    response_model=Reloaded,
    responses={409: {"model": ReloadRefused, "description": WHY[409]}},
)
async def reload(service: ServiceDep) -> Response:
    """Load the configured model URI again; swap only if the new model loads and answers.
    409 with the reason (the old model keeps serving) otherwise."""
    result = await service.reload()
    return JSON(result, status_code=200 if result["reloaded"] else 409)
