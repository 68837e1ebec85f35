"""One renderer for every page: Markdown to one self-contained HTML page.

The card, the datasheet, the problem page and the monitoring report are all Markdown first
(GitHub-flavoured: CommonMark plus tables) and all become HTML the same way: markdown-it-py
renders the body, and `page.html.j2` beside this module wraps it with the styles inline.
Self-contained because a card travels (attached to a review, opened from a bundle on a
machine without network): every image is a ``data:`` URI, the only links go elsewhere.

Markdown cannot hold an image without a separate file, so a :class:`Figure` is a sentence
in the Markdown (:meth:`Figure.placeholder`) that the HTML replaces with the image itself.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

PAGE = "page.html.j2"
"""The HTML page every document is wrapped in (title, contents, styles), beside this module."""

_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


@dataclass(frozen=True)
class Figure:
    """A PNG image with its alternative text and caption (inline Markdown)."""

    name: str
    png: bytes
    alt: str
    caption: str

    def placeholder(self) -> str:
        """What the Markdown shows instead of the image."""
        return f"*Figure (in the HTML version): {self.alt}.*"

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<figure id="f-{escape(self.name)}">'
            f'<img src="data:image/png;base64,{data}" alt="{escape(self.alt)}">'
            f"<figcaption>{_MARKDOWN.renderInline(self.caption)}</figcaption></figure>\n"
        )


# -- Markdown as written ----------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
_NUMBER = r"[+\-]?\d[\d,]*(?:\.\d+)?%?"
_FIGURE = re.compile(rf"{_NUMBER}|\[{_NUMBER}, {_NUMBER}\]")
_RULE = re.compile(r"\|(?: *:?-+:? *\|)+")
MISSING = "n/a"


def tidy(markdown: str, marks: tuple[str, str] = ("", "")) -> str:
    """A rendered template as the Markdown file: one blank line between blocks, ``<``
    escaped outside code spans (a description such as ``A<yyyymm>`` would otherwise be
    read as an HTML tag and vanish), and each table column whose cells are all figures
    aligned right. ``marks`` are ignored when deciding what a figure is."""
    text = re.sub(r"[ \t]+\n", "\n", markdown)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
    front = FRONT_MATTER.match(text)
    head, body = (text[: front.end()], text[front.end() :]) if front else ("", text)
    parts = _CODE_SPAN.split(body)
    body = "".join(p if i % 2 else p.replace("<", "\\<") for i, p in enumerate(parts))
    return head + _align(body.split("\n"), marks)


def cells(line: str) -> list[str]:
    """The cells of one Markdown table row, as written."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def is_figure(cell: str, marks: tuple[str, str] = ("", "")) -> bool:
    """Whether a cell holds a figure (aligned right) rather than a name, a date or a label
    such as an age band."""
    bare = cell
    for mark in marks:
        bare = bare.replace(mark, "") if mark else bare
    return bare == MISSING or _FIGURE.fullmatch(bare.strip()) is not None


def _align(lines: list[str], marks: tuple[str, str]) -> str:
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and _RULE.fullmatch(lines[i + 1]):
            end = i + 2
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            rows = [cells(line) for line in lines[i + 2 : end]]
            right = [
                bool(rows) and all(is_figure(row[c], marks) for row in rows)
                for c in range(len(cells(lines[i])))
            ]
            out += [lines[i], "|" + "|".join("---:" if r else "---" for r in right) + "|"]
            out += lines[i + 2 : end]
            i = end
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def slug(text: str) -> str:
    """An anchor for a heading, as GitHub makes them (lower case, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


def front_matter(markdown: str) -> str | None:
    """The YAML between the leading ``---`` lines, if the page has any."""
    found = FRONT_MATTER.match(markdown)
    return found.group(1) if found else None


# -- HTML ---------------------------------------------------------------------------------------


def to_html(markdown: str, figures: Sequence[Figure] = ()) -> str:
    """The whole page: the Markdown (front matter left out) under its first heading, a list
    of contents before the first section, each figure's sentence replaced by the figure."""
    found = FRONT_MATTER.match(markdown)
    tokens = _MARKDOWN.parse(markdown[found.end() :] if found else markdown)
    swaps = {figure.placeholder(): figure for figure in figures}
    title, contents = "", []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = tokens[i + 1].content
            token.attrSet("id", slug(text))
            if token.tag == "h1" and not title:
                title = re.sub(r"[`*]", "", text)
            elif token.tag == "h2":
                contents.append((slug(text), _MARKDOWN.renderInline(text)))
        elif token.type == "inline" and token.content in swaps and i > 0:
            figure = swaps[token.content]
            tokens[i - 1 : i + 2] = [_block(figure.html()), _block(""), _block("")]
    for child in (c for t in tokens for c in t.children or () if c.type == "link_open"):
        child.attrSet("href", _target(str(child.attrGet("href"))))
    first = next((i for i, t in enumerate(tokens) if t.tag == "h2"), len(tokens))
    render = _MARKDOWN.renderer.render
    body = render(tokens[:first], _MARKDOWN.options, {})
    rest = render(tokens[first:], _MARKDOWN.options, {})
    body, rest = _wrap_tables(body), _wrap_tables(rest)
    # markdown-it's own rendering (raw HTML off: a source's text arrives escaped), not input
    intro, main = Markup(body), Markup(rest)  # nosec B704 # markdown-it output, html off
    return _PAGES.get_template(PAGE).render(title=title, intro=intro, contents=contents, body=main)


def _block(html: str) -> Token:
    token = Token("html_block", "", 0)
    token.content = html
    return token


def _wrap_tables(html: str) -> str:
    """Each table in a box that scrolls sideways on a narrow screen."""
    return html.replace("<table>", '<div class="table"><table>').replace(
        "</table>", "</table></div>"
    )


def _target(href: str) -> str:
    """A link to a sibling Markdown document points at its HTML version: the reader of the
    HTML card wants the HTML datasheet."""
    relative = not href.startswith(("http://", "https://", "#"))
    return href.removesuffix(".md") + ".html" if relative and href.endswith(".md") else href
