"""DVC stage `document`: the model card, the datasheet and the problem framing, from the
reports, params and data; the card and the datasheet are also logged to the candidate's run.

Writes model_cards/<registered model>.md and .html, datasheets/<dataset>.md and .html, and
docs/problem.md. Same inputs, same bytes: nothing store-specific (registry versions, run ids,
dates) goes in. The card and the datasheet are then logged as artifacts of the MLflow run
that holds the candidate (found by the fingerprint in reports/verdict.json), under
model_cards/ and datasheets/, so the registered version carries its documents.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import warnings
from pathlib import PurePosixPath

import pandas as pd
from mlflow import MlflowClient

from loanrisk import stage, tracking
from loanrisk.docs import sources
from loanrisk.docs.card import model_card
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.document import Document, to_markdown
from loanrisk.docs.facts import data_facts
from loanrisk.docs.html import to_html
from loanrisk.docs.ledger import SourceError
from loanrisk.docs.problem import problem_page
from loanrisk.project import Project, load_project


def write(document: Document, markdown: PurePosixPath, html: PurePosixPath) -> None:
    stage.write_text(str(markdown), to_markdown(document))
    stage.write_text(str(html), to_html(document))


def log_to_candidate_run(project: Project, fingerprint: str, paths: list[PurePosixPath]) -> str:
    """Log ``paths`` as artifacts of the candidate's run, each under its folder's name."""
    tracking.configure(project.experiment)
    run_id = tracking.find_run(sources.CANDIDATE, fingerprint)
    with tracking.store_errors():
        client = MlflowClient()
        for path in paths:
            client.log_artifact(run_id, str(path), artifact_path=path.parent.name)
    return run_id


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    project = load_project()
    reports = {path: stage.read_json(path) for path in sources.REPORTS}
    frame = pd.read_parquet(sources.VALIDATED)
    reports[sources.VALIDATED] = data_facts(frame, project.dataset)
    name, dataset = project.registered_model, project.dataset.name
    card = [sources.card_path(name, "md"), sources.card_path(name, "html")]
    sheet = [sources.datasheet_path(dataset, "md"), sources.datasheet_path(dataset, "html")]
    write(model_card(project, reports), *card)
    write(datasheet(project, reports), *sheet)
    stage.write_text(sources.PROBLEM, to_markdown(problem_page(project)))
    fingerprint = reports[sources.VERDICT].get("fingerprint")
    if not fingerprint:
        raise SourceError(f"{sources.VERDICT} has no fingerprint: re-run `dvc repro promote`")
    run_id = log_to_candidate_run(project, fingerprint, card + sheet)
    print(f"document: {', '.join(map(str, card + sheet))}, {sources.PROBLEM}")
    print(f"document: card and datasheet logged to MLflow run {run_id}")


if __name__ == "__main__":
    stage.run(main)
