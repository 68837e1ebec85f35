"""DVC stage `document`: the model card, the datasheet and the problem framing, from the
reports, params and data.

Writes model_cards/<registered model>.md and .html, datasheets/<dataset>.md and .html, and
docs/problem.md. Same inputs, same bytes: nothing store-specific (registry versions, run ids,
dates) goes in, and nothing is written to MLflow here: `release`, the next stage, logs the
card and the datasheet to the candidate's run and puts the card in the champion's bundle.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from pathlib import PurePosixPath

import pandas as pd

from loanrisk import paths, stage
from loanrisk.docs import sources
from loanrisk.docs.card import model_card
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.document import Document, to_markdown
from loanrisk.docs.facts import data_facts
from loanrisk.docs.html import to_html
from loanrisk.docs.problem import problem_page
from loanrisk.project import load_project


def write(document: Document, markdown: PurePosixPath, html: PurePosixPath) -> None:
    stage.write_text(str(markdown), to_markdown(document))
    stage.write_text(str(html), to_html(document))


def main() -> None:
    project = load_project()
    reports = {path: stage.read_json(path) for path in sources.REPORTS}
    reports[paths.VALIDATED] = data_facts(pd.read_parquet(paths.VALIDATED), project.dataset)
    card_md, card_html, sheet_md, sheet_html = paths.documents(
        project.registered_model, project.dataset.name
    )
    write(model_card(project, reports), card_md, card_html)
    write(datasheet(project, reports), sheet_md, sheet_html)
    stage.write_text(paths.PROBLEM, to_markdown(problem_page(project)))
    written = (card_md, card_html, sheet_md, sheet_html, paths.PROBLEM)
    print(f"document: {', '.join(map(str, written))}")


if __name__ == "__main__":
    stage.run(main)
