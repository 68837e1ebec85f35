"""The service's one error type, free of any web framework.

The service object raises :class:`ProblemError` (a contract violation, no model, a
timeout); the HTTP layer turns it into ``{"error": ..., "detail": ...}`` with its status,
and each protocol's router may reshape it into that protocol's own error body.
"""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """An error answered with ``status``; ``detail`` names fields and reasons, never values."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail

    def fields(self) -> str:
        """The detail on one line: each field and its reason (for string-only protocols)."""
        if isinstance(self.detail, list):
            return "; ".join(
                f"{d['field']}: {d['reason']}" for d in self.detail if isinstance(d, dict)
            )
        return str(self.detail or "")
