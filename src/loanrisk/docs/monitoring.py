"""The card's monitoring section: what production did to this model, from the monitor stage's
report (``reports/monitoring/drift.json``), never from anything typed here.

The card is rendered offline, so it quotes the offline monitor: the replayed (or captured)
months, the decision with its reasons, drift and quality month by month. Live figures come
from the running service (``GET /drift``, ``GET /quality``, the Prometheus alerts); the
section says where, since a card cannot hold numbers that change with every request.
"""

from __future__ import annotations

from typing import Any

from loanrisk import paths
from loanrisk.docs import sources as src
from loanrisk.docs.context import Context
from loanrisk.docs.document import Block, Bullets, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC3, DEC4, PCT1, Cursor, count, plain
from loanrisk.docs.text import code

TITLE = "Monitoring in production"

LIVE = (
    f"Live, the service judges its own traffic with the same profile: {code('GET /drift')} "
    f"(recent requests), {code('GET /quality')} (outcomes posted to {code('/feedback')}), and "
    "per-bin counters from which Prometheus computes drift across replicas; the alerts and "
    f"their runbooks are in {code('serving/prometheus/alerts.yml')}."
)


def _features(value: Any) -> str:
    """The drifted features of a month, or ``none``."""
    return ", ".join(value) if value else "none"


def production(ctx: Context) -> Section:
    report = ctx.report(src.MONITORING)
    if report.has("skipped"):
        return Section(
            TITLE,
            (
                Paragraph(
                    f"No production window was judged by this run ({code(src.MONITORING)}): "
                    f"{report.show(plain, 'skipped')}."
                ),
                Paragraph(LIVE),
            ),
        )
    return Section(TITLE, (*_summary(ctx, report), _months(report), *_recent(ctx, report)))


def _summary(ctx: Context, report: Cursor) -> tuple[Block, ...]:
    months = report.get("months")
    last = len(months) - 1
    replayed = report.get("source") == "generator"
    where = (
        f"replayed by the generator under scenario {code(report.show(plain, 'scenario'))}"
        if replayed
        else f"captured by the service in {code(report.show(plain, 'source'))}"
    )
    decision = report.at("decision")
    verdict = "**retrain recommended**" if decision.get("retrain") else "**no retraining needed**"
    n_months = ctx.ledger.derived(len(months), count, "length", (src.MONITORING, ("months",)))
    blocks: list[Block] = [
        Paragraph(
            f"The {code('monitor')} stage judged {n_months} months of production "
            f"traffic, {report.show(plain, 'months', 0, 'month')} to "
            f"{report.show(plain, 'months', last, 'month')} ({where}), against the reference "
            "profile stored with this model, as a snapshot on "
            f"{report.show(plain, 'as_of')} knows them: {verdict}. The full report, with its "
            f"plots, is {code(paths.MONITORING_REPORT)}."
        )
    ]
    reasons = decision.get("reasons")
    if reasons:
        blocks.append(
            Bullets(tuple(decision.show(plain, "reasons", i) for i in range(len(reasons))))
        )
    problems = decision.names("feed_problems")
    if problems:
        blocks.append(
            Paragraph(
                "Broken feeds (fixed at the source, never a reason to retrain): "
                + "; ".join(
                    f"{code(decision.key('feed_problems', c))} in "
                    f"{decision.show(plain, 'feed_problems', c)}"
                    for c in problems
                )
                + "."
            )
        )
    return tuple(blocks)


def _months(report: Cursor) -> Table:
    rows = []
    for i, month in enumerate(report.get("months")):
        m = report.at("months", i)
        quality = month.get("quality") or {}
        rows.append(
            (
                m.show(plain, "month"),
                m.show(count, "rows"),
                m.show(PCT1, "quarantined_share"),
                m.show(_features, "drift", "drifted_features"),
                m.show(DEC3, "score", "psi") if month.get("score") else "n/a",
                m.show(DEC3, "quality", "roc_auc") if "roc_auc" in quality else "n/a",
                m.show(DEC3, "quality", "ece") if "ece" in quality else "n/a",
            )
        )
    return Table(
        "monitoring",
        ("month", "rows", "quarantined", "drifted features", "score PSI", "ROC-AUC", "ECE"),
        tuple(rows),
        caption="Quality only for months whose outcomes had matured by the monitoring date.",
    )


def _recent(ctx: Context, report: Cursor) -> tuple[Block, ...]:
    recent = report.at("decision", "recent_quality")
    if not report.has("decision", "recent_quality", "roc_auc"):
        none = "No month's outcomes had matured by the monitoring date: no quality to compare."
        return (Paragraph(none), Paragraph(LIVE))
    baseline, thresholds = report.at("baseline"), report.at("thresholds")
    return (
        Paragraph(
            f"Over the last matured months ({recent.show(plain, 'months')}, "
            f"{recent.show(count, 'outcomes')} outcomes) the model reached ROC-AUC "
            f"{recent.show(DEC4, 'roc_auc')} against {baseline.show(DEC4, 'roc_auc')} on its "
            f"test split (the monitor raises quality only below that interval's lower end, "
            f"{baseline.show(DEC4, 'roc_auc_low')}, by more than "
            f"{thresholds.show(plain, 'max_roc_auc_drop')}), and a calibration error of "
            f"{recent.show(DEC4, 'ece')} (the gate's limit: "
            f"{ctx.params.show(plain, 'gate', 'max_ece')})."
        ),
        Paragraph(LIVE),
    )
