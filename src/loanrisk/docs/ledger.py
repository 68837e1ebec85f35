"""Every figure a document shows, and the file it came from.

A template never formats a number itself. Its context holds :class:`Traced` values (a
position in a named source: a report, the params, the declaration, facts computed from the
data) and :class:`Derived` ones (computed here from such values: an interval, a count, a
difference); a format filter (``{{ metrics.candidate.test.roc_auc | dec4 }}``) formats one and
records a :class:`Fact`. So a test can check each fact against the file it names, and a
*marked* rendering (each fact between ``⟦`` and ``⟧``) shows any number that was typed by
hand instead: there should be none. Rendering refuses a value printed without a filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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


def figure(value: Any) -> str:
    """A gate threshold or value: yes/no for a flag, four decimals for a number."""
    if isinstance(value, bool) or value is None:
        return plain(value)
    if isinstance(value, int | float):
        return f"{float(value):.4f}"
    return str(value)


def share(value: Any) -> str:
    """A share computed from others, to the precision params are written with."""
    return f"{round(float(value), 10):g}"


FORMATS: dict[str, Format] = {
    "dec3": decimals(3),
    "dec4": decimals(4),
    "pct1": percent(1),
    "pct2": percent(2),
    "signed2": signed(2),
    "signed4": signed(4),
    "interval3": interval(3),
    "interval4": interval(4),
    "count": count,
    "plain": plain,
    "figure": figure,
    "share": share,
}
"""The format filters a template may apply to a traced or derived value, by name."""


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

    def at(self, source: str, *path: Key) -> Traced:
        if source not in self.sources:
            raise SourceError(f"no source {source!r} (have {sorted(self.sources)})")
        return Traced(self, source, tuple(path))

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

    def derived(self, value: Any, how: str, *inputs: Any) -> Derived:
        """A figure computed from others; ``how`` names the computation, ``inputs`` its
        arguments, so a test can redo it. Recorded when a filter shows it."""
        return Derived(self, value, how, tuple(inputs))

    def used_sources(self) -> list[str]:
        """The files the document quoted or computed from (its figures' data included)."""
        return sorted(self.consulted)


class Traced:
    """A position inside one source. ``x.name`` and ``x[key]`` go deeper; iterating goes
    over a mapping's keys (as :class:`Name`) or a list's items; ``| raw`` reads the value
    to decide what to show; a format filter shows it."""

    __slots__ = ("_ledger", "_path", "_source")

    def __init__(self, ledger: Ledger, source: str, path: tuple[Key, ...]) -> None:
        self._ledger, self._source, self._path = ledger, source, path

    @property
    def where(self) -> tuple[str, tuple[Key, ...]]:
        """``(source, path)``: what a derived figure names as its input."""
        return self._source, self._path

    def raw(self) -> Any:
        return self._ledger.lookup(self._source, self._path)

    def show(self, fmt: Format) -> str:
        value = self.raw()
        return self._ledger.record(Fact(self._source, self._path, value, fmt(value)))

    def __getattr__(self, name: str) -> Traced:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, key: Key) -> Traced:
        plain_key = str(key) if isinstance(key, Name) else key
        child = Traced(self._ledger, self._source, (*self._path, plain_key))
        child.raw()  # a missing key fails here, naming the file and the path
        return child

    def __contains__(self, key: object) -> bool:
        node = self.raw()
        return isinstance(node, Mapping) and key in node

    def __iter__(self) -> Iterator[Any]:
        node = self.raw()
        if isinstance(node, Mapping):
            return iter([Name(k, self._ledger, self._source, (*self._path, k)) for k in node])
        if isinstance(node, list):
            return iter([self[i] for i in range(len(node))])
        raise SourceError(f"{self._source}: {self._path} is not a mapping or a list")

    def __len__(self) -> int:
        return len(self.raw())

    def __bool__(self) -> bool:
        return bool(self.raw())


class Name(str):
    """A key of a mapping in a source (a group, a criterion): usable as the string it is,
    shown through ``| key`` so that a name such as an age band is a fact too."""

    fact: Fact
    ledger: Ledger

    def __new__(cls, name: str, ledger: Ledger, source: str, path: tuple[Key, ...]) -> Name:
        self = super().__new__(cls, name)
        self.fact = Fact(source, path, name, str(name), "key")
        self.ledger = ledger
        ledger.consulted[source] = None
        return self

    def show(self) -> str:
        return self.ledger.record(self.fact)


@dataclass(frozen=True)
class Derived:
    """A figure computed from others, waiting for the filter that shows it."""

    ledger: Ledger
    value: Any
    how: str
    inputs: tuple[Any, ...]

    def show(self, fmt: Format) -> str:
        fact = Fact(DERIVED, (), self.value, fmt(self.value), "derived", self.how, self.inputs)
        return self.ledger.record(fact)


def name_in(mapping: Traced, key: str) -> Name:
    """``key`` of the mapping at ``mapping``, as a :class:`Name` a template shows with ``| key``."""
    found = [name for name in mapping if isinstance(name, Name) and name == key]
    if not found:
        raise SourceError(f"{mapping.where[0]}: {key!r} is not a key here")
    return found[0]
