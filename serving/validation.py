"""The contract at the door: every protocol's payload checked by the same pydantic models.

`/predict` sends applications as objects, the v2 protocol and MLflow's as columns or
records without an id; all of them end up here, so an application refused by one protocol
is refused by every other, with the same field and reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from loanrisk.data.declaration import Declaration
from serving import metrics
from serving.errors import ProblemError
from serving.requests import application_model, batch_model


class Door:
    """The request models derived from the dataset's contract (`serving.requests`)."""

    def __init__(self, dataset: Declaration, max_batch: int) -> None:
        self.dataset = dataset
        self.application = application_model(dataset)
        self.batch = batch_model(self.application, max_batch)
        self.known = {dataset.id.column, *dataset.columns}

    def applications(self, payload: Any) -> list[dict[str, Any]]:
        """One application or ``{"applications": [...]}``, checked against the contract."""
        try:
            if isinstance(payload, dict) and "applications" in payload:
                batch = self.batch.model_validate(payload)
                return [a.model_dump() for a in batch.applications]  # type: ignore[attr-defined]
            return [self.application.model_validate(payload).model_dump()]
        except ValidationError as exc:
            raise ProblemError(422, "invalid application", self.problems(exc)) from None

    def rows(self, rows: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
        """Rows from a protocol's columnar payload, checked like /predict's (an empty batch is
        a refusal there too).

        A protocol's rows may carry no id: each gets one unique to this request, so canary
        routing is random for them (nothing to be sticky to) and capture never joins them
        to feedback. A row that does carry the id keeps it.
        """
        id_column = self.dataset.id.column
        named = [{id_column: f"{request_id}-{i}", **row} for i, row in enumerate(rows)]
        return self.applications({"applications": named})

    def problems(self, exc: ValidationError) -> list[dict[str, str]]:
        """Each bad field and why, without echoing the applicant's values; counted by field
        (a name outside the contract counts as "(other)", so the label set stays bounded)."""
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "(body)"
            name = str(error["loc"][-1]) if error["loc"] else "(body)"
            metrics.VALIDATION_FAILURES.labels(name if name in self.known else "(other)").inc()
            reason = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append({"field": where, "reason": reason})
        return problems
