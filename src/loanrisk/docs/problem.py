"""The problem framing, `docs/problem.md`: the decision the model supports and who makes it,
what is predicted, what each mistake costs, what "good enough" means, the human in the loop,
when to stop using the model, and the two questions a credit-risk reviewer asks first.

Rendered by the `document` stage from `params.yaml` and the dataset declaration only, never
from a report: the page states targets and rules, not measured values, so a run never makes
it stale and a changed knob re-renders it. Every figure goes through the ledger (see
:mod:`loanrisk.docs.ledger`), each threshold in a table beside the name of the param it is
read from, so a test parses the page back and compares each figure with `params.yaml`.

The words are the worked example's (a lender, credit officers): the params are named in its
terms (`problem.cost_approve_default`). A team framing another problem rewrites the prose
here; the figures follow the params by themselves.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from loanrisk.data.declaration import Feature
from loanrisk.docs import sources as src
from loanrisk.docs.context import Context, context, source_list
from loanrisk.docs.document import Block, Bullets, Document, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC4, MISSING, PCT1, Cursor, count, plain
from loanrisk.docs.text import code, join, link
from loanrisk.evaluation.policy import cost_optimal_threshold
from loanrisk.project import Project

PRIOR_JUDGEMENT: tuple[str, ...] = ("interest_rate",)
"""Columns of the worked example whose value the lender itself set from its judgement of the
risk. The declaration has no key for this yet; a column named here that the declaration
lists under ``features`` is reported as a model input that carries that judgement."""

THRESHOLD_FORMULA = (
    "problem.cost_reject_good / (problem.cost_reject_good + problem.cost_approve_default)"
)
"""How the cost-optimal threshold follows from the costs (`loanrisk.evaluation.policy`)."""

TABLE_HEADER = ("what", "param", "value", "why")
"""Every table of thresholds: a figure beside the param it is quoted from."""


def problem_page(project: Project, mark: bool = False) -> Document:
    """The problem framing as a document, from ``project``'s params and declaration."""
    ctx = context(project, {}, mark)
    intro = _intro(ctx)
    sections = [
        _decision(ctx),
        _predicted(ctx),
        _backtest(ctx),
        _costs(ctx),
        _human(ctx),
        _good_enough(ctx),
        _stop(ctx),
        _reviewer(ctx),
        _protected(ctx),
        _failures(ctx),
    ]
    sections.append(
        Section(
            "Sources",
            (
                Paragraph("Every figure above is quoted from, or computed from, these files:"),
                source_list(ctx),
            ),
        )
    )
    return Document(
        f"Problem framing: {code(project.registered_model)}",
        intro,
        tuple(sections),
        tuple(ctx.ledger.facts),
    )


def _intro(ctx: Context) -> tuple[Block, ...]:
    card = src.card_path(ctx.project.registered_model, "md")
    return (
        Paragraph(
            f"Rendered by {code('pipelines/document.py')} (stage {code('document')}) from "
            f"{code(src.PARAMS)} and the dataset declaration {code(ctx.declaration_source)}: "
            "every figure on this page is quoted from them, none typed by hand. Change a knob "
            f"in {code(src.PARAMS)}, not this page, and {code('dvc repro')} renders it again."
        ),
        Paragraph(
            "The page states what the model is for and what it must achieve. What the last run "
            f"measured is in {code(src.METRICS)}, {code(src.VERDICT)} and the "
            f"{link('model card', f'../{card}')}; "
            "nothing here repeats it, so nothing here goes stale."
        ),
    )


def _decision(ctx: Context) -> Section:
    p = ctx.params
    return Section(
        "The decision, and who makes it",
        (
            Paragraph(
                "For each loan application the lender decides to **approve** it, **refer** it "
                "to a credit officer, or **reject** it. The model supports that decision; it "
                "does not replace the people who make it. It scores the application, and a "
                "decision policy chosen from the cost of each mistake turns the score into one "
                "of the three answers."
            ),
            Bullets(
                (
                    "**Credit officers** decide every referred application: the ones the model "
                    "is least sure of.",
                    f"**The credit-risk team** owns the policy: the costs, the referral rate and "
                    f"the release thresholds on this page ({code('problem')} and {code('gate')} "
                    f"in {code(src.PARAMS)}), and signs off each release (the gate runs in mode "
                    f"{code(p.show(plain, 'gate', 'mode'))}).",
                    "**Engineers** run the pipeline, the service and its monitoring.",
                )
            ),
            Paragraph(
                "Credit scoring is a high-risk use under the EU AI Act, so fairness, "
                "calibration, documentation and human oversight are part of the product, not "
                "extras."
            ),
        ),
    )


def _predicted(ctx: Context) -> Section:
    d, dataset = ctx.declaration, ctx.dataset
    label = dataset.label
    blocks: list[Block] = []
    if label.horizon_months is not None:
        horizon = d.show(plain, "label", "horizon_months")
        within = f" **within {horizon} months** ({code('label.horizon_months')})"
    else:
        within = ""
    blocks.append(
        Paragraph(
            f"For each row of the {code(dataset.name)} data, the probability that "
            f"{code(label.column)} is {code(d.show(plain, 'label', 'positive'))}{within}, as "
            f"the dataset declaration {code(ctx.declaration_source)} defines it: "
            f"*{d.show(plain, 'label', 'description')}* The data: "
            f"*{d.show(plain, 'description')}*"
        )
    )
    if label.horizon_months is not None and dataset.timestamp is not None:
        as_of = ctx.params.at("data", "as_of")
        cutoff = _shifted(ctx, as_of, (-1, d.at("label", "horizon_months")))
        blocks.append(
            Paragraph(
                "The outcome of an application is known only a label horizon after it. At the "
                f"snapshot date ({as_of.show(plain)}, {code('data.as_of')}) the applications "
                f"after {cutoff} have no outcome yet: they are left out of training and "
                f"evaluation ({code('pipelines/split.py')}) and counted in {code(src.SPLIT)}."
            )
        )
    else:
        blocks.append(
            Paragraph(
                "The declaration gives no label horizon or no timestamp: every labelled row "
                "counts as known, and rows without a label are left out of training and "
                f"evaluation (counted in {code(src.SPLIT)})."
            )
        )
    return Section("What is predicted", tuple(blocks))


def _gap(ctx: Context) -> Cursor | None:
    """Where the gap between the split's parts is read from: ``split.gap_months``, or the
    label horizon when that is null; None when there is neither."""
    if ctx.project.params.split.gap_months is not None:
        return ctx.params.at("split", "gap_months")
    if ctx.dataset.label.horizon_months is not None:
        return ctx.declaration.at("label", "horizon_months")
    return None


def _shifted(ctx: Context, date: Cursor, *moves: tuple[int, Cursor]) -> str:
    """``date`` moved by each ``(sign, months)`` in turn (forward for +1, back for -1), as a
    derived fact naming its inputs: ``(source, path)`` of the date, then ``(sign, source,
    path)`` of each number of months."""
    moved = pd.Timestamp(dt.date.fromisoformat(str(date.get())))
    for sign, months in moves:
        moved += sign * pd.DateOffset(months=int(months.get()))
    inputs = [(sign, months.source, months.path) for sign, months in moves]
    return ctx.ledger.derived(
        moved.date().isoformat(), plain, "shift", (date.source, date.path), *inputs
    )


def _backtest(ctx: Context) -> Section:
    if ctx.dataset.timestamp is None:
        return _stratified(ctx)
    p, params = ctx.params, ctx.project.params
    valid_from, test_from = p.at("split", "valid_from"), p.at("split", "test_from")
    gap = _gap(ctx)
    horizon = (
        ctx.declaration.at("label", "horizon_months")
        if ctx.dataset.label.horizon_months is not None
        else None
    )
    blocks: list[Block] = [
        Paragraph(
            "The evaluation pretends to deploy the model on the first test day and asks how it "
            "would have done. That is only honest if the model saw nothing a model deployed "
            "that day could not have seen."
        )
    ]
    if horizon is not None:
        blocks.append(
            Paragraph(
                "Splitting by application date alone is not enough: an application filed just "
                f"before the test period begins ({test_from.show(plain)}, "
                f"{code('split.test_from')}) has its outcome only by "
                f"{_shifted(ctx, test_from, (1, horizon))}, a label horizon later. A model "
                "trained on it would know outcomes that came after its deployment day; a "
                "recession starting in that year would leak into its training labels and "
                "flatter the test."
            )
        )
    if gap is None:
        gap_text = "So the parts follow each other in time, with no gap (there is no horizon):"
        train_before, valid_before = valid_from.show(plain), test_from.show(plain)
    else:
        where = (
            code("split.gap_months")
            if gap.source == src.PARAMS
            else f"{code('split.gap_months')}: null, so the label horizon"
        )
        gap_text = (
            f"So the split leaves a gap of {gap.show(plain)} months ({where}) before each "
            "later part:"
        )
        train_before = _shifted(ctx, valid_from, (-1, gap))
        valid_before = _shifted(ctx, test_from, (-1, gap))
    blocks.append(Paragraph(gap_text))
    first = (
        p.show(plain, "data", "start") if params.data.uses_generator else "the earliest application"
    )
    if horizon is None:
        cutoff = "the last labelled application"
        known = (MISSING, MISSING, MISSING)
    else:
        cutoff = _shifted(ctx, p.at("data", "as_of"), (-1, horizon))
        if gap is None or gap.source != src.PARAMS:  # the gap is the horizon
            known = (valid_from.show(plain), test_from.show(plain), p.show(plain, "data", "as_of"))
        else:
            known = (
                _shifted(ctx, valid_from, (-1, gap), (1, horizon)),
                _shifted(ctx, test_from, (-1, gap), (1, horizon)),
                p.show(plain, "data", "as_of"),
            )
    rows = (
        ("train", first, train_before, known[0]),
        ("valid", valid_from.show(plain), valid_before, known[1]),
        ("test", test_from.show(plain), cutoff, known[2]),
    )
    blocks += [
        Table(
            "backtest",
            ("part", "applications from", "applications before", "all outcomes known by"),
            rows,
            "The backtest's windows, from the params",
        ),
        Bullets(
            (
                f"**train**: applications before {code('split.valid_from')} minus the gap, so "
                f"every training outcome is known by {code('valid_from')};",
                f"**valid**: applications from {code('split.valid_from')} to "
                f"{code('split.test_from')} minus the gap, so every outcome used to choose (the "
                "calibration method, the referral band, any hyperparameter a user tunes with "
                f"{code('dvc exp')}) is known by {code('test_from')};",
                f"**test**: applications from {code('split.test_from')} to the last matured "
                "month, touched only for the verdict (evaluate and the gate).",
            )
        ),
        Paragraph(
            f"{code(src.SPLIT)} states, for each part, the window of applications, the date by "
            "which all their outcomes were known and its size. The candidate's calibrator is "
            "fitted on the validation split, so its validation figures come from out-of-fold "
            "scores (each row scored by a calibrator fitted on the other half)."
        ),
    ]
    if params.data.uses_generator:
        blocks.append(
            Paragraph(
                f"The generator makes {p.show(count, 'data', 'sizes', params.data.size)} "
                f"applications ({code('data.sizes')}, size "
                f"{code(p.show(plain, 'data', 'size'))}) over "
                f"{p.show(plain, 'data', 'months')} months from {p.show(plain, 'data', 'start')} "
                f"({code('data.months')}, {code('data.start')}): long enough to keep every part "
                "at a useful size despite the two gaps."
            )
        )
    return Section("Backtest: judged only on what could have been known", tuple(blocks))


def _stratified(ctx: Context) -> Section:
    p = ctx.params
    split = ctx.project.params.split
    train = ctx.ledger.derived(
        1 - split.valid_share - split.test_share,
        plain_share,
        "remainder",
        (src.PARAMS, ("split", "valid_share")),
        (src.PARAMS, ("split", "test_share")),
    )
    rows = (
        ("train", "(the rest)", train, "fitted on"),
        (
            "valid",
            code("split.valid_share"),
            p.show(plain, "split", "valid_share"),
            "calibration and the referral band are chosen on it",
        ),
        (
            "test",
            code("split.test_share"),
            p.show(plain, "split", "test_share"),
            "touched only for the verdict",
        ),
    )
    return Section(
        "Backtest: judged only on what could have been known",
        (
            Paragraph(
                "The declaration has no timestamp, so there is no time to split by: the "
                "labelled rows are split at random, stratified by the label and seeded "
                f"({code('seed')}: {p.show(plain, 'seed')}). Nothing in the test part was seen "
                "or chosen on, but a test drawn from the same period says nothing about a "
                "world that changes: watch drift once the model is used."
            ),
            Table("split_shares", TABLE_HEADER, rows, "The shares of the labelled rows"),
        ),
    )


def plain_share(value: float) -> str:
    """A share computed from others, to the precision params are written with."""
    return f"{round(value, 10):g}"


def _costs(ctx: Context) -> Section:
    p, params = ctx.params, ctx.project.params.problem
    threshold = ctx.ledger.derived(
        cost_optimal_threshold(params.cost_approve_default, params.cost_reject_good),
        DEC4,
        "cost_optimal_threshold",
        (src.PARAMS, ("problem", "cost_reject_good")),
        (src.PARAMS, ("problem", "cost_approve_default")),
    )
    rows = (
        (
            "approving an applicant who then defaults",
            code("problem.cost_approve_default"),
            p.show(plain, "problem", "cost_approve_default"),
            "the loss given default on an average loan",
        ),
        (
            "rejecting an applicant who would have repaid",
            code("problem.cost_reject_good"),
            p.show(plain, "problem", "cost_reject_good"),
            "the margin forgone, and a customer turned away",
        ),
        (
            "the cost-optimal threshold: reject from this score",
            code(THRESHOLD_FORMULA),
            threshold,
            "where the two expected costs are equal",
        ),
    )
    return Section(
        "What it costs to be wrong",
        (
            Paragraph("Two mistakes, with costs in units of one average loan:"),
            Table("costs", TABLE_HEADER, rows),
            Paragraph(
                "With calibrated probabilities, approving an application scored *p* costs *p* "
                f"times {code('cost_approve_default')} in expectation and rejecting it costs "
                f"(one minus *p*) times {code('cost_reject_good')}, so the expected cost is lowest "
                f"when rejecting from {threshold}, not from one half "
                f"({code('src/loanrisk/evaluation/policy.py')})."
            ),
        ),
    )


def _human(ctx: Context) -> Section:
    p = ctx.params
    card = src.card_path(ctx.project.registered_model, "md")
    rows = (
        (
            "share of the validation applications to refer",
            code("problem.target_referral_rate"),
            p.show(plain, "problem", "target_referral_rate"),
            "the credit officers' capacity",
        ),
    )
    return Section(
        "The human in the loop",
        (
            Paragraph(
                "Scores close to the threshold go to a credit officer: a band around it that "
                f"refers as near {p.show(PCT1, 'problem', 'target_referral_rate')} of the "
                "validation applications as the scores allow. Tied scores are never split, so "
                "a model with a handful of distinct scores, like the rule baseline, may get no "
                "band. The band is chosen on the validation split, never on the test split; "
                f"the current candidate's band is in its {link('model card', f'../{card}')} "
                f"and in {code(src.METRICS)}."
            ),
            Table("referral", TABLE_HEADER, rows),
            Paragraph(
                f"The service answers {code('refer')} for those scores. The officer decides "
                "exactly the cases the model is least sure of, and is told the score, not "
                "bound by it. Removing the band (fully automated decisions) is out of scope: "
                "decisions with legal or similarly significant effects on a person need a "
                "person."
            ),
        ),
    )


GATE_ROWS: tuple[tuple[str, str, str], ...] = (
    (
        "how the verdict is applied",
        "mode",
        "enforce promotes only a passing candidate; "
        "dry_run judges and promotes nothing; off promotes without judging",
    ),
    ("ROC-AUC at least", "min_roc_auc", "the ranking must be useful at all"),
    (
        "uplift over the logistic baseline at least",
        "min_uplift_over_logistic",
        "a more complex model must earn its complexity; otherwise the simpler one wins",
    ),
    (
        "expected calibration error at most",
        "max_ece",
        "the policy's threshold assumes probabilities mean what they say",
    ),
    (
        "approval-rate ratio across the groups of each gated attribute at least",
        "min_four_fifths_ratio",
        "the four-fifths rule",
    ),
    (
        "the gated protected attributes",
        "fairness_attributes",
        "every declared one is measured and reported; these block a release",
    ),
    (
        "equalized-odds difference at most",
        "max_equalized_odds_difference",
        "errors should not fall on one group",
    ),
    (
        "every behavioural test passes",
        "require_behavioural_tests",
        "known directions of effect hold (also for features the model is free on), features "
        "that should not matter barely move a score, obvious cases are decided obviously",
    ),
    (
        "decision cost per application above the current champion's, on the same test "
        "rows, at most",
        "champion_cost_margin",
        "a release must not be a step back: the upper bound of the paired bootstrap 95% "
        "interval of the cost difference (approving at the cost-optimal threshold) must be "
        "at most this; cost, not ROC-AUC, because a champion the world has moved away from "
        "can still rank well while its probabilities no longer hold; a point difference "
        "would let noise decide",
    ),
)
"""The gate's params in the order the page lists them: (criterion, key, why)."""


def _good_enough(ctx: Context) -> Section:
    gate = ctx.params.at("gate")
    rows = [
        (what, code(f"gate.{gate.key(key)}"), gate.show(plain, key), why)
        for what, key, why in GATE_ROWS
    ]
    rows.append(
        (
            "never rolled back before",
            "(none)",
            "always",
            "a person decided against this very model (same fingerprint)",
        )
    )
    return Section(
        'What "good enough" means',
        (
            Paragraph(
                f"The promotion gate ({code('gate')} in {code(src.PARAMS)}, "
                f"{code('src/loanrisk/registry/gate.py')}) turns it into numbers the pipeline "
                "enforces on the test split before a candidate becomes the champion:"
            ),
            Table("gate", TABLE_HEADER, tuple(rows)),
        ),
    )


MONITOR_ROWS: tuple[tuple[str, str, str], ...] = (
    (
        "a feature drifted: its PSI at least",
        "monitor.psi_threshold",
        "population stability index over the reference profile's bins",
    ),
    ("... or its Jensen-Shannon distance (categorical) at least", "monitor.js_threshold", ""),
    ("... or its Kolmogorov-Smirnov statistic (numeric) at least", "monitor.ks_threshold", ""),
    (
        "... or its missing (or unseen-category) share moved at least",
        "monitor.missing_threshold",
        "a feed that lost a field",
    ),
    (
        "the data drifted: share of features drifted at least",
        "monitor.dataset_drift_share",
        "one drifting feature is news; many are a different population",
    ),
    (
        "the score drifted: PSI of the score at least",
        "monitor.score_psi_threshold",
        "the decisions' mix is changing, whatever the inputs say",
    ),
    (
        "fewer rows in a month than this: figures, no verdict",
        "monitor.min_rows",
        "PSI of a few rows is noise",
    ),
    (
        "recent ROC-AUC below the low end of the test ROC-AUC's interval by more than",
        "monitor.max_roc_auc_drop",
        "the ranking no longer does its job",
    ),
    (
        "live expected calibration error above",
        "gate.max_ece",
        "the threshold is no longer cost-optimal: the bar a release had to clear",
    ),
    (
        "live quality pooled over the most recent matured months",
        "monitor.quality_window_months",
        "enough outcomes to measure",
    ),
)
"""The monitoring triggers, (trigger, param, why), from ``monitor`` (and the gate's ECE)."""


def _stop(ctx: Context) -> Section:
    p = ctx.params
    rows = []
    for what, param, why in MONITOR_ROWS:
        section, key = param.split(".")
        fmt = count if key == "min_rows" else plain
        rows.append((what, code(param), p.show(fmt, section, key), why))
    horizon = ctx.dataset.label.horizon_months
    lag = (
        "Outcomes arrive a label horizon late "
        f"({ctx.declaration.show(plain, 'label', 'horizon_months')} "
        "months): the quality triggers see a problem at the earliest that long after the "
        "applications that show it. Drift is what the team has in the meantime."
        if horizon is not None
        else "Outcomes arrive late: drift is what the team has until they do."
    )
    return Section(
        "When to stop using the model",
        (
            Paragraph(
                f"The monitoring triggers ({code('monitor')} in {code(src.PARAMS)}, read into "
                f"{code('Params.monitor')}). Drift is measured against the reference profile "
                "stored with the model, on applications as they arrive, by the drift engine "
                f"({code('src/loanrisk/monitoring/drift.py')}) and by the service "
                f"({code('GET /drift')}); live quality over the outcomes sent to "
                f"{code('POST /feedback')} ({code('GET /quality')})."
            ),
            Table("monitoring", TABLE_HEADER, tuple(rows)),
            Bullets(
                (
                    "**Drift is a reason to look, not to stop.** A recession moves incomes and "
                    "may leave the ranking intact; check calibration on the newest outcomes "
                    "and the decisions' mix by group.",
                    "**The team stops using the model's automatic decisions** when outcomes "
                    "show it no longer does its job: live ROC-AUC dropped by more than "
                    f"{p.show(plain, 'monitor', 'max_roc_auc_drop')}, or live calibration error "
                    f"above {p.show(plain, 'gate', 'max_ece')}. Until a replacement passes the "
                    "gate: refer every application to a credit officer, or roll back to the "
                    f"previous champion ({code('loanrisk rollback --reason ...')}), and retrain "
                    f"on the most recent matured months ({code('monitor.retrain_months')}: "
                    f"{p.show(plain, 'monitor', 'retrain_months')}).",
                    "**A broken feed stops the pipeline before the model sees it**: the "
                    "validate stage fails when more than "
                    f"{p.show(PCT1, 'contract', 'max_quarantine_share')} of a batch breaks the "
                    f"contract ({code('contract.max_quarantine_share')}); the service refuses "
                    "each invalid application with the field it broke.",
                    lag,
                )
            ),
        ),
    )


def _reviewer(ctx: Context) -> Section:
    return Section(
        "Two questions a credit-risk reviewer asks first",
        (_judgement(ctx), _reject_inference(ctx)),
    )


def _judgement(ctx: Context) -> Section:
    dataset, d = ctx.dataset, ctx.declaration
    declared = [name for name in PRIOR_JUDGEMENT if name in dataset.all_columns]
    blocks: list[Block] = [
        Paragraph(
            "A column the lender set from its own view of the risk (an offered price, a limit, "
            "a grade, an earlier score) carries the lender's earlier judgement into the data. A "
            "model that reads it partly learns to agree with the old process, its mistakes and "
            "its biases included, and a backtest credits it with the old process's skill. Such "
            "a column is often not even known when the decision is made (the price follows the "
            "risk decision), and once the new score sets it, the model reads its own output."
        )
    ]
    inputs = set(dataset.feature_names)
    for name in declared:
        if name in inputs:
            description = d.show(plain, "features", name, "description")
            text = (
                f"{code(name)} **is a model input**: the declaration "
                f"({code(ctx.declaration_source)}) lists it under {code('features')} as "
                f"*{description}*"
            )
        else:
            text = (
                f"{code(name)} is declared in {code(ctx.declaration_source)} but **not** as a "
                "feature: no model reads it."
            )
        blocks.append(Paragraph(text))
    undeclared = [name for name in PRIOR_JUDGEMENT if name not in dataset.all_columns]
    if ctx.project.params.data.uses_generator and set(declared) & inputs:
        free = ctx.ledger.at(src.GENERATOR).show(plain, "no_direct_effect")
        pinned = [n for n in declared if _is_tested(dataset.features.get(n))]
        tests = (
            f"the declaration gives {join(code(n) for n in pinned)} a behavioural test"
            if pinned
            else "no behavioural test pins it: the declaration gives it no direction and no "
            "invariance"
        )
        blocks.append(
            Paragraph(
                "**What the template does about it**: it keeps the column as an input, because "
                "in the generator it is harmless: the generator draws it from "
                f"{code('credit_utilization')} and {code('past_delinquencies')} (both inputs "
                "themselves) plus noise, and gives it no effect of its own on default (the "
                f"columns drawn with no direct effect: {free}; {code(src.GENERATOR)}). So it "
                f"adds nothing the model does not see anyway; {tests}. It stays to stand for a "
                "column every real lender has."
            )
        )
    elif undeclared and not declared:
        blocks.append(
            Paragraph(
                f"This declaration has no such column the worked example knows of "
                f"({join(code(n) for n in undeclared)}); only its owner can say whether one of "
                "its features was set by an earlier decision."
            )
        )
    blocks.append(
        Paragraph(
            "**With real data**: remove every such column from "
            f"{code('features')} in the declaration (keep it in the data to analyse, not to "
            "score), unless it is fixed before the decision by a rule that does not look at the "
            "risk; then say so in the datasheet. Check the others for the same thing: the "
            "approved amount rather than the amount asked, a product chosen by the officer, "
            "notes written during the review."
        )
    )
    return Section("Which inputs carry the lender's own earlier judgement?", tuple(blocks))


def _is_tested(feature: Feature | None) -> bool:
    return feature is not None and (feature.direction is not None or feature.invariance is not None)


def _reject_inference(ctx: Context) -> Section:
    label = code(ctx.dataset.label.column)
    generated = ctx.project.params.data.uses_generator
    source = f"{code(ctx.params.show(plain, 'data', 'source'))} ({code('data.source')})"
    what = (
        "**What the template does**: the generator draws an outcome for every application, "
        "whether or not a lender would have approved it; the data holds no approval decision "
        "at all. So training, the backtest, the fairness figures and the monitoring all see "
        "the whole population that applied, which real data never shows. The template has no "
        "reject-inference step, and the declaration has no way yet to say which rows were "
        "approved."
        if generated
        else "**What the template does**: nothing specific. This data comes from "
        f"{source}; the template cannot tell whether its rows are every application"
        " or only the approved ones, and it has no reject-inference step."
    )
    return Section(
        "Whose outcomes are in the data? (reject inference)",
        (
            Paragraph(
                "A lender learns whether a loan defaults only if it granted the loan. In real "
                "data the outcome exists for approved (and taken-up) applications; the rejected "
                "ones, exactly the applicants the old policy judged riskiest, have none. A model "
                "trained on the approved ones learns the population the old policy let through "
                "and extrapolates where it will matter most."
            ),
            Paragraph(what),
            Paragraph(
                f"The consequence a user must know: the split keeps the rows whose {label} is "
                "known and counts the rest as unlabelled "
                f"({code('excluded_immature_or_unlabelled')} in {code(src.SPLIT)}), "
                "so rejected applications would leave silently with the immature ones. The "
                "model would be fitted and judged on approved loans only: its ROC-AUC and "
                "calibration describe approved loans, the approval rates by group are measured "
                "on a population already filtered by the old policy, and after release "
                "outcomes come back only for the loans this model approved, so "
                "live quality inherits the same bias."
            ),
            Paragraph("**With real data**, a team must:"),
            Bullets(
                (
                    "keep every application with the decision made on it, the rejected ones "
                    "with an empty label, so the datasheet counts them and the share rejected "
                    "by group is known;",
                    "read the gate's figures as figures on approved loans, and say so in the "
                    "model card;",
                    "get outcomes the old policy did not choose: a small random sample approved "
                    "whatever its score (a through-the-door holdout), or outcomes of rejected "
                    "applicants on credit they took elsewhere (from a credit bureau);",
                    "choose a reject-inference method if the model must score the whole "
                    "population (weighting approved loans by the inverse of their probability "
                    "of approval, augmentation, parcelling), and write down its assumption: "
                    "each rests on one the data cannot check.",
                )
            ),
        ),
    )


def _protected(ctx: Context) -> Section:
    dataset = ctx.dataset
    gated = ctx.project.params.gate.fairness_attributes
    attributes = join(code(a) for a in dataset.protected) or "none"
    reported = [g for g in dataset.fairness_groups if g not in gated]
    gate = ctx.params.show(plain, "gate", "fairness_attributes")
    one = len(dataset.protected) == 1
    verb = "travels" if one else "travel"
    text = (
        f"{attributes} {verb} with the data for evaluation and monitoring and never "
        f"{'reaches' if one else 'reach'} a model ({code('protected')} in "
        f"{code(ctx.declaration_source)}; "
        f"{code('tests/evaluation/test_behaviour.py')} checks it). "
        "Leaving an attribute out does not make a model fair: other columns can carry it. "
        "The gate enforces the four-fifths rule "
        f"and the equalized-odds limit across {gate} ({code('gate.fairness_attributes')})"
    )
    if reported:
        text += (
            f"; {join(code(g) for g in reported)} "
            f"{'is' if len(reported) == 1 else 'are'} measured and reported in "
            f"{code(src.METRICS)} as well, and a team deciding to gate on "
            f"{'it' if len(reported) == 1 else 'them'} adds "
            f"{'it' if len(reported) == 1 else 'them'} to {code('gate.fairness_attributes')}"
        )
    blocks: list[Block] = [Paragraph(text + ".")]
    if ctx.project.params.data.uses_generator:
        blocks.append(
            Paragraph(
                "In the generator neither has a direct effect on default, yet it gives women "
                "lower incomes on average and young applicants shorter credit histories, so "
                "both can reach the score through proxies. Expect a decision to gate on age "
                "to bind: short credit histories are a real risk factor in the generator, so "
                "approval rates differ by age band."
            )
        )
    return Section("Protected attributes", tuple(blocks))


def _failures(ctx: Context) -> Section:
    p = ctx.params
    quarantine = (
        f"the contract quarantines the rows and the validate stage stops the pipeline above "
        f"{p.show(PCT1, 'contract', 'max_quarantine_share')} of them "
        f"({code('contract.max_quarantine_share')})"
    )
    if not ctx.project.params.data.uses_generator:
        return Section(
            "Where it will fail",
            (
                Bullets(
                    (
                        "**Valid but shifted data** passes the contract and erodes calibration "
                        "silently: watch drift.",
                        f"**Broken data** (an unknown category, a value out of range, a null "
                        f"where none is allowed): {quarantine}.",
                    )
                ),
            ),
        )
    scenarios = ctx.ledger.at(src.SCENARIOS)
    names = scenarios.get("names")

    def scenario(name: str) -> str:
        return code(scenarios.show(plain, "names", names.index(name)))

    thin = ctx.ledger.at(src.GENERATOR).show(plain, "interactions", "thin_file", "description")
    return Section(
        "Where it will fail",
        (
            Bullets(
                (
                    f"**Recession** ({code('data.scenario')}: {scenario('recession')}): incomes "
                    "fall and the default rate rises. The contract lets this data through (it is "
                    "valid data); the model's calibration will drift.",
                    f"**A new loan purpose** ({scenario('new_category')}), **a supplier feed "
                    f"full of nulls** ({scenario('null_feed')}), **a unit change** in income "
                    f"({scenario('unit_change')}): {quarantine}.",
                    f"**Thin files**: the generator's {code('thin_file')} effect ({thin}) "
                    "carries risk the rule baseline cannot see.",
                )
            ),
        ),
    )
