"""The card's judgement sections: the gate's verdict, where the model will fail, and the
ethical considerations, each from the reports' own numbers."""

from __future__ import annotations

from loanrisk import paths
from loanrisk.docs import sources as src
from loanrisk.docs.analysis import closest_to_failing, weakest_slices
from loanrisk.docs.context import Context
from loanrisk.docs.document import Block, Bullets, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC3, DEC4, MISSING, PCT1, Format, count, plain, signed
from loanrisk.docs.text import code, join, link

WEAKEST = 3
"""How many of the weakest slices to name per measure: enough to act on, few enough to read."""


def _figure(value: object) -> str:
    """A gate threshold or value: yes/no for a flag, four decimals for a number."""
    if isinstance(value, bool) or value is None:
        return plain(value)
    if isinstance(value, int | float):
        return f"{float(value):.4f}"
    return str(value)


FIGURE: Format = _figure


def gate_verdict(ctx: Context) -> Section:
    verdict = ctx.report(src.VERDICT)
    rows = []
    for i in range(len(verdict.get("criteria"))):
        c = verdict.at("criteria", i)
        rows.append(
            (
                code(c.show(plain, "name")),
                c.show(plain, "threshold"),
                c.show(FIGURE, "value"),
                c.show(plain, "passed"),
                c.show(plain, "why"),
            )
        )
    outcome = "**passed**" if verdict.get("passed") else "**failed**"
    p = ctx.params
    return Section(
        "Gate verdict",
        (
            Paragraph(
                f"The candidate judged alone against the gate's thresholds ({code('gate')} in "
                f"{code(src.PARAMS)}, mode {code(p.show(plain, 'gate', 'mode'))}): {outcome} "
                f"({code(src.VERDICT)}, passed: {verdict.show(plain, 'passed')})."
            ),
            Table("verdict", ("criterion", "threshold", "value", "passed", "why"), tuple(rows)),
            Paragraph(
                "Two more criteria depend on the MLflow store rather than on this model: not "
                "worse than the current champion (the upper bound of the paired bootstrap "
                "interval of the difference in decision cost per application at most "
                f"{p.show(plain, 'gate', 'champion_cost_margin')}) and never rolled back "
                "before. "
                f"They are in {code(paths.GATE)}, with the release they led to."
            ),
        ),
    )


def where_it_fails(ctx: Context) -> Section:
    metrics = ctx.report(src.METRICS, src.CANDIDATE)
    slices = metrics.at("slices")
    raw = slices.get()
    by_auc = weakest_slices(raw, "roc_auc", worst_is_high=False)[:WEAKEST]
    by_ece = weakest_slices(raw, "ece", worst_is_high=True)[:WEAKEST]
    rows = []
    for slicing, group in dict.fromkeys(by_auc + by_ece):
        reasons = [
            r
            for r, found in (("low ROC-AUC", by_auc), ("high ECE", by_ece))
            if (slicing, group) in found
        ]
        s = slices.at(slicing, group)
        rows.append(
            (
                code(slicing),
                slices.key(slicing, group),
                s.show(count, "n"),
                s.show(DEC3, "roc_auc"),
                s.show(DEC3, "ece"),
                s.show(PCT1, "default_rate"),
                s.show(DEC3, "mean_score"),
                join(reasons),
            )
        )
    unmeasured = [
        f"{code(slicing)} {slices.key(slicing, g)} ({slices.show(count, slicing, g, 'n')} rows)"
        for slicing, groups in raw.items()
        for g, row in groups.items()
        if row.get("roc_auc") is None
    ]
    blocks: list[Block] = [
        Paragraph(
            "Where the candidate ranks or calibrates worst among the slices large enough to "
            f"measure (overall: ROC-AUC {metrics.show(DEC4, 'test', 'roc_auc')}, ECE "
            f"{metrics.show(DEC4, 'test', 'ece')}). A slice that is also a protected group "
            "deserves a second look in the fairness figures."
        ),
        Table(
            "weakest_slices",
            (
                "slicing",
                "group",
                "rows",
                "ROC-AUC",
                "ECE",
                "positive rate",
                "mean score",
                "listed for",
            ),
            tuple(rows),
        ),
    ]
    if unmeasured:
        blocks.append(
            Paragraph("Too small (or one-sided) to measure, so unknown: " + join(unmeasured) + ".")
        )
    if ctx.project.params.data.uses_generator:
        shifts = (
            "The generator's scenarios (a recession, a new category, a feed of nulls, a unit "
            "change; see the datasheet) show what each does. Valid but shifted data passes the "
            "contract and erodes calibration silently; broken data is quarantined before it "
            "reaches the model."
        )
    else:
        shifts = (
            "Rows unlike the training rows pass the contract when they are valid, and erode "
            "calibration silently: watch drift. Broken rows are quarantined before they reach "
            "the model."
        )
    return Section(
        "Where the model will fail",
        (
            Section("Weakest slices", tuple(blocks)),
            Section("Behavioural tests nearest their limits", tuple(_behaviour(ctx))),
            Section("Shifts it has not seen", (Paragraph(shifts),)),
        ),
    )


def _behaviour(ctx: Context) -> list[Block]:
    behaviour = ctx.report(src.METRICS, src.CANDIDATE, "behaviour")
    ranked = closest_to_failing(behaviour.get())
    unranked = [n for n in behaviour.names() if n not in dict(ranked)]
    rows = []
    for name, margin in ranked:
        rows.append(
            (
                code(behaviour.key(name)),
                behaviour.show(plain, name, "kind"),
                behaviour.show(plain, name, "passed"),
                behaviour.show(plain, name, "detail"),
                ctx.ledger.derived(
                    margin.margin, signed(4), "margin", name, behaviour.get(name, "detail")
                ),
            )
        )
    for name in unranked:
        rows.append(
            (
                code(behaviour.key(name)),
                behaviour.show(plain, name, "kind"),
                behaviour.show(plain, name, "passed"),
                behaviour.show(plain, name, "detail"),
                MISSING,
            )
        )
    blocks: list[Block] = [
        Paragraph(
            "Every behavioural test, the one nearest its limit first. The margin is how far "
            "the measured value stayed from the limit stated in the test's detail, in units of "
            "score (negative: failed); tests whose detail states no limit come last."
        ),
        Table("behaviour", ("test", "kind", "passed", "detail", "margin"), tuple(rows)),
    ]
    if ranked:
        name, margin = ranked[0]
        detail = behaviour.get(name, "detail")
        closest = ctx.ledger.derived(margin.margin, signed(4), "margin", name, detail)
        blocks.insert(0, Paragraph(f"Closest to failing: {code(name)}, margin {closest}."))
    return blocks


def ethical_considerations(ctx: Context) -> Section:
    dataset, params = ctx.dataset, ctx.project.params
    gate = ctx.params.at("gate")
    fairness = ctx.report(src.METRICS, src.CANDIDATE, "fairness")
    items = [
        "The protected attributes ("
        + join(code(a) for a in dataset.protected)
        + ") are never inputs, which does not make the model fair: other columns can carry "
        "them. The figures in Protected groups measure what the decisions do to each group."
    ]
    if params.data.uses_generator:
        items.append(
            "In the generator the protected attributes have no direct effect on the outcome, "
            "yet they move other columns (the datasheet's causal structure): any gap between "
            "groups in the decisions comes through such proxies."
        )
    minimum = params.gate.min_four_fifths_ratio
    maximum = params.gate.max_equalized_odds_difference
    for grouping in fairness.names():
        ratio = float(fairness.get(grouping, "selection_rate_ratio"))
        odds = float(fairness.get(grouping, "equalized_odds_difference"))
        within = ratio >= minimum and odds <= maximum
        gated = grouping in params.gate.fairness_attributes
        state = (
            ("gated, and within the gate's limits" if within else "gated, and outside its limits")
            if gated
            else (
                "reported, not gated, and within the limits the gate applies elsewhere"
                if within
                else "reported, not gated, and **outside** the limits the gate applies "
                "elsewhere: a team that gates on it would block this model"
            )
        )
        items.append(
            f"{code(grouping)}: approval-rate ratio "
            f"{fairness.show(DEC4, grouping, 'selection_rate_ratio')} (at least "
            f"{gate.show(plain, 'min_four_fifths_ratio')}), equalized-odds difference "
            f"{fairness.show(DEC4, grouping, 'equalized_odds_difference')} (at most "
            f"{gate.show(plain, 'max_equalized_odds_difference')}): {state}."
        )
    decisions = ctx.report(src.METRICS, src.CANDIDATE, "decisions")
    items += [
        f"Human oversight: the policy referred {decisions.show(PCT1, 'referral_rate')} of the "
        "test rows to a person. Narrowing the band to save reviewers' time moves more "
        "decisions to the model.",
        "Scoring people for credit, employment, insurance or essential services is a high-risk "
        "use under the EU AI Act: keep human review, logging, monitoring and this card current.",
    ]
    if params.data.uses_generator:
        items.append(
            "The data is synthetic: no person's record was used, and none can be identified."
        )
    form = src.FAIRNESS_CONCERN
    items.append(
        "Raising a concern: whoever sees decisions that seem unfair to a group, or another "
        f"ethical problem with this model, reports it with the issue form "
        f"{link(code(form), f'../{form}')} (model version, group, what was observed, "
        "evidence); a person on the team answers every report."
    )
    return Section("Ethical considerations", (Bullets(tuple(items)),))
