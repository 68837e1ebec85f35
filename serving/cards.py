"""The champion's model card: the one its bundle (or registered run) carries, else the
project's rendered card, served only if it describes this very model (same fingerprint)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from serving.errors import ProblemError
from serving.model import ServedModel

FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def card_fingerprint(markdown: str) -> str | None:
    """The ``fingerprint`` of the card's YAML front matter (the Hugging Face convention:
    metadata a machine reads between two ``---`` lines at the top), or None."""
    found = FRONT_MATTER.match(markdown)
    if found is None:
        return None
    try:
        metadata: Any = yaml.safe_load(found.group(1))
    except yaml.YAMLError:
        return None
    value = metadata.get("fingerprint") if isinstance(metadata, dict) else None
    return str(value) if value is not None else None


def model_card(folder: Path, champion: ServedModel) -> tuple[str, str] | str:
    """The card's Markdown and HTML in ``folder``, or why there is none for this champion."""
    markdown, html = folder / f"{champion.name}.md", folder / f"{champion.name}.html"
    if not (markdown.is_file() and html.is_file()):
        return f"no {markdown} and {html}: the documentation stage renders them (make repro)"
    found = card_fingerprint(markdown.read_text())
    served = champion.provenance.get("fingerprint")
    if found is None or served is None or found != served:
        described = found[:12] if found else "an unknown model"
        return (
            f"the card in {folder} describes {described}, not the champion "
            f"(v{champion.version}, fingerprint {str(served)[:12]}): the last run's candidate "
            "was not promoted"
        )
    return markdown.read_text(), html.read_text()


def champion_card(champion: ServedModel, folder: Path) -> tuple[str, str]:
    """The champion's card as (Markdown, HTML); 404 with the reason when there is none."""
    found = champion.card or model_card(folder, champion)
    if isinstance(found, str):
        raise ProblemError(404, "no model card for the champion", found)
    return found
