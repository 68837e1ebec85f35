"""DVC stage `document`: the model card, the datasheet and the problem framing, from the
reports, params and data, through the templates in `docs/templates/`.

Writes model_cards/<registered model>.md and .html, datasheets/<dataset>.md and .html, and
docs/problem.md and .html. Same inputs, same bytes: nothing store-specific (registry
versions, run ids, dates) goes in, and nothing is written to MLflow here: `release`, the next
stage, logs the card and the datasheet to the candidate's run and puts the card in the
champion's bundle.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

from pathlib import PurePosixPath

import pandas as pd

from loanrisk import paths, stage
from loanrisk.docs.card import model_card
from loanrisk.docs.context import REPORTS
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.facts import data_facts
from loanrisk.docs.problem import problem_page
from loanrisk.docs.template import Page
from loanrisk.project import load_project


def write(page: Page, markdown: PurePosixPath | str, html: PurePosixPath | str) -> None:
    stage.write_text(str(markdown), page.markdown)
    stage.write_text(str(html), page.html)


def main() -> None:
    project = load_project()
    reports = {path: stage.read_json(path) for path in REPORTS}
    reports[paths.VALIDATED] = data_facts(pd.read_parquet(paths.VALIDATED), project.dataset)
    card_md, card_html, sheet_md, sheet_html = paths.documents(
        project.registered_model, project.dataset.name
    )
    write(model_card(project, reports), card_md, card_html)
    write(datasheet(project, reports), sheet_md, sheet_html)
    write(problem_page(project), paths.PROBLEM, paths.PROBLEM_HTML)
    written = (card_md, card_html, sheet_md, sheet_html, paths.PROBLEM, paths.PROBLEM_HTML)
    print(f"document: {', '.join(map(str, written))}")


if __name__ == "__main__":
    stage.run(main)
