"""The card's quantitative analyses: overall, per decision, per slice, per protected group and
against the baselines, from ``reports/metrics.json`` and the plot files."""

from __future__ import annotations

from loanrisk.docs import plots
from loanrisk.docs import sources as src
from loanrisk.docs.analysis import decision_counts, successes_from_rate, wilson_interval
from loanrisk.docs.context import Context
from loanrisk.docs.document import Block, Figure, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC3, DEC4, PCT1, count, interval, plain, signed
from loanrisk.docs.text import code, join

MODELS = (src.CANDIDATE, *src.BASELINES)
"""The candidate first: it is what the card is about; the baselines are its yardsticks."""


def quantitative_analyses(ctx: Context) -> Section:
    return Section(
        "Quantitative analyses",
        (
            _overall(ctx),
            _decisions(ctx),
            _slices(ctx),
            _protected_groups(ctx),
            _baselines(ctx),
        ),
    )


def ci(ctx: Context, model: str) -> str:
    """The ROC-AUC bootstrap interval as ``[low, high]``, each bound quoted."""
    bounds = ctx.report(src.METRICS, model, "roc_auc_ci95")
    return f"[{bounds.show(DEC4, 'low')}, {bounds.show(DEC4, 'high')}]"


def _overall(ctx: Context) -> Section:
    rows = []
    for model in MODELS:
        test = ctx.report(src.METRICS, model, "test")
        rows.append(
            (
                f"**{model}**" if model == src.CANDIDATE else model,
                test.show(DEC4, "roc_auc"),
                ci(ctx, model),
                test.show(DEC4, "pr_auc"),
                test.show(DEC4, "brier"),
                test.show(DEC4, "log_loss"),
                test.show(DEC4, "ece"),
            )
        )
    header = ("model", "ROC-AUC", "95% interval", "PR-AUC", "Brier", "log loss", "ECE")
    uplifts = [_uplift(ctx, baseline) for baseline in src.BASELINES]
    metrics = ctx.report(src.METRICS)
    bins = ctx.report(src.CALIBRATION[src.CANDIDATE])
    bin_rows = tuple(
        (
            bins.show(DEC3, i, "mean_predicted"),
            bins.show(DEC3, i, "observed"),
            bins.show(count, i, "n"),
        )
        for i in range(len(bins.get()))
    )
    roc = {m: ctx.report(src.ROC[m]).get() for m in MODELS}
    calibration = {m: ctx.report(src.CALIBRATION[m]).get() for m in MODELS}
    return Section(
        "Overall",
        (
            Table("overall", header, tuple(rows), "Test split, each model"),
            Paragraph(
                f"The candidate's ROC-AUC minus each baseline's on the same rows: {join(uplifts)}."
                f" Its behavioural tests {_passed(metrics.get(src.CANDIDATE, 'behaviour_passed'))}"
                f" ({code('behaviour_passed')}: "
                f"{metrics.show(plain, src.CANDIDATE, 'behaviour_passed')})."
            ),
            Figure(
                "roc",
                plots.roc_figure(roc),
                "ROC curve of each model",
                "ROC curve of each model on the test split (from the DVC plot files).",
            ),
            Figure(
                "calibration",
                plots.calibration_figure(calibration),
                "Calibration curve of each model",
                "Observed rate against mean score per score bin; the diagonal is perfect "
                "calibration, marker area the bin's size.",
            ),
            Table(
                "calibration_bins",
                ("mean score", "observed rate", "rows"),
                bin_rows,
                f"The candidate's calibration bins ({code(src.CALIBRATION[src.CANDIDATE])})",
            ),
        ),
    )


def _passed(passed: object) -> str:
    return "all passed" if passed else "did **not** all pass"


def _uplift(ctx: Context, baseline: str) -> str:
    path_new = (src.CANDIDATE, "test", "roc_auc")
    path_old = (baseline, "test", "roc_auc")
    metrics = ctx.report(src.METRICS)
    value = float(metrics.get(*path_new)) - float(metrics.get(*path_old))
    text = ctx.ledger.derived(
        value, signed(4), "difference", (src.METRICS, path_new), (src.METRICS, path_old)
    )
    return f"{text} over the {baseline} baseline"


def _decisions(ctx: Context) -> Section:
    policy_rows, decision_rows = [], []
    for model in MODELS:
        entry = ctx.report(src.METRICS, model)
        policy_rows.append(
            (
                model,
                entry.show(DEC4, "policy", "threshold"),
                entry.show(DEC4, "policy", "refer_from"),
                entry.show(DEC4, "policy", "reject_from"),
            )
        )
        d = entry.at("decisions")
        decision_rows.append(
            (
                model,
                d.show(PCT1, "approval_rate"),
                d.show(PCT1, "referral_rate"),
                d.show(PCT1, "rejection_rate"),
                d.show(DEC3, "precision"),
                d.show(DEC3, "recall"),
                d.show(DEC3, "f1"),
                d.show(PCT1, "default_rate_of_approved"),
                d.show(DEC4, "cost_per_application"),
            )
        )
    confusion = ctx.report(src.CONFUSION).get()
    actuals, decisions, counts = decision_counts(confusion)
    matrix = tuple(
        (
            actual,
            *(
                ctx.ledger.derived(
                    counts.get((actual, d), 0), count, "count", src.CONFUSION, actual, d
                )
                for d in decisions
            ),
        )
        for actual in actuals
    )
    return Section(
        "Decisions",
        (
            Table(
                "policy",
                ("model", "threshold", "refer from", "reject from"),
                tuple(policy_rows),
                "Decision policy (chosen on the validation split)",
            ),
            Table(
                "decisions",
                (
                    "model",
                    "approved",
                    "referred",
                    "rejected",
                    "precision",
                    "recall",
                    "F1",
                    "positive rate of approved",
                    "cost per row",
                ),
                tuple(decision_rows),
                "Decisions on the test split (precision, recall and F1 of *reject* on the "
                "rows decided automatically; cost in units of one average loan, referrals "
                "counted as free)",
            ),
            Table(
                "decision_matrix",
                ("actual outcome", *decisions),
                matrix,
                f"The candidate's decisions by actual outcome (rows counted in "
                f"{code(src.CONFUSION)})",
            ),
            Figure(
                "decision_matrix",
                plots.decision_figure(actuals, decisions, counts),
                "Decision matrix of the candidate",
                "The candidate's decisions on the test split against the actual outcome.",
            ),
        ),
    )


def _slices(ctx: Context) -> Section:
    slices = ctx.report(src.METRICS, src.CANDIDATE, "slices")
    blocks: list[Block] = [
        Paragraph(
            "The candidate per group of each slicing. The approval rate here is the automatic "
            "decision before any referral (score below the threshold); ROC-AUC and ECE are "
            "left out (n/a) for groups under "
            f"{ctx.params.show(count, 'evaluate', 'min_slice_size')} rows or with one outcome only."
        )
    ]
    for slicing in slices.names():
        rows = tuple(
            (
                slices.key(slicing, g),
                slices.show(count, slicing, g, "n"),
                slices.show(PCT1, slicing, g, "default_rate"),
                slices.show(DEC3, slicing, g, "mean_score"),
                slices.show(PCT1, slicing, g, "approval_rate"),
                slices.show(DEC3, slicing, g, "roc_auc"),
                slices.show(DEC3, slicing, g, "ece"),
            )
            for g in slices.names(slicing)
        )
        blocks.append(
            Table(
                f"slice_{slicing}",
                (
                    code(slicing),
                    "rows",
                    "positive rate",
                    "mean score",
                    "approval rate",
                    "ROC-AUC",
                    "ECE",
                ),
                rows,
            )
        )
    return Section("Slices", tuple(blocks))


def approval_intervals(
    ctx: Context, model: str, grouping: str
) -> list[tuple[str, float, float, float]]:
    """``(group, rate, low, high)`` per group: the Wilson interval of each approval rate."""
    fairness = ctx.report(src.METRICS, model, "fairness", grouping)
    out = []
    for group in fairness.names("approval_rate_by_group"):
        rate = float(fairness.get("approval_rate_by_group", group))
        n = int(fairness.get("count_by_group", group))
        low, high = wilson_interval(successes_from_rate(rate, n), n)
        out.append((group, rate, low, high))
    return out


def _protected_groups(ctx: Context) -> Section:
    gate = ctx.params.at("gate")
    gated = set(ctx.project.params.gate.fairness_attributes)
    blocks: list[Block] = [
        Paragraph(
            "Approval here is the automatic decision (score below the threshold) before any "
            "referral: what the model alone would do to each group. The intervals are 95% "
            "Wilson score intervals computed for this card from each group's size and rate."
        )
    ]
    measures = []
    panels = {}
    fairness = ctx.report(src.METRICS, src.CANDIDATE, "fairness")
    for grouping in fairness.names():
        f = fairness.at(grouping)
        rows = []
        for group, rate, low, high in approval_intervals(ctx, src.CANDIDATE, grouping):
            n = int(f.get("count_by_group", group))
            approved = ctx.ledger.derived(
                successes_from_rate(rate, n),
                count,
                "approved",
                (
                    src.METRICS,
                    (src.CANDIDATE, "fairness", grouping, "approval_rate_by_group", group),
                ),
                (src.METRICS, (src.CANDIDATE, "fairness", grouping, "count_by_group", group)),
            )
            bounds = ctx.ledger.derived(
                (low, high),
                interval(3),
                "wilson",
                (
                    src.METRICS,
                    (src.CANDIDATE, "fairness", grouping, "approval_rate_by_group", group),
                ),
                (src.METRICS, (src.CANDIDATE, "fairness", grouping, "count_by_group", group)),
            )
            rows.append(
                (
                    f.key("count_by_group", group),
                    f.show(count, "count_by_group", group),
                    approved,
                    f.show(PCT1, "approval_rate_by_group", group),
                    bounds,
                )
            )
        panels[grouping] = approval_intervals(ctx, src.CANDIDATE, grouping)
        blocks.append(
            Table(
                f"approval_{grouping}",
                (code(grouping), "rows", "approved", "approval rate", "95% interval"),
                tuple(rows),
            )
        )
        in_gate = grouping in gated
        measures.append(
            (
                code(grouping),
                f.show(DEC4, "selection_rate_ratio"),
                gate.show(plain, "min_four_fifths_ratio") if in_gate else "not gated",
                f.show(DEC4, "selection_rate_difference"),
                f.show(DEC4, "equalized_odds_difference"),
                gate.show(plain, "max_equalized_odds_difference") if in_gate else "not gated",
            )
        )
    blocks.append(
        Table(
            "fairness",
            (
                "grouping",
                "approval-rate ratio",
                "gate: at least",
                "approval-rate difference",
                "equalized-odds difference",
                "gate: at most",
            ),
            tuple(measures),
            "Fairness measures of the candidate (ratio: lowest group rate over highest)",
        )
    )
    blocks.append(
        Figure(
            "approval",
            plots.group_rates_figure(panels, "approval rate (automatic decision)"),
            "Approval rate by protected group",
            "The candidate's approval rate per protected group, with 95% Wilson intervals.",
        )
    )
    return Section("Protected groups", tuple(blocks))


def _baselines(ctx: Context) -> Section:
    rows = []
    for model in MODELS:
        fairness = ctx.report(src.METRICS, model, "fairness")
        for grouping in fairness.names():
            rows.append(
                (
                    model,
                    code(grouping),
                    fairness.show(DEC4, grouping, "selection_rate_ratio"),
                    fairness.show(DEC4, grouping, "equalized_odds_difference"),
                    ctx.report(src.METRICS).show(plain, model, "behaviour_passed"),
                )
            )
    return Section(
        "Against the baselines",
        (
            Table(
                "baselines",
                (
                    "model",
                    "grouping",
                    "approval-rate ratio",
                    "equalized-odds difference",
                    "behavioural tests passed",
                ),
                tuple(rows),
                "Fairness and behaviour of every model on the test split",
            ),
        ),
    )
