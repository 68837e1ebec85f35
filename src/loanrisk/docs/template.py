"""The documents' templates: Jinja2 Markdown in ``docs/templates/``, filled from a ledger.

Python builds only the context (the sources as :class:`~loanrisk.docs.ledger.Traced` values,
the figures derived from them, the plots); the prose and the structure are the template's.
The environment is strict: an undefined name fails, and so does any number, flag or traced
value printed without a format filter, so a figure reaches the page only as a recorded fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import yaml

from loanrisk.docs.ledger import (
    FORMATS,
    MARK_CLOSE,
    MARK_OPEN,
    Derived,
    Fact,
    Format,
    Ledger,
    Name,
    SourceError,
    Traced,
)
from loanrisk.docs.render import Figure, tidy, to_html
from loanrisk.errors import LoanriskError


class TemplateError(LoanriskError):
    """A template printed a value that did not come through a format filter."""


@dataclass(frozen=True)
class Page:
    """A rendered document: its Markdown and HTML, and every fact and figure it shows."""

    markdown: str
    html: str
    facts: tuple[Fact, ...]
    figures: tuple[Figure, ...]


def _show(fmt: Format, value: Any) -> str:
    if isinstance(value, Traced | Derived):
        return value.show(fmt)
    raise TemplateError(
        f"{value!r} came from no source: quote it from a report (a context value) or derive "
        "it through the ledger in Python"
    )


def _key(value: Any) -> str:
    if isinstance(value, Name):
        return value.show()
    raise TemplateError(f"{value!r} is not a key of a source: `| key` shows only those")


def _raw(value: Any) -> Any:
    """The value itself, to decide what to show (never to show it)."""
    if isinstance(value, Traced):
        return value.raw()
    if isinstance(value, Derived):
        return value.value
    return str(value) if isinstance(value, Name) else value


def _refuse_bare(value: Any) -> Any:
    if isinstance(value, Name | Traced | Derived | bytes) or (
        isinstance(value, int | float) and not isinstance(value, str)
    ):
        raise TemplateError(
            f"{value!r} printed without a filter: a figure goes through a format filter "
            f"({', '.join(sorted(FORMATS))}), a name through `| key`, a figure through `| image`"
        )
    return value


def code(text: Any) -> str:
    """A name as code: a column, a file, a parameter."""
    return f"`{text}`" if str(text) else ""


def join(items: Iterable[Any]) -> str:
    """``a, b and c``."""
    items = [str(i) for i in items]
    return "".join(items) if len(items) <= 1 else ", ".join(items[:-1]) + " and " + items[-1]


def environment(folder: Path, ledger: Ledger, shown: list[Figure]) -> jinja2.Environment:
    """Templates in ``folder``, their filters quoting through ``ledger``; each figure shown
    is appended to ``shown``."""

    def image(png: bytes, name: str, alt: str, caption: str) -> str:
        figure = Figure(name, png, alt, caption)
        shown.append(figure)
        return figure.placeholder()

    env = jinja2.Environment(  # nosec B701 # Markdown, escaped when markdown-it renders it
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_refuse_bare,
    )
    env.filters.update({name: partial(_show, fmt) for name, fmt in FORMATS.items()})
    env.filters.update(
        key=_key,
        raw=_raw,
        image=image,
        code=code,
        join_and=join,
        yaml=lambda data: yaml.safe_dump(data, sort_keys=False, allow_unicode=True).strip(),
    )
    return env


def render(
    folder: Path, name: str, ledger: Ledger, context: Mapping[str, Any], sources: str = ""
) -> Page:
    """The template ``name`` in ``folder`` as a :class:`Page`. ``sources``, when given, names
    the context variable that lists the files quoted: filled in after the body was rendered,
    so it holds every source the page consulted."""
    shown: list[Figure] = []
    template = environment(folder, ledger, shown).get_template(name)
    values = {**context}
    if sources:
        values[sources] = _Consulted(ledger)
    try:
        text = template.render(values)
    except SourceError:
        raise
    except jinja2.TemplateError as error:
        where = f"{folder / name}:{getattr(error, 'lineno', '?')}"
        raise TemplateError(f"{where}: {error}") from error
    markdown = tidy(text, (MARK_OPEN, MARK_CLOSE) if ledger.mark else ("", ""))
    return Page(markdown, to_html(markdown, shown), tuple(ledger.facts), tuple(shown))


class _Consulted:
    """The files the page consulted so far: iterated where the template lists its sources
    (at the end, after every figure above was quoted)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __iter__(self) -> Any:
        return iter(self._ledger.used_sources())
