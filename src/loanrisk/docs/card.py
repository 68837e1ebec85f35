"""The model card of the candidate, from `docs/templates/model_card.md.j2`.

The template holds the prose and the sections (Mitchell et al., 2019, plus the gate's
verdict, where the model will fail and production); this module builds its context: the
reports as traced values, the figures derived from them (uplifts, Wilson intervals, the
decision matrix, behavioural margins), the plots, and the front matter the Hugging Face Hub
reads. What the card leaves out on purpose: registry versions, run ids, git commits and
dates. They belong to one MLflow store, not to the data, params and code the card is rendered
from, and a card that held them could not be reproduced byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loanrisk import paths
from loanrisk.docs import plots
from loanrisk.docs.analysis import (
    closest_to_failing,
    decision_counts,
    successes_from_rate,
    weakest_slices,
    wilson_interval,
)
from loanrisk.docs.context import BASELINES, CANDIDATE, CONFUSION, MODELS, common, ledger, page
from loanrisk.docs.ledger import Ledger, Traced, name_in
from loanrisk.docs.template import Page
from loanrisk.models.estimators import build_candidate
from loanrisk.project import Project

WEAKEST = 3
"""How many of the weakest slices to name per measure: enough to act on, few enough to read."""
LICENSE = "apache-2.0"
"""The card's licence, as the Hugging Face Hub names it."""


def model_card(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Page:
    """The card of ``project``'s candidate from ``reports`` (file path -> parsed JSON, the
    paths in :data:`loanrisk.docs.context.REPORTS`). ``mark`` wraps every quoted figure in
    ``⟦ ⟧`` (for the test that no figure was typed by hand)."""
    book = ledger(project, reports, mark)
    context = common(project, book)
    params, dataset = project.params, project.dataset
    metrics, split = book.at(paths.METRICS), book.at(paths.SPLIT_REPORT)
    candidate = metrics[CANDIDATE]
    pipeline = build_candidate(params.train.candidate, dataset, params.seed)
    fairness = candidate.fairness
    context |= {
        "words": dataset.words,
        "models": MODELS,
        "metrics": metrics,
        "split": split,
        "windowed_parts": [p for p in ("train", "valid", "test") if "window" in split[p]],
        "validation": book.at(paths.VALIDATION),
        "verdict": book.at(paths.VERDICT),
        "monitoring": book.at(paths.DRIFT),
        "train": book.at(paths.TRAIN_METRICS, CANDIDATE),
        "bins": book.at(paths.plot("calibration", CANDIDATE)),
        "steps": [type(step).__name__ for _, step in pipeline.steps],
        "uplifts": {b: _uplift(book, metrics, b) for b in BASELINES},
        "matrix": _matrix(book),
        "approvals": {g: _approvals(book, fairness[g], g) for g in fairness},
        "ethics": {g: _ethics(project, fairness[g].raw(), g) for g in fairness},
        "metadata": metadata(project, book),
        **_weakest(candidate.slices),
        **_behaviour(book, candidate.behaviour),
    }
    if "months" in context["monitoring"]:
        months = ("months",)
        context["monitored_months"] = book.derived(
            len(context["monitoring"].months), "length", (paths.DRIFT, months)
        )
    context["figures"] = _figures(book, context)
    return page(paths.CARD_TEMPLATE, book, context)


def metadata(project: Project, book: Ledger) -> dict[str, Any]:
    """The front matter, in the convention of Hugging Face model cards (``license``,
    ``tags``, ``datasets``, ``metrics``, ``model-index``) plus the fingerprint the service
    checks the card against."""
    test = book.at(paths.METRICS, CANDIDATE, "test").raw()
    names = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier", "log_loss": "log loss"}
    names["ece"] = "ECE"
    dataset = project.dataset.name
    return {
        "license": LICENSE,
        "library_name": "sklearn",
        "tags": ["tabular-classification", "sklearn", "loanrisk"],
        "datasets": [dataset],
        "metrics": list(names),
        "fingerprint": book.at(paths.VERDICT, "fingerprint").raw(),
        "model-index": [
            {
                "name": project.registered_model,
                "results": [
                    {
                        "task": {"type": "tabular-classification", "name": "binary classification"},
                        "dataset": {"type": dataset, "name": dataset, "split": "test"},
                        "metrics": [
                            {"type": key, "name": name, "value": test[key]}
                            for key, name in names.items()
                        ],
                    }
                ],
            }
        ],
    }


def _uplift(book: Ledger, metrics: Traced, baseline: str) -> Any:
    new, old = metrics[CANDIDATE].test.roc_auc, metrics[baseline].test.roc_auc
    return book.derived(float(new.raw()) - float(old.raw()), "difference", new.where, old.where)


def _matrix(book: Ledger) -> dict[str, Any]:
    """The candidate's decisions by actual outcome, each count derived from the rows."""
    actuals, decisions, counts = decision_counts(book.at(CONFUSION).raw())
    rows = [
        (a, [book.derived(counts.get((a, d), 0), "count", CONFUSION, a, d) for d in decisions])
        for a in actuals
    ]
    return {"actuals": actuals, "decisions": decisions, "counts": counts, "rows": rows}


def _approvals(book: Ledger, fairness: Traced, grouping: str) -> list[tuple[Any, ...]]:
    """``(group, approved, interval)`` per group: the count behind each approval rate and
    its 95% Wilson interval, derived from the group's size and rate."""
    rows = []
    for group in fairness.approval_rate_by_group:
        rate, n = fairness.approval_rate_by_group[group], fairness.count_by_group[group]
        k = successes_from_rate(float(rate.raw()), int(n.raw()))
        rows.append(
            (
                name_in(fairness.count_by_group, group),
                book.derived(k, "approved", rate.where, n.where),
                book.derived(wilson_interval(k, int(n.raw())), "wilson", rate.where, n.where),
            )
        )
    return rows


def _ethics(project: Project, fairness: Mapping[str, Any], grouping: str) -> dict[str, bool]:
    gate = project.params.gate
    within = (
        float(fairness["selection_rate_ratio"]) >= gate.min_four_fifths_ratio
        and float(fairness["equalized_odds_difference"]) <= gate.max_equalized_odds_difference
    )
    return {"gated": grouping in gate.fairness_attributes, "within": within}


def _weakest(slices: Traced) -> dict[str, Any]:
    """The slices that rank or calibrate worst, with why each is listed, and those too small
    to measure."""
    raw = slices.raw()
    by_auc = weakest_slices(raw, "roc_auc", worst_is_high=False)[:WEAKEST]
    by_ece = weakest_slices(raw, "ece", worst_is_high=True)[:WEAKEST]
    weakest = [
        (
            s,
            name_in(slices[s], g),
            [r for r, found in (("low ROC-AUC", by_auc), ("high ECE", by_ece)) if (s, g) in found],
        )
        for s, g in dict.fromkeys(by_auc + by_ece)
    ]
    unmeasured = [
        (s, name_in(slices[s], g))
        for s, groups in raw.items()
        for g, row in groups.items()
        if row.get("roc_auc") is None
    ]
    return {"weakest": weakest, "unmeasured": unmeasured}


def _behaviour(book: Ledger, behaviour: Traced) -> dict[str, Any]:
    """Every behavioural test, the one nearest its limit first, with its margin."""
    ranked = closest_to_failing(behaviour.raw())
    margins = {
        name: book.derived(m.margin, "margin", name, behaviour.raw()[name]["detail"])
        for name, m in ranked
    }
    order = [n for n, _ in ranked] + [n for n in behaviour.raw() if n not in margins]
    rows = [(name_in(behaviour, n), margins.get(n)) for n in order]
    closest = None
    if ranked:
        first, margin = ranked[0]
        detail = behaviour.raw()[first]["detail"]
        closest = (first, book.derived(margin.margin, "margin", first, detail))
    return {"ranked": rows, "closest": closest}


def _figures(book: Ledger, context: Mapping[str, Any]) -> dict[str, bytes]:
    """The card's plots as PNG bytes; the template names and captions them."""
    matrix, fairness = context["matrix"], book.at(paths.METRICS, CANDIDATE, "fairness").raw()
    panels = {
        g: [
            (str(group), float(fairness[g]["approval_rate_by_group"][group]), *bounds.value)
            for group, _, bounds in rows
        ]
        for g, rows in context["approvals"].items()
    }
    return {
        "roc": plots.roc_figure({m: book.at(paths.plot("roc", m)).raw() for m in MODELS}),
        "calibration": plots.calibration_figure(
            {m: book.at(paths.plot("calibration", m)).raw() for m in MODELS}
        ),
        "decision_matrix": plots.decision_figure(
            matrix["actuals"], matrix["decisions"], matrix["counts"]
        ),
        "approval": plots.group_rates_figure(panels, "approval rate (automatic decision)"),
    }
