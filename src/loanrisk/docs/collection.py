"""The datasheet's collection process (with the generator's causal structure and scenarios
when the data is the generator's) and its preprocessing, cleaning and labelling."""

from __future__ import annotations

from loanrisk import paths
from loanrisk.docs import plots
from loanrisk.docs import sources as src
from loanrisk.docs.context import Context, scenario_text
from loanrisk.docs.document import Block, Bullets, Figure, Paragraph, Section, Table
from loanrisk.docs.ledger import PCT1, PCT2, count, plain, signed
from loanrisk.docs.text import NOT_RECORDED, code


def collection_process(ctx: Context) -> Section:
    p = ctx.params
    facts = ctx.report(src.VALIDATED)
    blocks: list[Block | Section] = []
    if ctx.project.params.data.uses_generator:
        horizon = ctx.declaration.show(plain, "label", "horizon_months")
        blocks.append(
            Bullets(
                (
                    f"**How was it acquired?** Drawn by {code(src.GENERATOR)} in monthly "
                    f"batches, {p.show(plain, 'data', 'months')} months from "
                    f"{p.show(plain, 'data', 'start')}, each month from its own random stream "
                    f"seeded by the seed, the year and the month: a month's rows do not depend "
                    "on the range generated.",
                    f"**When?** Snapshot taken at {p.show(plain, 'data', 'as_of')} "
                    f"({code('data.as_of')}): the labels of rows younger than {horizon} months "
                    "are hidden (null), as they would be in production.",
                    f"**What was the scenario?** {scenario_text(ctx)}",
                    "**Were people involved, notified, or asked for consent?** No person: the "
                    "rows are synthetic.",
                )
            )
        )
    else:
        blocks.append(
            Bullets(
                (
                    f"**How was it acquired?** Read from "
                    f"{code(p.show(plain, 'data', 'source'))} ({code('data.source')}). How, "
                    f"and by whom, it was collected: {NOT_RECORDED}",
                    f"**Were people notified, or asked for consent?** {NOT_RECORDED}",
                    f"**Was an ethical review done?** {NOT_RECORDED}",
                )
            )
        )
    if facts.get("time_range") is not None:
        time = facts.at("time_range")
        stamp = ctx.dataset.timestamp.column if ctx.dataset.timestamp else ""
        years = facts.at("years")
        rows = tuple(
            (
                years.show(plain, i, "period"),
                years.show(count, i, "rows"),
                years.show(count, i, "labelled"),
                years.show(PCT1, i, "positive_rate"),
            )
            for i in range(len(years.get()))
        )
        blocks += [
            Paragraph(
                f"**Over what time frame?** From {time.show(plain, 'first')} to "
                f"{time.show(plain, 'last')} ({code(stamp)})."
            ),
            Table(
                "periods",
                ("year", "rows", "labelled", "positive rate"),
                rows,
                f"Per year, computed from {code(src.VALIDATED)}",
            ),
            Figure(
                "periods",
                plots.periods_figure(facts.get("months"), ctx.dataset.label.column),
                "Rows and positive rate per month",
                "Rows per month, the labelled ones darker, and the positive rate of the "
                "labelled rows: the newest months have no outcome yet.",
            ),
        ]
    if ctx.project.params.data.uses_generator:
        blocks += [_causal_structure(ctx), _scenarios(ctx)]
    return Section("Collection process", tuple(blocks))


def _causal_structure(ctx: Context) -> Section:
    g = ctx.ledger.at(src.GENERATOR)
    numeric = tuple(
        (
            code(name),
            g.show(signed(2), "numeric_effects", name, "coefficient"),
            g.show(plain, "numeric_effects", name, "unit"),
        )
        for name in g.names("numeric_effects")
    )
    categories = tuple(
        (
            code(column),
            ", ".join(
                f"{g.key('category_effects', column, category)} "
                f"{g.show(signed(2), 'category_effects', column, category)}"
                for category in g.names("category_effects", column)
            ),
        )
        for column in g.names("category_effects")
    )
    interactions = tuple(
        (
            code(g.key("interactions", name)),
            g.show(signed(2), "interactions", name, "coefficient"),
            g.show(plain, "interactions", name, "description"),
        )
        for name in g.names("interactions")
    )
    return Section(
        "Causal structure",
        (
            Paragraph(
                "How each column moves the log-odds of the positive label in the generator: "
                f"the constants {code(src.GENERATOR)} draws the label with. The log-odds of the "
                f"reference row is {g.show(signed(2), 'base_log_odds')}. Drawn with no direct "
                f"effect: {g.show(plain, 'no_direct_effect')} (they move other columns: "
                "proxies the fairness evaluation has to watch). A trained model can be "
                "checked against this table."
            ),
            Table(
                "numeric_effects",
                ("column", "effect on log-odds", "per"),
                numeric,
                "Additive effects",
            ),
            Table(
                "category_effects",
                ("column", "effect on log-odds of each category"),
                categories,
                "Category effects (the reference category of each column has none)",
            ),
            Table(
                "interactions",
                ("effect", "log-odds", "when"),
                interactions,
                "Interactions: why a tree model can beat a logistic regression here",
            ),
        ),
    )


def _scenarios(ctx: Context) -> Section:
    s = ctx.ledger.at(src.SCENARIOS)
    described = {
        "none": "Nothing changes: the reference behaviour.",
        "recession": (
            f"Incomes times {s.show(plain, 'shifts', 'recession', 'income_factor')}, "
            "the unemployed share up by "
            f"{s.show(plain, 'shifts', 'recession', 'unemployment_boost')}, base log-odds "
            f"{s.show(signed(2), 'shifts', 'recession', 'base_log_odds')}: covariate and "
            "concept shift, every row still valid."
        ),
        "new_category": (
            f"{s.show(PCT1, 'new_category_share')} of rows get the loan purpose "
            f"{code(s.show(plain, 'new_purpose'))}, never declared: the contract quarantines "
            "them."
        ),
        "null_feed": (
            f"{s.show(PCT1, 'null_feed_share')} of rows lose "
            f"{s.show(plain, 'null_feed_columns')}: quarantined (not nullable)."
        ),
        "unit_change": (
            "Income arrives in thousands instead of units: every row falls below its range "
            "and is quarantined."
        ),
    }
    rows = tuple(
        (code(name), described.get(name, f"See {code(src.SCENARIOS)}.")) for name in s.get("names")
    )
    return Section(
        "Scenarios",
        (
            Paragraph(
                f"What production does to a model, injected from {code('data.scenario_start')} "
                f"on when {code('data.scenario')} names one ({code(src.SCENARIOS)})."
            ),
            Table("scenarios", ("scenario", "what it does"), rows),
        ),
    )


def preprocessing(ctx: Context) -> Section:
    validation = ctx.report(src.VALIDATION)
    contract = ctx.ledger.at(src.CONTRACT, "row_rules")
    rules = tuple(
        (
            code(contract.show(plain, i, "name")),
            contract.show(plain, i, "description") if contract.get(i, "description") else "—",
        )
        for i in range(len(contract.get()))
    )
    failures = validation.get("failures")
    failure_rows = tuple(
        (
            code(validation.show(plain, "failures", i, "column")),
            code(validation.show(plain, "failures", i, "check")),
            validation.show(count, "failures", i, "rows"),
            validation.show(plain, "failures", i, "examples"),
        )
        for i in range(len(failures))
    )
    batch_errors = validation.get("batch_errors")
    dataset = ctx.dataset
    bands = [
        f"{code(name)} into {code(group)} by edges "
        f"{ctx.declaration.show(plain, 'protected', name, 'bands', 'edges')} "
        f"({ctx.declaration.show(plain, 'protected', name, 'bands', 'labels')})"
        for group, name in dataset.group_names.items()
        if group != name
    ]
    label = dataset.label
    items = [
        f"**Cleaning**: every row is checked against the data contract built from the "
        f"declaration ({code(src.CONTRACT)}): types, ranges, categories, nulls, unique ids and "
        "the row rules below. A value that cannot be read exactly becomes a null before "
        "coercion, so its row fails instead of being silently changed. Failing rows go to "
        f"{code(paths.folder(paths.QUARANTINE))} with the checks each failed: "
        f"{validation.show(count, 'rows_quarantined')} of {validation.show(count, 'rows_in')} "
        f"({validation.show(PCT2, 'quarantined_share')}); the validate stage stops above "
        f"{ctx.params.show(PCT1, 'contract', 'max_quarantine_share')} "
        f"({code('contract.max_quarantine_share')}).",
        "**Batch errors**: "
        + (validation.show(plain, "batch_errors") if batch_errors else "none")
        + ".",
        f"**Labelling**: {code(label.column)}, as the contract reads it: "
        f"{ctx.ledger.at(src.CONTRACT).show(plain, 'columns', label.column, 'description')}",
        "**Grouping for fairness**: "
        + ("; ".join(bands) if bands else "no numeric protected attribute to band")
        + ".",
        f"**Is the raw data kept?** Yes, {code(paths.folder(paths.RAW))}, versioned by DVC.",
    ]
    blocks: list[Block] = [
        Bullets(tuple(items)),
        Table(
            "row_rules",
            ("row rule", "description"),
            rules,
            f"Rules across columns and rows in the contract ({code(src.CONTRACT)})",
        ),
    ]
    if failure_rows:
        blocks.append(
            Table(
                "failures",
                ("column", "check", "rows", "examples"),
                failure_rows,
                f"Failed checks ({code(src.VALIDATION)})",
            )
        )
    return Section("Preprocessing, cleaning and labelling", tuple(blocks))
