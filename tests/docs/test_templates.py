"""The templates a team edits: strict about figures, words from the declaration, metadata the
Hugging Face Hub reads, and a real edit in a copy that renders and passes the checks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from loanrisk import paths
from loanrisk.docs.card import model_card
from loanrisk.docs.ledger import MARK_CLOSE, MARK_OPEN, Ledger
from loanrisk.docs.template import TemplateError, render
from serving.cards import card_fingerprint
from tests.docs.conftest import ROOT, Workspace, inside
from tests.docs.pages import body

LOAN_WORDS = re.compile(r"\b(loans?|default(s|ed)?|repaid|lender|credit officers?|credit-risk)\b")
"""Words of the worked example a card for another problem must not say."""


def test_the_churn_card_says_no_loan_word(churn_workspace: Workspace) -> None:
    card = model_card(churn_workspace.project, churn_workspace.reports).markdown
    words = churn_workspace.project.dataset.label.outcomes
    assert f"| {words.positive} |" in card or f"| {words.negative} |" in card
    assert LOAN_WORDS.findall(body(card)) == []


def test_the_cards_front_matter_is_what_the_hub_reads(loans_workspace: Workspace) -> None:
    ws = loans_workspace
    text = model_card(ws.project, ws.reports).markdown
    card = ModelCard(text, ignore_metadata_errors=False)  # the Hub's own parser, offline
    assert card.data.license == "apache-2.0"
    assert card.data.datasets == [ws.project.dataset.name]
    (result,) = [r for r in card.data.eval_results if r.metric_type == "roc_auc"]
    assert result.metric_value == ws.read(paths.METRICS)["candidate"]["test"]["roc_auc"]
    assert result.dataset_split == "test"
    fingerprint = ws.read(paths.VERDICT)["fingerprint"]
    assert card.data.to_dict()["fingerprint"] == fingerprint == card_fingerprint(text)


def write(folder: Path, text: str) -> Path:
    (folder / "page.md.j2").write_text(text)
    return folder


def test_a_bare_number_or_value_is_refused(tmp_path: Path) -> None:
    book = Ledger({"params.yaml": {"gate": {"min_roc_auc": 0.7}}})
    context = {"params": book.at("params.yaml")}
    shown = render(
        write(tmp_path, "# P\n\n{{ params.gate.min_roc_auc | plain }}\n"),
        "page.md.j2",
        book,
        context,
    )
    assert shown.markdown == "# P\n\n0.7\n" and len(shown.facts) == 1
    for typed in (
        "{{ params.gate.min_roc_auc }}",
        "{{ 0.7 }}",
        "{{ 0.7 | plain }}",
        "{{ nothing }}",
    ):
        with pytest.raises(TemplateError):
            render(write(tmp_path, f"# P\n\n{typed}\n"), "page.md.j2", book, context)


def test_an_edited_template_renders_and_still_passes_the_checks(
    loans_workspace: Workspace, tmp_path: Path
) -> None:
    """What `docs/lifecycle.md` teaches: copy the templates, add a sentence with a figure
    (a filter over a report's value), render; a number typed by hand is then caught."""
    ws = loans_workspace
    copy = tmp_path / "project"
    shutil.copytree(ROOT / paths.TEMPLATES, copy / paths.TEMPLATES)
    card = copy / paths.TEMPLATES / paths.CARD_TEMPLATE
    added = "Our own sentence: the test ROC-AUC is {{ metrics.candidate.test.roc_auc | dec3 }}."
    card.write_text(
        card.read_text().replace("## Model details\n", f"{added}\n\n## Model details\n")
    )
    with inside(copy):
        edited = model_card(ws.project, ws.reports)
        marked = model_card(ws.project, ws.reports, mark=True).markdown
    roc_auc = ws.read(paths.METRICS)["candidate"]["test"]["roc_auc"]
    assert f"Our own sentence: the test ROC-AUC is {roc_auc:.3f}." in edited.markdown
    assert f"{roc_auc:.3f}" in edited.html
    assert f"{MARK_OPEN}{roc_auc:.3f}{MARK_CLOSE}" in marked
    card.write_text(
        card.read_text().replace("{{ metrics.candidate.test.roc_auc | dec3 }}", f"{roc_auc:.3f}")
    )
    with inside(copy):
        typed = model_card(ws.project, ws.reports, mark=True).markdown
    unmarked = re.sub(f"{MARK_OPEN}[^{MARK_CLOSE}]*{MARK_CLOSE}", "", body(typed))
    assert f"ROC-AUC is {roc_auc:.3f}." in unmarked  # the digit scan of test_documents fails
