"""The project's own protocol: score applications, and report their outcomes later."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from serving.errors import ProblemError
from serving.requests import Feedback
from serving.routes.common import (
    JSON,
    ServiceDep,
    authorise_feedback,
    client_of,
    json_body,
    parse_json,
    request_id,
    service_of,
)
from serving.routes.responses import problems


def router_for(application_schema: dict[str, object], max_batch: int) -> APIRouter:
    """The router, its OpenAPI body the contract's schema (it depends on the dataset): one
    application, or a batch of 1 to ``max_batch``."""
    router = APIRouter(tags=["predict"])
    batch_schema = {
        "type": "object",
        "properties": {
            "applications": {
                "type": "array",
                "items": application_schema,
                "minItems": 1,
                "maxItems": max_batch,
            }
        },
        "required": ["applications"],
        "additionalProperties": False,
    }

    @router.post(
        "/predict",
        openapi_extra=json_body({"anyOf": [application_schema, batch_schema]}),
        responses=problems(400, 422, 503, 504),
    )
    async def predict(request: Request) -> Response:
        """Score one application, or ``{"applications": [...]}``; decide each."""
        service = service_of(request)
        rid = request_id(request)
        applications = await service.accept(
            await request.body(), lambda body: service.door.applications(parse_json(body))
        )
        scored = await service.predict(applications, rid, client=client_of(request))
        model = {"name": scored.champion.name, "version": scored.champion.version}
        return JSON({"request_id": rid, "model": model, "predictions": scored.predictions})

    @router.post(
        "/feedback",
        status_code=202,
        # The token is asked for only when LOANRISK_FEEDBACK_TOKEN is set: optional here.
        openapi_extra={**json_body(Feedback.model_json_schema()), "security": [{}]},
        dependencies=[Depends(authorise_feedback)],
        responses=problems(400, 401, 422, 503),
    )
    async def feedback(request: Request, service: ServiceDep) -> Response:
        """Record an observed outcome for an application scored earlier."""
        try:
            outcome = Feedback.model_validate(parse_json(await request.body()))
        except ValidationError as exc:
            raise ProblemError(422, "invalid feedback", service.door.problems(exc)) from None
        joined = await service.feedback(outcome, request_id(request))
        return JSON({"status": "recorded", "id": outcome.id, "joined": joined}, status_code=202)

    return router
