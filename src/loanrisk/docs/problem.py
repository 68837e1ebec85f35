"""The problem framing, `docs/problem.md`, from `docs/templates/problem.md.j2`.

Rendered from `params.yaml` and the dataset declaration only, never from a report: the page
states targets and rules, not measured values, so a run never makes it stale. This module
computes what the template cannot quote directly: the backtest's shifted dates, the
cost-optimal threshold, the share left for training.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from loanrisk import paths
from loanrisk.docs.context import common, ledger, page
from loanrisk.docs.ledger import MISSING, Ledger, Traced
from loanrisk.docs.template import Page
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.project import Project

PRIOR_JUDGEMENT: tuple[str, ...] = ("interest_rate",)
"""Columns of the worked example whose value the lender itself set from its judgement of the
risk. The declaration has no key for this yet; a column named here that the declaration
lists under ``features`` is reported as a model input that carries that judgement."""


def problem_page(project: Project, mark: bool = False) -> Page:
    """The problem framing, from ``project``'s params and declaration."""
    book = ledger(project, {}, mark)
    context = common(project, book)
    params, dataset = project.params, project.dataset
    p, horizon = context["params"], context["horizon"]
    problem = params.problem
    declared = [n for n in PRIOR_JUDGEMENT if n in dataset.all_columns]
    context |= {
        "threshold": book.derived(
            cost_optimal_threshold(problem.cost_approve_default, problem.cost_reject_good),
            "cost_optimal_threshold",
            (paths.PARAMS, ("problem", "cost_reject_good")),
            (paths.PARAMS, ("problem", "cost_approve_default")),
        ),
        "snapshot_cutoff": shifted(book, p.data.as_of, (-1, horizon))
        if horizon is not None and dataset.timestamp is not None
        else None,
        "backtest": _backtest(book, project, p, horizon) if dataset.timestamp else None,
        "train_share": book.derived(
            1 - params.split.valid_share - params.split.test_share,
            "remainder",
            (paths.PARAMS, ("split", "valid_share")),
            (paths.PARAMS, ("split", "test_share")),
        ),
        "judgement": {
            "declared": declared,
            "undeclared": [n for n in PRIOR_JUDGEMENT if n not in dataset.all_columns],
            "inputs": set(declared) & set(dataset.feature_names),
            "pinned": [
                n
                for n in declared
                if (f := dataset.features.get(n)) is not None
                and (f.direction is not None or f.invariance is not None)
            ],
        },
        "reported": [
            g for g in dataset.fairness_groups if g not in params.gate.fairness_attributes
        ],
    }
    if params.data.uses_generator:
        names = list(context["scenarios"].names.raw())
        context["scenario"] = {name: names.index(name) for name in names}
    return page(paths.PROBLEM_TEMPLATE, book, context)


def shifted(book: Ledger, date: Traced, *moves: tuple[int, Traced]) -> Any:
    """``date`` moved by each ``(sign, months)`` in turn (forward for +1, back for -1), as a
    derived figure naming its inputs: ``(source, path)`` of the date, then ``(sign, source,
    path)`` of each number of months."""
    moved = pd.Timestamp(dt.date.fromisoformat(str(date.raw())))
    for sign, months in moves:
        moved += sign * pd.DateOffset(months=int(months.raw()))
    inputs = [(sign, *months.where) for sign, months in moves]
    return book.derived(moved.date().isoformat(), "shift", date.where, *inputs)


def _backtest(book: Ledger, project: Project, p: Traced, horizon: Traced | None) -> dict[str, Any]:
    """The windows of the out-of-time split: each date quoted from the params or shifted from
    them by the gap (``split.gap_months``, or the label horizon when that is null)."""
    params = project.params
    valid_from, test_from, as_of = p.split.valid_from, p.split.test_from, p.data.as_of
    gap = p.split.gap_months if params.split.gap_months is not None else horizon
    gap_is_param = params.split.gap_months is not None
    first: Any = p.data.start if params.data.uses_generator else "the earliest application"
    if gap is None:
        train_before, valid_before = valid_from, test_from
    else:
        train_before, valid_before = (
            shifted(book, valid_from, (-1, gap)),
            shifted(book, test_from, (-1, gap)),
        )
    known: tuple[Any, ...]
    if horizon is None:
        cutoff: Any = "the last labelled application"
        known = (MISSING, MISSING, MISSING)
    else:
        cutoff = shifted(book, as_of, (-1, horizon))
        if gap is None or not gap_is_param:  # the gap is the horizon
            known = (valid_from, test_from, as_of)
        else:
            known = (
                shifted(book, valid_from, (-1, gap), (1, horizon)),
                shifted(book, test_from, (-1, gap), (1, horizon)),
                as_of,
            )
    return {
        "test_known": shifted(book, test_from, (1, horizon)) if horizon is not None else None,
        "gap": gap,
        "gap_is_param": gap_is_param,
        "rows": [
            ("train", first, train_before, known[0]),
            ("valid", valid_from, valid_before, known[1]),
            ("test", test_from, cutoff, known[2]),
        ],
    }
