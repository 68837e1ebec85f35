"""A document as data: sections of paragraphs, lists, tables and figures, rendered as Markdown.

The card and the datasheet are built as a :class:`Document` once and rendered twice (here as
Markdown, by :mod:`loanrisk.docs.html` as HTML), so the two versions cannot say different
things, and a test reads the tables as data instead of parsing text back.

Text uses a small part of Markdown's inline syntax, which both renderers understand: code
between backticks, ``**strong**``, ``*emphasis*`` and ``[text](link)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loanrisk.docs.ledger import MARK_CLOSE, MARK_OPEN, MISSING, Fact


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``name`` identifies it (tests look tables up by it)."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def column(self, title: str) -> list[str]:
        i = self.header.index(title)
        return [row[i] for row in self.rows]


@dataclass(frozen=True)
class Figure:
    """A PNG image. Markdown names it by its ``alt`` text only: an image inside Markdown would
    have to be a separate file or a data URI that most viewers refuse, so it lives in the HTML."""

    name: str
    png: bytes
    alt: str
    caption: str


Block = Paragraph | Bullets | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block | Section, ...]

    @property
    def anchor(self) -> str:
        return slug(self.title)


@dataclass(frozen=True)
class Document:
    """A titled list of sections, and every fact it quotes (see :mod:`loanrisk.docs.ledger`)."""

    title: str
    intro: tuple[Block, ...]
    sections: tuple[Section, ...]
    facts: tuple[Fact, ...] = field(default=(), compare=False)

    def walk(self) -> list[Block | Section]:
        """Every block and section, depth first, in reading order."""
        out: list[Block | Section] = list(self.intro)

        def visit(section: Section) -> None:
            out.append(section)
            for block in section.blocks:
                if isinstance(block, Section):
                    visit(block)
                else:
                    out.append(block)

        for section in self.sections:
            visit(section)
        return out

    def tables(self) -> dict[str, Table]:
        return {b.name: b for b in self.walk() if isinstance(b, Table)}

    def figures(self) -> dict[str, Figure]:
        return {b.name: b for b in self.walk() if isinstance(b, Figure)}

    def section_titles(self, depth: int | None = None) -> list[str]:
        """Titles of the top-level sections (``depth=1``) or of all of them."""
        if depth == 1:
            return [s.title for s in self.sections]
        return [b.title for b in self.walk() if isinstance(b, Section)]


def slug(text: str) -> str:
    """An anchor for a heading, as GitHub makes them (lower case, spaces to hyphens)."""
    text = re.sub(r"[^\w\- ]", "", text.lower().replace(MARK_OPEN, "").replace(MARK_CLOSE, ""))
    return text.strip().replace(" ", "-")


_NUMBER = r"[+\-]?\d[\d,]*(?:\.\d+)?%?"
_FIGURE = re.compile(rf"{_NUMBER}|\[{_NUMBER}, {_NUMBER}\]")


def is_numeric(cell: str) -> bool:
    """Whether a cell holds a figure (aligned right) rather than a name, a date or a label
    such as an age band."""
    bare = cell.replace(MARK_OPEN, "").replace(MARK_CLOSE, "").strip()
    return bare == MISSING or _FIGURE.fullmatch(bare) is not None


def numeric_columns(table: Table) -> list[bool]:
    return [
        bool(table.rows) and all(is_numeric(row[i]) for row in table.rows)
        for i in range(len(table.header))
    ]


# -- Markdown -----------------------------------------------------------------------------------


def to_markdown(document: Document) -> str:
    """The document as GitHub-flavoured Markdown."""
    lines = [f"# {_text(document.title)}", ""]
    for block in document.intro:
        lines += _block(block)
    for section in document.sections:
        lines += _section(section, 2)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _section(section: Section, level: int) -> list[str]:
    lines = [f"{'#' * level} {_text(section.title)}", ""]
    for block in section.blocks:
        lines += _section(block, level + 1) if isinstance(block, Section) else _block(block)
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [_text(block.text), ""]
    if isinstance(block, Bullets):
        return [f"- {_text(item)}" for item in block.items] + [""]
    if isinstance(block, Table):
        return _table(block)
    return [f"*Figure (in the HTML version): {_text(block.alt)}.*", ""]


_CODE_SPAN = re.compile(r"(`[^`]+`)")


def _text(text: str) -> str:
    """Text with ``<`` escaped outside code spans: a description such as ``A<yyyymm>`` would
    otherwise be read as an HTML tag and vanish."""
    parts = _CODE_SPAN.split(text)
    return "".join(p if i % 2 else p.replace("<", "\\<") for i, p in enumerate(parts))


def _table(table: Table) -> list[str]:
    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(_text(c).replace("|", "\\|") for c in cells) + " |"

    rule = ["---:" if right else "---" for right in numeric_columns(table)]
    lines = [row(table.header), "|" + "|".join(rule) + "|", *(row(r) for r in table.rows)]
    if table.caption:
        lines = [_text(table.caption), "", *lines]
    return [*lines, ""]
