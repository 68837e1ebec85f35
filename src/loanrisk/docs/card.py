"""The model card of the candidate, in the sections of Mitchell et al. (2019), "Model Cards for
Model Reporting", plus where the model will fail and the gate's verdict.

Every figure is quoted through the ledger from the reports, params or declaration (see
:mod:`loanrisk.docs.ledger`); the words around them are the only thing written here. Names of
columns, groups and attributes come from the declaration, so the card describes whatever
dataset the project declares.

What the card leaves out on purpose: registry versions, run ids, git commits and dates. They
belong to one MLflow store, not to the data, params and code the card is rendered from, and
a card that held them could not be reproduced byte for byte. The card says where they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loanrisk import paths
from loanrisk.docs import monitoring, results, risks
from loanrisk.docs import sources as src
from loanrisk.docs.context import Context, context, scenario_text, source_list
from loanrisk.docs.details import model_details
from loanrisk.docs.document import Block, Bullets, Document, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC4, PCT1, PCT2, count, plain
from loanrisk.docs.text import code, join, link
from loanrisk.project import Project

REFERENCE = link(
    "Mitchell et al., Model Cards for Model Reporting", "https://arxiv.org/abs/1810.03993"
)


def model_card(project: Project, reports: Mapping[str, Any], mark: bool = False) -> Document:
    """The card of ``project``'s candidate from ``reports`` (file path -> parsed JSON, the
    paths in :data:`loanrisk.docs.sources.REPORTS`). ``mark`` wraps every quoted figure in
    ``⟦ ⟧`` (for the test that no figure was typed by hand)."""
    ctx = context(project, reports, mark)
    intro = _intro(ctx)  # facts are recorded in reading order
    sections = [
        model_details(ctx),
        _intended_use(ctx),
        _factors(ctx),
        _metrics(ctx),
        _evaluation_data(ctx),
        _training_data(ctx),
        results.quantitative_analyses(ctx),
        risks.gate_verdict(ctx),
        risks.where_it_fails(ctx),
        monitoring.production(ctx),
        risks.ethical_considerations(ctx),
        _caveats(ctx),
    ]
    sections.append(_provenance(ctx))  # last: lists the sources every section above quoted
    return Document(
        f"Model card: {project.registered_model}",
        intro,
        tuple(sections),
        tuple(ctx.ledger.facts),
    )


def _intro(ctx: Context) -> tuple[Block, ...]:
    d, label = ctx.declaration, ctx.dataset.label
    horizon = (
        f" within {d.show(plain, 'label', 'horizon_months')} months"
        if label.horizon_months is not None
        else ""
    )
    return (
        Paragraph(
            f"**What it predicts**: for each row of the {code(ctx.dataset.name)} data, the "
            f"probability that {code(label.column)} takes its positive value "
            f"({d.show(plain, 'label', 'positive')}){horizon}. A decision policy turns the "
            "score into *approve*, *refer* to a person, or *reject*."
        ),
        Paragraph(f"**The data**: {d.show(plain, 'description')}"),
        Paragraph(
            f"Rendered by {code('pipelines/document.py')} from the pipeline's reports, "
            f"{code(src.PARAMS)} and the dataset declaration {code(ctx.declaration_source)}: "
            "every figure is quoted from the file listed under "
            "[Provenance and sources](#provenance-and-sources). Edit nothing here by hand; "
            f"re-run the stage. The card follows {REFERENCE}."
        ),
    )


def _intended_use(ctx: Context) -> Section:
    policy = ctx.report(src.METRICS, src.CANDIDATE, "policy")
    refer, reject = policy.show(DEC4, "refer_from"), policy.show(DEC4, "reject_from")
    out_of_scope = [
        "Fully automated decisions: removing the referral band, or using the score without "
        "the policy's threshold. Decisions with legal or similarly significant effects on a "
        "person need a person.",
        f"Other outcomes, horizons or populations than the ones trained on: the score means "
        f"the probability of {code(ctx.dataset.label.column)} for rows like the training rows "
        "(see Factors), nothing else.",
        "Rows the data contract refuses (an unknown category, a value out of range, a missing "
        "value where none is allowed): the service answers them with an error, by design.",
        "Inferring a protected attribute, or using the score as a stand-in for one.",
    ]
    if ctx.project.params.data.uses_generator:
        out_of_scope.append(
            "Any real decision: the model learned the embedded generator's synthetic world "
            "(see the datasheet), which only resembles a real one."
        )
    return Section(
        "Intended use",
        (
            Section(
                "Primary uses",
                (
                    Paragraph(
                        f"Score each new row and apply the decision policy: approve a score "
                        f"below {refer}, refer it to a person from {refer} up to {reject}, "
                        f"reject it from {reject}. The band is where the model is least sure; "
                        "a person decides exactly those cases."
                    ),
                ),
            ),
            Section(
                "Primary users",
                (
                    Paragraph(
                        "The people who decide the referred cases and own the decision policy "
                        "(for loans: credit officers and the credit-risk team), and the "
                        "engineers who run the pipeline and the service."
                    ),
                ),
            ),
            Section("Out-of-scope uses", (Bullets(tuple(out_of_scope)),)),
        ),
    )


def _factors(ctx: Context) -> Section:
    dataset, d = ctx.dataset, ctx.declaration
    gated = set(ctx.project.params.gate.fairness_attributes)
    rows = []
    for group, column in dataset.group_names.items():
        attribute = dataset.protected[column]
        if attribute.bands is not None:
            groups = d.show(plain, "protected", column, "bands", "labels")
        elif attribute.categories:
            groups = d.show(plain, "protected", column, "categories")
        else:
            groups = d.show(plain, "protected", column, "values")
        rows.append((code(column), code(group), groups, "gated" if group in gated else "reported"))
    validation = ctx.report(src.VALIDATION)
    params = ctx.project.params
    source = (
        f"the embedded generator ({code('data.source')}: "
        f"{code(ctx.params.show(plain, 'data', 'source'))})"
        if params.data.uses_generator
        else f"{code(ctx.params.show(plain, 'data', 'source'))} ({code('data.source')})"
    )
    return Section(
        "Factors",
        (
            Section(
                "Relevant groups",
                (
                    Paragraph(
                        "The declaration's protected attributes, measured on every model and "
                        f"gated where {code('gate.fairness_attributes')} says so. Performance is "
                        f"also reported per slice of {join(code(s) for s in dataset.slice_groups)}."
                    ),
                    Table(
                        "groups", ("attribute", "grouping", "groups", "in the gate"), tuple(rows)
                    ),
                ),
            ),
            Section(
                "Instrumentation",
                (
                    Paragraph(
                        f"Rows come from {source} and pass the data contract before anything "
                        f"reads them: {validation.show(count, 'rows_valid')} of "
                        f"{validation.show(count, 'rows_in')} passed, "
                        f"{validation.show(count, 'rows_quarantined')} quarantined "
                        f"({validation.show(PCT2, 'quarantined_share')})."
                    ),
                ),
            ),
            Section("Environment", (Paragraph(_environment(ctx)),)),
        ),
    )


def _environment(ctx: Context) -> str:
    split = ctx.report(src.SPLIT)
    p = ctx.params
    text = (
        f"Split {code(split.show(plain, 'strategy'))}; "
        f"{split.show(count, 'excluded_immature_or_unlabelled')} rows had no outcome at the "
        f"snapshot ({p.show(plain, 'data', 'as_of')}, {code('data.as_of')}) and were left out. "
    )
    if split.has("test", "window"):
        text += (
            "The model is judged on a later period than it was trained on, and saw only "
            "outcomes known when that period began: the way it will be used. "
        )
    if ctx.project.params.data.uses_generator:
        text += scenario_text(ctx)
    return text


def _metrics(ctx: Context) -> Section:
    p = ctx.params
    policy = ctx.report(src.METRICS, src.CANDIDATE, "policy")
    bins = p.show(plain, "evaluate", "calibration_bins")
    measures = (
        (
            "ROC-AUC",
            "how well scores rank positives above negatives",
            "a ranking no better than chance is useless whatever the threshold",
        ),
        (
            "PR-AUC",
            "precision against recall over all thresholds",
            "positives are the minority; it shows what ROC-AUC hides",
        ),
        (
            "Brier score, log loss",
            "the error of the probabilities themselves",
            "the policy treats scores as probabilities",
        ),
        (
            "ECE",
            f"mean gap between score and observed rate over {bins} equal-width bins",
            "the cost-optimal threshold is only optimal if probabilities mean what they say",
        ),
        (
            "approval, referral, rejection rates; precision, recall, F1; cost per row",
            "what the decision policy does (precision and recall of *reject* on the automatic "
            "decisions)",
            "the decisions, not the scores, reach people",
        ),
        (
            "approval-rate ratio and difference; equalized-odds difference",
            "parity of the automatic decision across protected groups",
            "the four-fifths rule, and errors not falling on one group",
        ),
    )
    cost_default = p.show(plain, "problem", "cost_approve_default")
    cost_good = p.show(plain, "problem", "cost_reject_good")
    return Section(
        "Metrics",
        (
            Table("metrics", ("measure", "what it measures", "why"), measures),
            Section(
                "Decision threshold",
                (
                    Paragraph(
                        f"Approving a row that turns positive costs {cost_default}, rejecting one "
                        f"that would not costs {cost_good} ({code('problem')} in "
                        f"{code(src.PARAMS)}). With calibrated probabilities the expected cost "
                        f"is lowest when rejecting from {cost_good} / ({cost_good} + "
                        f"{cost_default}) = {policy.show(DEC4, 'threshold')}, not from one half. "
                        f"Scores from {policy.show(DEC4, 'refer_from')} up to "
                        f"{policy.show(DEC4, 'reject_from')} are referred to a person: the band "
                        f"around the threshold that refers as near "
                        f"{p.show(PCT1, 'problem', 'target_referral_rate')} of the validation "
                        "rows as the scores allow."
                    ),
                ),
            ),
            Section(
                "Uncertainty",
                (
                    Bullets(
                        (
                            "ROC-AUC with its 95% percentile bootstrap interval over "
                            f"{p.show(count, 'evaluate', 'bootstrap_samples')} resamples of the "
                            "test rows.",
                            "Approval rates per protected group with 95% Wilson score intervals, "
                            "computed for this card from each group's size and rate: the reports "
                            "hold no interval for them.",
                            "Per-slice ROC-AUC and ECE only for groups of at least "
                            f"{p.show(count, 'evaluate', 'min_slice_size')} rows with both "
                            "outcomes; a figure from fewer rows is noise presented as a fact.",
                            "Directional behavioural tests allow an average move of "
                            f"{p.show(plain, 'evaluate', 'behaviour_tolerance')} the wrong way.",
                        )
                    ),
                ),
            ),
        ),
    )


def _part_table(ctx: Context, name: str, parts: tuple[str, ...]) -> Table:
    split = ctx.report(src.SPLIT)
    windowed = all(split.has(part, "window") for part in parts)
    header = (
        ("part",)
        + (("applications from", "applications before", "outcomes known by") if windowed else ())
        + ("rows", "positive rate")
    )
    rows = []
    for part in parts:
        row = [part]
        if windowed:
            window = split.at(part, "window")
            row += [
                window.show(plain, k)
                for k in ("applications_from", "applications_before", "outcomes_known_by")
            ]
        row += [split.show(count, part, "rows"), split.show(PCT1, part, "positive_rate")]
        rows.append(tuple(row))
    return Table(name, header, tuple(rows), f"From {code(src.SPLIT)}")


def _evaluation_data(ctx: Context) -> Section:
    return Section(
        "Evaluation data",
        (
            Paragraph(
                "The test part of the split, touched only for the verdict (the evaluate stage "
                "and the gate): nothing was chosen on it."
            ),
            _part_table(ctx, "evaluation_data", ("test",)),
        ),
    )


def _training_data(ctx: Context) -> Section:
    datasheet = src.datasheet_path(ctx.dataset.name, "md")
    return Section(
        "Training data",
        (
            Paragraph(
                "The model was fitted on the train part; its calibration and the decision "
                "policy were chosen on the validation part. The data itself is described in "
                f"its datasheet, {link(code(str(datasheet)), f'../{datasheet}')}."
            ),
            _part_table(ctx, "training_data", ("train", "valid")),
        ),
    )


def _caveats(ctx: Context) -> Section:
    split = ctx.report(src.SPLIT)
    items = [
        "The figures describe one test period; their intervals cover sampling noise, not a "
        "world that changes. Watch drift and the outcomes that arrive after release.",
    ]
    if split.has("test", "window"):
        items.append(
            "Outcomes arrive late: the newest outcomes here were known by "
            f"{split.show(plain, 'test', 'window', 'outcomes_known_by')}. How the model does on "
            "today's rows is known only a label horizon from now."
        )
    items += [
        "Calibration is what makes the threshold cost-optimal: re-check the ECE on recent "
        "outcomes before trusting the policy after a shift, and recalibrate or retrain.",
        "Small groups have wide intervals and slices under the minimum size have no ROC-AUC "
        "or ECE: absence of evidence there is not evidence of good behaviour.",
        "The card is rendered by the pipeline: change the data, params or code and "
        f"{code('dvc repro')} renders it again. A card that disagrees with "
        f"{code(src.METRICS)} is stale.",
    ]
    return Section("Caveats and recommendations", (Bullets(tuple(items)),))


def _provenance(ctx: Context) -> Section:
    return Section(
        "Provenance and sources",
        (
            Paragraph(
                "This card holds no registry version, run id, git commit or date: they belong "
                "to one MLflow store, not to the data, params and code the card is rendered "
                "from. The serving bundle's "
                f"{code('provenance.json')} (and {code('GET /model')} on the service) shows "
                "them for the champion, with its metrics and gate result; "
                f"{code(paths.GATE)} holds the release decision against the previous "
                f"champion; the MLflow experiment "
                f"{code(ctx.project.experiment)} holds the runs."
            ),
            Paragraph("Every figure above is quoted from, or computed from, one of these files:"),
            source_list(ctx),
        ),
    )
