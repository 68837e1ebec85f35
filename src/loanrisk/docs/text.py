"""Inline text the renderers understand (see :mod:`loanrisk.docs.document`)."""

from __future__ import annotations

from collections.abc import Iterable

NOT_RECORDED = "*Not recorded*: the declaration does not say, and only the data's owner can answer."
"""The answer to a datasheet question the project cannot know for data it did not make."""


def code(text: str) -> str:
    """A name as code: a column, a file, a parameter."""
    return f"`{text}`" if text else ""


def link(text: str, target: str) -> str:
    return f"[{text}]({target})"


def join(items: Iterable[str]) -> str:
    """``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
