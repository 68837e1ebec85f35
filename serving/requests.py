"""The request model, derived from the data contract: the contract at the door.

Names, types, ranges and categories come from the pandera schema that the dataset
declaration builds (`loanrisk.data.contract.build_contract`), never retyped. A live request
differs from a batch row in three ways only: the label is not sent, the id's batch format
(`id.pattern`) does not apply, and the protected attributes are optional (used only for
monitoring, never by the model).
"""

from __future__ import annotations

from typing import Any, Literal

import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from loanrisk.data.contract import build_contract, domain
from loanrisk.data.declaration import Declaration, Rule

_TYPES: dict[str, Any] = {"int64": int, "float64": float, "bool": bool}


def application_model(dataset: Declaration) -> type[BaseModel]:
    """A pydantic model of one application under ``dataset``'s contract.

    Strict types (``"30"`` is not a number, ``1`` is not ``true``), bounds from the range
    checks, ``Literal`` categories (an unknown category is a 422, never a silent NaN), and
    unknown fields refused.
    """
    schema = build_contract(dataset)
    fields: dict[str, Any] = {
        dataset.id.column: (str, Field(min_length=1, max_length=200, description="The id."))
    }
    for name in [*dataset.features, *dataset.protected]:
        column = schema.columns[name]
        annotation, constraints = _field(column)
        optional = name in dataset.protected or column.nullable
        if optional:
            annotation = annotation | None
        fields[name] = (
            annotation,
            Field(None if optional else ..., description=column.description, **constraints),
        )
    config = ConfigDict(extra="forbid", strict=True, frozen=True)
    title = "".join(part.capitalize() for part in dataset.name.replace("-", "_").split("_"))
    validators = {"_rules": _rules_check(dataset.rules)} if dataset.rules else {}
    return create_model(
        f"{title}Application",
        __config__=config,
        __validators__=validators,
        **fields,
    )


def _rules_check(rules: tuple[Rule, ...]) -> Any:
    """The contract's cross-column rules, checked on each application: a request the batch
    contract would quarantine is refused at the door too. The error names the rules broken,
    never the values."""

    def check(application: BaseModel) -> BaseModel:
        broken = [
            rule.name
            for rule in rules
            if rule.broken_by(getattr(application, rule.column), getattr(application, rule.other))
        ]
        if broken:
            raise ValueError(f"breaks the contract's rule(s): {', '.join(broken)}")
        return application

    return model_validator(mode="after")(check)


def _field(column: pa.Column) -> tuple[Any, dict[str, Any]]:
    """The Python type and the pydantic constraints of one contract column."""
    allows = domain(column)
    constraints = {
        key: value
        for key, value in (("ge", allows.minimum), ("le", allows.maximum))
        if value is not None
    }
    kind = str(column.dtype)
    if allows.allowed is not None:
        return Literal[allows.allowed], constraints
    if kind.startswith("string") or kind == "str":
        return str, constraints
    return _TYPES[kind], constraints


def batch_model(application: type[BaseModel], max_batch: int) -> type[BaseModel]:
    """``{"applications": [...]}`` holding 1 to ``max_batch`` applications."""
    return create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid", strict=True),
        applications=(list[application], Field(min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )


class Feedback(BaseModel):
    """An observed outcome for an application scored earlier."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, max_length=200)
    outcome: int = Field(ge=0, le=1, description="1: the positive label was observed")
    """An integer, strictly: ``Literal[0, 1]`` took ``false`` and ``1.0`` for 0 and 1."""
    observed_at: str | None = Field(None, max_length=40)
