"""DVC stage `document`: the model card and the datasheet, from the reports, params and data.

Writes model_cards/<registered model>.md and .html, datasheets/<dataset>.md and .html. Same
inputs, same bytes: nothing store-specific (registry versions, run ids, dates) goes in.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import pandas as pd

from loanrisk import stage
from loanrisk.docs import sources
from loanrisk.docs.card import model_card
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.document import Document, to_markdown
from loanrisk.docs.facts import data_facts
from loanrisk.docs.html import to_html
from loanrisk.project import load_project


def write(document: Document, markdown: str, html: str) -> None:
    stage.write_text(markdown, to_markdown(document))
    stage.write_text(html, to_html(document))


def main() -> None:
    project = load_project()
    reports = {path: stage.read_json(path) for path in sources.REPORTS}
    frame = pd.read_parquet(sources.VALIDATED)
    reports[sources.VALIDATED] = data_facts(frame, project.dataset)
    name, dataset = project.registered_model, project.dataset.name
    card = sources.card_path(name, "md"), sources.card_path(name, "html")
    sheet = sources.datasheet_path(dataset, "md"), sources.datasheet_path(dataset, "html")
    write(model_card(project, reports), str(card[0]), str(card[1]))
    write(datasheet(project, reports), str(sheet[0]), str(sheet[1]))
    print(f"document: {card[0]}, {card[1]}, {sheet[0]}, {sheet[1]}")


if __name__ == "__main__":
    stage.run(main)
