"""Every figure a document shows, and the file it came from.

A document never formats a number itself. It asks the :class:`Ledger` for the value at a path
in a named source (a report, the params, the declaration, facts computed from the data), and
the ledger formats it and records a :class:`Fact`. So a test can check each fact against the
file it names, and a *marked* rendering (each fact between ``⟦`` and ``⟧``) shows any number
that was typed by hand instead: there should be none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from loanrisk.errors import LoanriskError

Key = str | int
Format = Callable[[Any], str]

DERIVED = "derived"
"""The source of a figure computed here from other facts (an interval, a count, a difference)."""

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"
MISSING = "n/a"


class SourceError(LoanriskError):
    """A report lacks what the documents quote: it was written by another version of the code."""


@dataclass(frozen=True)
class Fact:
    """One figure as shown: where it came from, its value and its text.

    ``kind`` is ``value`` (the value at ``path``), ``key`` (``path[-1]`` is a key of the
    mapping at ``path[:-1]``: a group's name, say) or ``derived`` (computed by ``how`` from
    ``inputs``; ``source`` is :data:`DERIVED`).
    """

    source: str
    path: tuple[Key, ...]
    value: Any
    text: str
    kind: Literal["value", "key", "derived"] = "value"
    how: str = ""
    inputs: tuple[Any, ...] = ()


# -- formats ------------------------------------------------------------------------------------


def decimals(places: int) -> Format:
    """A number with ``places`` decimals (``n/a`` for a missing one)."""

    def fmt(value: Any) -> str:
        return MISSING if value is None else f"{float(value):.{places}f}"

    return fmt


def signed(places: int) -> Format:
    """A difference, always with its sign."""

    def fmt(value: Any) -> str:
        return MISSING if value is None else f"{float(value):+.{places}f}"

    return fmt


def percent(places: int) -> Format:
    """A share as a percentage."""

    def fmt(value: Any) -> str:
        return MISSING if value is None else f"{float(value):.{places}%}"

    return fmt


def count(value: Any) -> str:
    """A whole number with thousands separators (200,000 reads; 200000 has to be counted)."""
    return MISSING if value is None else f"{int(value):,}"


def plain(value: Any) -> str:
    """As written in its source: text, a date, a parameter's value; a list joined by commas."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    return str(value)


def interval(places: int) -> Format:
    """A (low, high) pair as ``[low, high]``."""

    def fmt(value: Any) -> str:
        if value is None or None in value:
            return MISSING
        low, high = value
        return f"[{float(low):.{places}f}, {float(high):.{places}f}]"

    return fmt


DEC3, DEC4 = decimals(3), decimals(4)
PCT1, PCT2 = percent(1), percent(2)


# -- the ledger ---------------------------------------------------------------------------------


@dataclass
class Ledger:
    """The sources a document may quote, and the facts it quoted, in order.

    ``sources`` maps a source's name (the path of the file it was read from, relative to the
    project's root) to its parsed content. With ``mark`` every fact's text is wrapped in
    ``⟦ ⟧``: the rendering a test scans for numbers that bypassed the ledger.
    """

    sources: Mapping[str, Any]
    mark: bool = False
    facts: list[Fact] = field(default_factory=list)
    consulted: dict[str, None] = field(default_factory=dict)

    def at(self, source: str, *path: Key) -> Cursor:
        if source not in self.sources:
            raise SourceError(f"no source {source!r} (have {sorted(self.sources)})")
        return Cursor(self, source, tuple(path))

    def lookup(self, source: str, path: tuple[Key, ...]) -> Any:
        self.consulted[source] = None
        node = self.sources[source]
        for i, key in enumerate(path):
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                where = ".".join(str(k) for k in path[: i + 1])
                raise SourceError(
                    f"{source} has no {where}: the report is older or newer than this code; "
                    "re-run the pipeline"
                ) from None
        return node

    def record(self, fact: Fact) -> str:
        self.facts.append(fact)
        return f"{MARK_OPEN}{fact.text}{MARK_CLOSE}" if self.mark else fact.text

    def derived(self, value: Any, fmt: Format, how: str, *inputs: Any) -> str:
        """A figure computed from others; ``how`` names the computation, ``inputs`` its
        arguments, so a test can redo it."""
        return self.record(Fact(DERIVED, (), value, fmt(value), "derived", how, tuple(inputs)))

    def used_sources(self) -> list[str]:
        """The files the document quoted or computed from (its figures' data included)."""
        return sorted(self.consulted)


@dataclass(frozen=True)
class Cursor:
    """A position inside one source: ``show`` quotes a value below it, ``get`` only reads it
    (to decide what to show, never to show it)."""

    ledger: Ledger
    source: str
    path: tuple[Key, ...]

    def at(self, *path: Key) -> Cursor:
        return Cursor(self.ledger, self.source, self.path + path)

    def get(self, *path: Key) -> Any:
        return self.ledger.lookup(self.source, self.path + path)

    def has(self, *path: Key) -> bool:
        try:
            self.get(*path)
        except SourceError:
            return False
        return True

    def names(self, *path: Key) -> list[str]:
        """The keys of the mapping at ``path`` (none for anything else), to iterate over."""
        node = self.get(*path)
        return list(node) if isinstance(node, Mapping) else []

    def show(self, fmt: Format, *path: Key) -> str:
        full = self.path + path
        value = self.ledger.lookup(self.source, full)
        return self.ledger.record(Fact(self.source, full, value, fmt(value)))

    def key(self, *path: Key) -> str:
        """Show ``path[-1]`` as the name it is in its mapping (a group, a criterion)."""
        full = self.path + path
        parent = self.ledger.lookup(self.source, full[:-1])
        if full[-1] not in parent:
            raise SourceError(f"{self.source}: {full[-1]!r} is not a key here")
        return self.ledger.record(Fact(self.source, full, full[-1], str(full[-1]), "key"))
