"""The datasheet of the project's dataset, in the sections of Gebru et al., "Datasheets for
Datasets": motivation, composition, collection process, preprocessing, uses, distribution
and maintenance, answering the questions that apply.

The figures come from the validated data (:func:`loanrisk.docs.facts.data_facts`), the
validation and split reports, params and the declaration; the column table from the data
contract. For the embedded generator's data the datasheet also prints its causal structure
and scenarios. For another dataset, the questions only its owner can answer (why it was
collected, by whom, with what consent) are marked as not recorded rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loanrisk.docs import collection, plots
from loanrisk.docs import sources as src
from loanrisk.docs.analysis import successes_from_rate, wilson_interval
from loanrisk.docs.context import Context, context, source_list
from loanrisk.docs.document import Block, Bullets, Document, Figure, Paragraph, Section, Table
from loanrisk.docs.ledger import PCT1, Cursor, count, plain
from loanrisk.docs.text import NOT_RECORDED, code, link
from loanrisk.project import Project

REFERENCE = link("Gebru et al., Datasheets for Datasets", "https://arxiv.org/abs/1803.09010")
MAINTAINERS = "the project's maintainers, via the project's issue tracker"


def datasheet(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Document:
    """The datasheet of ``project``'s dataset. ``reports`` maps file paths to their parsed
    content and must hold :data:`~loanrisk.docs.sources.VALIDATED` as
    :func:`~loanrisk.docs.facts.data_facts`. ``mark`` as for the model card."""
    ctx = context(project, reports, mark)
    intro = (  # facts are recorded in reading order
        Paragraph(ctx.declaration.show(plain, "description")),
        Paragraph(
            f"Rendered by {code('pipelines/document.py')} from the validated data "
            f"({code(src.VALIDATED)}), the validation and split reports, {code(src.PARAMS)} and "
            f"the dataset declaration {code(ctx.declaration_source)}. The questions are those "
            f"of {REFERENCE} that apply to this data. Edit nothing here by hand; re-run the stage."
        ),
    )
    sections = (
        _motivation(ctx),
        _composition(ctx),
        collection.collection_process(ctx),
        collection.preprocessing(ctx),
        _uses(ctx),
        _distribution(ctx),
        _maintenance(ctx),
    )
    sources = Section(  # last: lists the files every section above quoted
        "Sources",
        (
            Paragraph("Every figure above is quoted from, or computed from, one of these files:"),
            source_list(ctx),
        ),
    )
    return Document(
        f"Datasheet: {project.dataset.name}", intro, (*sections, sources), tuple(ctx.ledger.facts)
    )


def qa(question: str, answer: str) -> str:
    return f"**{question}** {answer}"


def _generated(ctx: Context) -> bool:
    return ctx.project.params.data.uses_generator


def _motivation(ctx: Context) -> Section:
    p = ctx.params
    if _generated(ctx):
        answers = [
            qa(
                "For what purpose was the dataset created?",
                "To be the worked example of this template: data whose causal structure is "
                "known (see Collection process), so that a model trained on it can be checked "
                "against the truth, and whose scenarios inject what production does to a model.",
            ),
            qa(
                "Who created it, on behalf of whom?",
                f"The project's seeded generator, {code(src.GENERATOR)}, with seed "
                f"{p.show(plain, 'seed')} ({code('seed')} in {code(src.PARAMS)}), for anyone "
                "learning or adapting the template.",
            ),
            qa("Who funded it?", "No one: it is computed in seconds on a laptop."),
        ]
    else:
        answers = [
            qa("For what purpose was the dataset created?", NOT_RECORDED),
            qa("Who created it, on behalf of whom?", NOT_RECORDED),
            qa("Who funded it?", NOT_RECORDED),
        ]
    return Section("Motivation", (Bullets(tuple(answers)),))


def _composition(ctx: Context) -> Section:
    dataset = ctx.dataset
    facts = ctx.report(src.VALIDATED)
    validation = ctx.report(src.VALIDATION)
    answers = [
        qa(
            "What do the instances represent?",
            "What the description above says, one per row, identified by "
            f"{code(dataset.id.column)}"
            + (f" and stamped by {code(dataset.timestamp.column)}" if dataset.timestamp else "")
            + " (see Columns).",
        ),
        qa(
            "How many instances are there?",
            f"{facts.show(count, 'rows')} rows of {facts.show(count, 'columns')} columns passed "
            f"the contract, of {validation.show(count, 'rows_in')} received "
            f"({validation.show(count, 'rows_quarantined')} quarantined).",
        ),
    ]
    if _generated(ctx):
        answers.append(
            qa(
                "Is it a sample from a larger set?",
                "A sample of the generator's unbounded output: "
                f"{ctx.params.show(count, 'data', 'sizes', ctx.project.params.data.size)} rows "
                f"({code('data.size')}: {code(ctx.params.show(plain, 'data', 'size'))}) spread "
                "evenly over the months generated.",
            )
        )
    else:
        answers.append(qa("Is it a sample from a larger set?", NOT_RECORDED))
    answers += [
        qa("Is there a label?", _label_answer(ctx)),
        qa(
            "Are there relationships between instances?",
            f"None declared; {code(dataset.id.column)} is unique, by contract.",
        ),
        qa(
            "Are there recommended splits?",
            f"The pipeline's: {code(ctx.report(src.SPLIT).show(plain, 'strategy'))}, in "
            f"{code(src.SPLIT)}; see the model card's training and evaluation data.",
        ),
        qa(
            "Is the dataset self-contained?",
            "Yes: made from code and params, nothing external."
            if _generated(ctx)
            else f"It is read from {code(ctx.params.show(plain, 'data', 'source'))} "
            f"({code('data.source')}); DVC tracks that param, not the file behind it.",
        ),
    ]
    if _generated(ctx):
        answers.append(
            qa(
                "Does it identify people, or hold confidential data?",
                "No: every row is synthetic. It holds sensitive attributes by design, for "
                "fairness evaluation: " + ", ".join(code(a) for a in dataset.protected) + ".",
            )
        )
    else:
        answers.append(qa("Does it identify people, or hold confidential data?", NOT_RECORDED))
    return Section(
        "Composition",
        (
            Bullets(tuple(answers)),
            Section("Columns", (_columns_table(ctx),)),
            Section("Label balance", (_label_table(ctx),)),
            Section("Missing values", _missing(ctx)),
            Section("Subpopulations", _subpopulations(ctx)),
        ),
    )


def _label_answer(ctx: Context) -> str:
    d, label = ctx.declaration, ctx.dataset.label
    horizon = (
        f", known {d.show(plain, 'label', 'horizon_months')} months after "
        + (code(ctx.dataset.timestamp.column) if ctx.dataset.timestamp else "the row")
        if label.horizon_months is not None
        else ""
    )
    return (
        f"{code(label.column)}: {d.show(plain, 'label', 'description')} Positive value "
        f"{d.show(plain, 'label', 'positive')}, negative {d.show(plain, 'label', 'negative')}"
        f"{horizon}."
    )


def _role(ctx: Context, column: str) -> str:
    dataset = ctx.dataset
    if column == dataset.id.column:
        return "id"
    if dataset.timestamp is not None and column == dataset.timestamp.column:
        return "timestamp"
    if column == dataset.label.column:
        return "label"
    return "protected" if column in dataset.protected else "feature"


def _domain(c: Cursor) -> str:
    """Range, allowed values or pattern of one column, as the contract states them."""
    if c.has("enum"):
        return c.show(plain, "enum")
    parts = []
    if c.has("minimum") or c.has("maximum"):
        low = c.show(plain, "minimum") if c.has("minimum") else ""
        high = c.show(plain, "maximum") if c.has("maximum") else ""
        parts.append(f"[{low}, {high}]")
    if c.has("pattern"):
        parts.append(code(c.show(plain, "pattern")))
    if c.has("format"):
        parts.append(c.show(plain, "format"))
    return " ".join(parts) or "any"


def _columns_table(ctx: Context) -> Table:
    contract = ctx.ledger.at(src.CONTRACT, "columns")
    rows = tuple(
        (
            code(name),
            _role(ctx, name),
            code(contract.show(plain, name, "dtype")),
            _domain(contract.at(name)),
            "yes" if _nullable(contract.get(name, "type")) else "no",
            contract.show(plain, name, "description"),
        )
        for name in contract.names()
    )
    return Table(
        "columns",
        ("column", "role", "type", "range or values", "nullable", "description"),
        rows,
        f"From the data contract ({code(src.CONTRACT)}, built from the declaration)",
    )


def _nullable(json_type: Any) -> bool:
    return isinstance(json_type, list) and "null" in json_type


def _label_table(ctx: Context) -> Table:
    label = ctx.report(src.VALIDATED, "label")
    rows = (
        ("labelled", label.show(count, "labelled")),
        ("positive", label.show(count, "positive")),
        ("negative", label.show(count, "negative")),
        ("positive rate of labelled rows", label.show(PCT1, "positive_rate")),
        ("unlabelled (outcome not known yet)", label.show(count, "unlabelled")),
    )
    return Table(
        "label_balance",
        (code(ctx.dataset.label.column), "rows"),
        rows,
        f"Computed from {code(src.VALIDATED)}",
    )


def _missing(ctx: Context) -> tuple[Block, ...]:
    missing = ctx.report(src.VALIDATED, "missing")
    columns = missing.names()
    with_nulls = [c for c in columns if missing.get(c, "nulls")]
    complete = [c for c in columns if not missing.get(c, "nulls")]
    rows = tuple(
        (code(column), missing.show(count, column, "nulls"), missing.show(PCT1, column, "share"))
        for column in with_nulls
    )
    blocks: list[Block] = [
        Paragraph(
            "Nulls per column of the validated rows, computed from "
            f"{code(src.VALIDATED)}. The contract allows none outside the nullable columns; "
            f"the label's nulls ({code(ctx.dataset.label.column)}) are outcomes not known yet."
        )
    ]
    if rows:
        blocks.append(Table("missing", ("column", "nulls", "share"), rows))
    if complete:
        blocks.append(Paragraph("No nulls in " + ", ".join(code(c) for c in complete) + "."))
    return tuple(blocks)


def _subpopulations(ctx: Context) -> tuple[Block, ...]:
    groups = ctx.report(src.VALIDATED, "groups")
    blocks: list[Block] = [
        Paragraph(
            "How each protected grouping is represented, and the positive rate of its labelled "
            "rows: groups whose rates differ cannot all get equal approval rates from a "
            "calibrated model, which is what the fairness measures then show."
        )
    ]
    for grouping in groups.names():
        rows = tuple(
            (
                groups.key(grouping, g),
                groups.show(count, grouping, g, "rows"),
                groups.show(PCT1, grouping, g, "share"),
                groups.show(count, grouping, g, "labelled"),
                groups.show(PCT1, grouping, g, "positive_rate"),
            )
            for g in groups.names(grouping)
        )
        blocks.append(
            Table(
                f"group_{grouping}",
                (code(grouping), "rows", "share", "labelled", "positive rate"),
                rows,
            )
        )
    panels = {
        grouping: [
            (g, float(row["positive_rate"]), *_interval(row))
            for g, row in groups.get(grouping).items()
            if row["labelled"]
        ]
        for grouping in groups.names()
    }
    if any(panels.values()):
        blocks.append(
            Figure(
                "positive_rates",
                plots.group_rates_figure(panels, "positive rate of labelled rows"),
                "Positive rate by protected group",
                "Positive rate of the labelled rows per protected group, with 95% Wilson "
                "intervals.",
            )
        )
    return tuple(blocks)


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    n = int(row["labelled"])
    return wilson_interval(successes_from_rate(float(row["positive_rate"]), n), n)


def _uses(ctx: Context) -> Section:
    card = src.card_path(ctx.project.registered_model, "md")
    facts = ctx.report(src.VALIDATED, "label")
    answers = [
        qa(
            "Has it been used already?",
            "To train, choose and judge this project's models: see the model card, "
            f"{link(code(str(card)), f'../{card}')}.",
        ),
        qa(
            "Is there anything about its composition that might affect future uses?",
            f"Label delay: {facts.show(count, 'unlabelled')} rows have no outcome yet and must "
            "not be read as negatives. Protected groups differ in their positive rates "
            "(Subpopulations).",
        ),
    ]
    if _generated(ctx):
        answers += [
            qa(
                "What else could it be used for?",
                "Teaching the lifecycle of a model: drift, quarantine, fairness audits and "
                "recalibration, with the scenarios.",
            ),
            qa(
                "What should it not be used for?",
                "Real decisions, or conclusions about real people: its effects are the "
                "generator's assumptions, chosen to be plausible, not measured.",
            ),
        ]
    else:
        answers.append(
            qa(
                "What should it not be used for?",
                "Inferring a protected attribute. Other limits: " + NOT_RECORDED,
            )
        )
    return Section("Uses", (Bullets(tuple(answers)),))


def _distribution(ctx: Context) -> Section:
    if _generated(ctx):
        answers = [
            qa(
                "How is it distributed?",
                "Not as a file: anyone reproduces it to the byte from the code and "
                f"{code(src.PARAMS)} ({code('dvc repro')}).",
            ),
            qa("Under which licence?", "The project's, Apache-2.0."),
        ]
    else:
        answers = [
            qa("How is it distributed?", NOT_RECORDED),
            qa("Under which licence?", NOT_RECORDED + " Check the source's terms before sharing."),
        ]
    return Section("Distribution", (Bullets(tuple(answers)),))


def _maintenance(ctx: Context) -> Section:
    answers = [
        qa("Who maintains it?", f"{MAINTAINERS[0].upper()}{MAINTAINERS[1:]}."),
        qa(
            "Will it be updated?",
            "Whenever the declaration, the params or the source change, "
            f"{code('dvc repro')} ingests it again and renders this datasheet again; "
            f"{code('dvc.lock')} pins each version by MD5 and the DVC cache keeps it, so an "
            "older version is a checkout away.",
        ),
        qa(
            "How are errors reported?",
            "On the issue tracker; a fix is a change to the declaration, params or "
            + ("generator" if _generated(ctx) else "source data")
            + ", reviewed like code.",
        ),
        qa("Can others contribute?", "By pull request; the contract's tests must still pass."),
    ]
    return Section("Maintenance", (Bullets(tuple(answers)),))
