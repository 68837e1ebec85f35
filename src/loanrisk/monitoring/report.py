"""The offline monitoring report as one self-contained HTML page (plots embedded).

Markdown rendered by the documents' own renderer (:mod:`loanrisk.docs.render`), with
deterministic figures, so the same monitoring result gives the same bytes: `dvc repro`
reproduces the report too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure as MplFigure

from loanrisk.data.declaration import Declaration
from loanrisk.docs.plots import PALETTE, png, style
from loanrisk.docs.render import Figure, tidy, to_html
from loanrisk.monitoring.profile import SCORE, Profile, smoothed

PSI_CEILING = 0.5
"""The heat map's colour scale stops here: beyond it, drift is drift."""


def render(result: dict[str, Any], profile: Profile, dataset: Declaration) -> str:
    """The page for a monitoring ``result`` (what `pipelines/monitor.py` writes as JSON)."""
    months = result["months"]
    decision = result["decision"]
    verdict = "Retraining recommended." if decision["retrain"] else "No retraining needed."
    summary: list[str] = list(decision["reasons"]) or ["no drift, no fall in quality"]
    for column, seen in decision["feed_problems"].items():
        summary.append(f"fix the feed: `{column}` broken in {len(seen)} month(s) from {seen[0]}")
    model = result["model"]
    scenario = f", scenario `{result['scenario']}`" if result.get("scenario") else ""
    figures = (
        Figure(
            "drift",
            _drift_heatmap(months),
            "PSI per feature and month",
            f"PSI per feature and month (colour capped at {PSI_CEILING}); a dot marks a "
            "feature judged drifted that month.",
        ),
        Figure(
            "scores",
            _score_shares(months, profile, result["thresholds"]["pseudo_count"]),
            "Score distribution against the reference",
            "Share of applications per reference score bin: training data against the "
            "last month of the window.",
        ),
        Figure(
            "quality",
            _quality(months, result),
            "ROC-AUC and calibration error per month",
            "Months whose outcomes are known at the monitoring date.",
        ),
        Figure(
            "approval",
            _approval(months, dataset),
            "Approval rate by protected group",
            "Approval rate per month for each group of the first protected attribute.",
        ),
    )
    drift, scores, quality, approval = (f.placeholder() for f in figures)
    markdown = "\n\n".join(
        [
            "# Monitoring report",
            f"Model `{model['path']}` (fingerprint `{model['fingerprint'][:12]}`), "
            f"source `{result['source']}`{scenario}, outcomes known up to {result['as_of']} "
            "minus the label horizon.",
            f"**{verdict}**",
            "\n".join(f"- {line}" for line in summary),
            f"## Drift per feature\n\n{drift}",
            f"## Score distribution\n\n{scores}",
            f"## Quality once outcomes matured\n\n{quality}\n\n{approval}",
            f"## Month by month\n\n{_table(months)}",
        ]
    )
    return to_html(tidy(markdown), figures)


def _table(months: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| month | rows | quarantined | drifted features | score PSI | ROC-AUC | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in months:
        q = m.get("quality", {})
        cells = (
            m["month"],
            str(m["rows"]),
            f"{m['quarantined_share']:.1%}",
            ", ".join(m["drift"]["drifted_features"]) or "-",
            f"{m['score']['psi']:.3f}" if m["score"] else "-",
            f"{q['roc_auc']:.3f}" if "roc_auc" in q else "-",
            f"{q['ece']:.3f}" if "ece" in q else "-",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _labels(months: Sequence[dict[str, Any]]) -> tuple[list[int], list[str]]:
    return list(range(len(months))), [m["month"] for m in months]


def _ticks(ax: Any, months: Sequence[dict[str, Any]]) -> None:
    xs, labels = _labels(months)
    step = max(1, len(months) // 12)
    ax.set_xticks(xs[::step], labels[::step], rotation=45, ha="right")


def _drift_heatmap(months: Sequence[dict[str, Any]]) -> bytes:
    names = list(months[0]["drift"]["features"]) if months else []
    psi = np.array([[m["drift"]["features"][n]["psi"] for m in months] for n in names])
    with style():
        figure = MplFigure(figsize=(8, 0.28 * len(names) + 1.4), layout="constrained")
        ax = figure.add_subplot()
        image = ax.imshow(
            np.minimum(psi, PSI_CEILING), aspect="auto", cmap="Reds", vmin=0, vmax=PSI_CEILING
        )
        for i, name in enumerate(names):
            for j, m in enumerate(months):
                if m["drift"]["features"][name]["drifted"]:
                    ax.plot(j, i, "o", color="black", markersize=3)
        ax.set_yticks(range(len(names)), names)
        _ticks(ax, months)
        ax.grid(False)
        figure.colorbar(image, ax=ax, label="PSI")
        return png(figure)


def _score_shares(months: Sequence[dict[str, Any]], profile: Profile, pseudo: float) -> bytes:
    binned = profile.features[SCORE]
    reference = smoothed(np.array(binned.counts[:-1]), pseudo)
    last = next((m for m in reversed(months) if m["score"]), None)
    with style():
        figure = MplFigure(figsize=(7.5, 3.0), layout="constrained")
        ax = figure.add_subplot()
        xs = np.arange(len(reference))
        ax.bar(xs - 0.2, reference, width=0.4, color=PALETTE[0], label="training (reference)")
        if last is not None:
            ax.bar(
                xs + 0.2,
                last["score"]["current_shares"][:-1],
                width=0.4,
                color=PALETTE[3],
                label=f"{last['month']}",
            )
        ax.set_xticks(xs, binned.labels()[:-1], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("share of applications")
        ax.legend(fontsize=8)
        return png(figure)


def _quality(months: Sequence[dict[str, Any]], result: dict[str, Any]) -> bytes:
    def series(key: str) -> list[float]:
        return [m.get("quality", {}).get(key, float("nan")) for m in months]

    with style():
        figure = MplFigure(figsize=(7.5, 3.0), layout="constrained")
        auc, ece = figure.subplots(1, 2)
        xs, _ = _labels(months)
        auc.plot(xs, series("roc_auc"), marker=".", color=PALETTE[0])
        auc.axhline(result["baseline"]["roc_auc"], color=PALETTE[5], linestyle="--", label="test")
        auc.set_title("ROC-AUC", fontsize=9)
        auc.legend(fontsize=8)
        ece.plot(xs, series("ece"), marker=".", color=PALETTE[3])
        ece.set_title("calibration error (ECE)", fontsize=9)
        for ax in (auc, ece):
            _ticks(ax, months)
        return png(figure)


def _approval(months: Sequence[dict[str, Any]], dataset: Declaration) -> bytes:
    attribute = next(iter(dataset.group_names), None)
    groups = sorted(
        {
            g
            for m in months
            for g in m.get("quality", {}).get("approval_rate", {}).get(attribute, {})
        }
    )
    with style():
        figure = MplFigure(figsize=(7.5, 2.8), layout="constrained")
        ax = figure.add_subplot()
        xs, _ = _labels(months)
        for colour, group in zip(PALETTE, groups, strict=False):
            rates = [
                m.get("quality", {}).get("approval_rate", {}).get(attribute, {}).get(group)
                for m in months
            ]
            ax.plot(
                xs,
                [r if r is not None else float("nan") for r in rates],
                marker=".",
                color=colour,
                label=f"{attribute} = {group}",
            )
        ax.set_ylabel("approval rate")
        _ticks(ax, months)
        if groups:
            ax.legend(fontsize=8)
        else:  # captures without /feedback yet, or a window younger than the label horizon
            ax.text(0.5, 0.5, "no outcomes known yet", transform=ax.transAxes, ha="center")
        return png(figure)
