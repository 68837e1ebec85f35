"""Reading a rendered page back as its reader sees it: headings and tables of its Markdown,
parsed by markdown-it-py (the renderer's own CommonMark parser), never by the documents' code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_PARSER = MarkdownIt("commonmark").enable("table")


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, title: str) -> list[str]:
        i = self.header.index(title)
        return [row[i] for row in self.rows]


def body(markdown: str) -> str:
    """The page without its YAML front matter."""
    return FRONT_MATTER.sub("", markdown, count=1)


def tables(markdown: str) -> list[Table]:
    """Every table, each cell as written in the Markdown source (code spans keep their
    backticks, ``\\<`` is read as ``<``)."""
    found: list[Table] = []
    rows: list[tuple[str, ...]] = []
    row: list[str] | None = None
    for token in _PARSER.parse(body(markdown)):
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content.replace("\\<", "<"))
        elif token.type == "tr_close" and row is not None:
            rows.append(tuple(row))
            row = None
        elif token.type == "table_close":
            found.append(Table(rows[0], tuple(rows[1:])))
            rows = []
    return found


def table(markdown: str, *header: str) -> Table:
    """The one table whose header starts with ``header``."""
    (found,) = [t for t in tables(markdown) if t.header[: len(header)] == header]
    return found


def titles(markdown: str, level: int | None = None) -> list[str]:
    """Heading texts, at ``level`` (2: the sections) or at every level below the title."""
    found = []
    tokens = _PARSER.parse(body(markdown))
    for i, token in enumerate(tokens):
        wanted = token.tag != "h1" and (level is None or token.tag == f"h{level}")
        if token.type == "heading_open" and wanted:
            found.append(tokens[i + 1].content)
    return found
