"""DVC stage `document`: the model card, the datasheet and the problem framing, from the
reports, params and data; the card and the datasheet are also logged to the candidate's run.

Writes model_cards/<registered model>.md and .html, datasheets/<dataset>.md and .html, and
docs/problem.md. Same inputs, same bytes: nothing store-specific (registry versions, run ids,
dates) goes in. The card and the datasheet are then logged as artifacts of the MLflow run
that holds the candidate (found by the fingerprint in reports/verdict.json), under
model_cards/ and datasheets/, so the registered version carries its documents; when that
version is the champion, its serving bundle (models/champion, written by promote before the
card existed) is exported again with the card in it.
"""

import _installed  # noqa: F401 - first: says how to install the project if it is missing

# isort: split

import warnings
from pathlib import PurePosixPath

import pandas as pd
from mlflow import MlflowClient

from loanrisk import stage, tracking
from loanrisk.data.contract import build_contract, contract_json_schema
from loanrisk.docs import sources
from loanrisk.docs.card import model_card
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.document import Document, to_markdown
from loanrisk.docs.facts import data_facts
from loanrisk.docs.html import to_html
from loanrisk.docs.ledger import SourceError
from loanrisk.docs.problem import problem_page
from loanrisk.project import Project, load_project
from loanrisk.registry import registry
from loanrisk.registry.bundle import export_version

BUNDLE = "models/champion"


def write(document: Document, markdown: PurePosixPath, html: PurePosixPath) -> None:
    stage.write_text(str(markdown), to_markdown(document))
    stage.write_text(str(html), to_html(document))


def log_to_candidate_run(project: Project, fingerprint: str, paths: list[PurePosixPath]) -> str:
    """Log ``paths`` as artifacts of the candidate's run, each under its folder's name."""
    tracking.configure(project.experiment)
    run_id = tracking.find_run(sources.CANDIDATE, fingerprint)
    log_artifacts(run_id, paths)
    return run_id


def log_artifacts(run_id: str, paths: list[PurePosixPath]) -> None:
    with tracking.store_errors():
        client = MlflowClient()
        for path in paths:
            client.log_artifact(run_id, str(path), artifact_path=path.parent.name)


def carry_in_bundle(
    project: Project, fingerprint: str, run_id: str, card: list[PurePosixPath]
) -> str | None:
    """If the champion is this very model (same fingerprint), export its bundle again, now
    with the card; its version, or None when the champion is another model (or none).

    The champion's registered run may be an earlier run that trained the same bytes: the
    card is logged there too, since the bundle takes it from the registered run."""
    name = project.registered_model
    with tracking.store_errors():
        champion = registry.version_by_alias(name, registry.CHAMPION)
    if champion is None or champion.tags.get("fingerprint") != fingerprint:
        return None
    if champion.run_id and champion.run_id != run_id:
        log_artifacts(champion.run_id, card)
    export_version(BUNDLE, name, champion, contract_json_schema(build_contract(project.dataset)))
    return str(champion.version)


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
    version = carry_in_bundle(project, fingerprint, run_id, card)
    if version is not None:
        print(f"document: the card is in the champion's (v{version}) bundle, {BUNDLE}")


if __name__ == "__main__":
    stage.run(main)
