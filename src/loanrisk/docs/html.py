"""A :class:`~loanrisk.docs.document.Document` as one self-contained HTML page.

Self-contained because a card travels: attached to a review, opened from a bundle on a
machine without network. So the styles are inline, every image is a ``data:`` URI, and the
only links are to other places, never to something the page needs to display.
"""

from __future__ import annotations

import base64
import re
from html import escape

from loanrisk.docs.document import (
    Block,
    Bullets,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    numeric_columns,
)

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.9rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.4rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.12rem; margin-top: 1.6rem; }
h4 { font-size: 1rem; margin-top: 1.2rem; }
code { font: .88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f3f4f6; padding: .1em .3em; border-radius: 4px; }
table { border-collapse: collapse; margin: .3rem 0 1rem; font-size: .9rem; }
p.caption { font-weight: 600; margin: .8rem 0 .3rem; }
div.table { overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 1rem 0 1.4rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { font-size: .88rem; color: #57606a; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
      padding: .4rem 1rem; margin: 1rem 0; font-size: .92rem; }
nav ol { margin: .3rem 0; padding-left: 1.3rem; columns: 2; }
a { color: #0969da; }
""".strip()


def to_html(document: Document) -> str:
    """The whole page: title, contents, sections, with styles and images inline."""
    title = inline(document.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(_plain_text(document.title))}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{title}</h1>",
    ]
    parts += [_block(b) for b in document.intro]
    parts.append(_contents(document))
    parts += [_section(s, 2) for s in document.sections]
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _contents(document: Document) -> str:
    items = "".join(
        f'<li><a href="#{s.anchor}">{inline(s.title)}</a></li>' for s in document.sections
    )
    return f"<nav><strong>Contents</strong><ol>{items}</ol></nav>"


def _section(section: Section, level: int) -> str:
    head = f'<h{level} id="{escape(section.anchor)}">{inline(section.title)}</h{level}>'
    body = [_section(b, level + 1) if isinstance(b, Section) else _block(b) for b in section.blocks]
    return "\n".join([f'<section id="s-{escape(section.anchor)}">', head, *body, "</section>"])


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block)


def _table(table: Table) -> str:
    right = numeric_columns(table)

    def cells(row: tuple[str, ...], tag: str) -> str:
        return "".join(
            f'<{tag} class="num">{inline(c)}</{tag}>' if r else f"<{tag}>{inline(c)}</{tag}>"
            for c, r in zip(row, right, strict=True)
        )

    # A caption above the table rather than <caption>, which would wrap to a narrow table.
    caption = f'<p class="caption">{inline(table.caption)}</p>' if table.caption else ""
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in table.rows)
    return (
        f'<div class="table" id="t-{escape(table.name)}">{caption}<table>'
        f"<thead><tr>{cells(table.header, 'th')}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<figure id="f-{escape(figure.name)}">'
        f'<img src="data:image/png;base64,{data}" alt="{escape(figure.alt)}">'
        f"<figcaption>{inline(figure.caption)}</figcaption></figure>"
    )


_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> str:
    """The inline Markdown the documents use, as escaped HTML: links, code, strong, emphasis.

    Links are cut out first (their text may hold code), then code spans, so that nothing
    inside a code span is read as markup.
    """
    out, start = [], 0
    for match in _LINK.finditer(text):
        out.append(_spans(text[start : match.start()]))
        out.append(f'<a href="{escape(_target(match[2]))}">{_spans(match[1])}</a>')
        start = match.end()
    out.append(_spans(text[start:]))
    return "".join(out)


def _target(href: str) -> str:
    """A link to a sibling Markdown document points at its HTML version: the reader of the
    HTML card wants the HTML datasheet."""
    relative = not href.startswith(("http://", "https://", "#"))
    return href.removesuffix(".md") + ".html" if relative and href.endswith(".md") else href


def _spans(text: str) -> str:
    out = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = escape(part, quote=False)
        html = _STRONG.sub(r"<strong>\1</strong>", html)
        html = _EMPHASIS.sub(r"<em>\1</em>", html)
        out.append(html)
    return "".join(out)


def _plain_text(text: str) -> str:
    return _CODE.sub(r"\1", text).replace("**", "")
