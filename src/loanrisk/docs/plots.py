"""The documents' figures, drawn with matplotlib's Agg renderer into PNG bytes.

Deterministic: the same numbers give the same bytes, so a reproduction of the pipeline
reproduces the HTML too. That takes three things: matplotlib's default style whatever the
user's matplotlibrc says, no software or date stamp in the PNG, and figures made through
:class:`~matplotlib.figure.Figure` directly (no pyplot: no global state, no GUI backend).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

DPI = 100
PALETTE = ("#0969da", "#bf8700", "#1a7f37", "#cf222e", "#8250df", "#57606a")


@contextmanager
def style() -> Iterator[None]:
    with mpl.rc_context():
        mpl.rcdefaults()  # the user's matplotlibrc must not change the bytes
        mpl.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
        yield


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def roc_figure(curves: Mapping[str, Sequence[Mapping[str, float]]]) -> bytes:
    """ROC curve of each model, with the chance diagonal."""
    with style():
        figure = Figure(figsize=(5.2, 4.4), layout="constrained")
        ax = figure.add_subplot()
        for i, (name, points) in enumerate(curves.items()):
            ax.plot(
                [p["fpr"] for p in points],
                [p["tpr"] for p in points],
                label=name,
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.6,
            )
        ax.plot([0, 1], [0, 1], linestyle=":", color="#8c959f", label="chance")
        ax.set(
            xlabel="false positive rate",
            ylabel="true positive rate",
            xlim=(0, 1),
            ylim=(0, 1),
            title="ROC (test split)",
        )
        ax.legend(loc="lower right")
        return png(figure)


def calibration_figure(curves: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """Observed positive rate against mean score per score bin; a calibrated model sits on
    the diagonal. Marker area follows the bin's size, so a stray empty-ish bin reads as such."""
    with style():
        figure = Figure(figsize=(5.2, 4.4), layout="constrained")
        ax = figure.add_subplot()
        top = max(
            (max(p["mean_predicted"], p["observed"]) for ps in curves.values() for p in ps),
            default=1.0,
        )
        limit = min(1.0, top * 1.08 + 0.02)
        ax.plot([0, limit], [0, limit], linestyle=":", color="#8c959f", label="perfect")
        largest = max((p["n"] for ps in curves.values() for p in ps), default=1)
        for i, (name, points) in enumerate(curves.items()):
            colour = PALETTE[i % len(PALETTE)]
            xs = [p["mean_predicted"] for p in points]
            ys = [p["observed"] for p in points]
            sizes = [12 + 150 * p["n"] / largest for p in points]
            ax.plot(xs, ys, color=colour, linewidth=1, alpha=0.7)
            ax.scatter(xs, ys, s=sizes, color=colour, alpha=0.75, label=name, edgecolors="white")
        ax.set(
            xlabel="mean score in bin",
            ylabel="observed rate in bin",
            xlim=(0, limit),
            ylim=(0, limit),
            title="Calibration (test split)",
        )
        ax.legend(loc="upper left")
        return png(figure)


def decision_figure(
    actuals: Sequence[str], decisions: Sequence[str], counts: Mapping[tuple[str, str], int]
) -> bytes:
    """The decision matrix: each outcome against each decision, as counts."""
    with style():
        figure = Figure(figsize=(5.2, 2.6), layout="constrained")
        ax = figure.add_subplot()
        grid = [[counts.get((a, d), 0) for d in decisions] for a in actuals]
        peak = max((v for row in grid for v in row), default=1) or 1
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=peak * 1.15, aspect="auto")
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                ax.text(
                    c,
                    r,
                    f"{value:,}",
                    ha="center",
                    va="center",
                    color="white" if value > peak * 0.6 else "#1f2328",
                    fontsize=10,
                )
        ax.set_xticks(range(len(decisions)), decisions)
        ax.set_yticks(range(len(actuals)), actuals)
        ax.set(xlabel="decision", ylabel="actual outcome", title="Decisions (test split)")
        ax.grid(False)
        return png(figure)


def group_rates_figure(
    groups: Mapping[str, Sequence[tuple[str, float, float, float]]], what: str
) -> bytes:
    """A rate per group with its interval, one panel per protected grouping:
    ``{grouping: [(group, rate, low, high), ...]}``; ``what`` names the rate."""
    with style():
        sizes = [max(len(rows), 1) for rows in groups.values()] or [1]
        height = 0.9 + sum(0.55 + 0.28 * size for size in sizes)
        figure = Figure(figsize=(5.2, height), layout="constrained")
        axes = figure.subplots(len(sizes), 1, squeeze=False, height_ratios=sizes)[:, 0]
        top = max((r[3] for rows in groups.values() for r in rows), default=1.0)
        for ax, (grouping, rows) in zip(axes, groups.items(), strict=False):
            labels = [r[0] for r in rows]
            rates = [r[1] for r in rows]
            # Clipped at 0: at a rate of exactly 0 or 1 the interval's bound can land a rounding
            # error on the wrong side of the rate, which matplotlib refuses.
            errors = [[max(r[1] - r[2], 0.0) for r in rows], [max(r[3] - r[1], 0.0) for r in rows]]
            ax.errorbar(
                rates,
                range(len(rows)),
                xerr=errors,
                fmt="o",
                color=PALETTE[0],
                ecolor="#57606a",
                capsize=3,
            )
            ax.set_yticks(range(len(rows)), labels)
            ax.set_ylim(len(rows) - 0.4, -0.6)  # first group on top, none on the frame
            ax.set_xlim(0, min(1.0, top * 1.15 + 0.01))
            ax.set_title(f"{what} by {grouping}", fontsize=9)
        axes[-1].set_xlabel(f"{what}, with its 95% interval")
        return png(figure)


def periods_figure(periods: Sequence[Mapping[str, Any]], label: str) -> bytes:
    """Rows per period (bars) and the positive rate of the labelled ones (line): the label
    delay shows as the recent periods with no rate."""
    with style():
        figure = Figure(figsize=(7.5, 3.0), layout="constrained")
        ax = figure.add_subplot()
        xs = list(range(len(periods)))
        ax.bar(xs, [p["rows"] for p in periods], color="#d0d7de", label="rows")
        ax.bar(xs, [p["labelled"] for p in periods], color="#8c959f", label="labelled rows")
        ax.set_ylabel("rows")
        step = max(1, len(periods) // 12)
        ax.set_xticks(
            xs[::step], [str(p["period"]) for p in periods][::step], rotation=45, ha="right"
        )
        rate = ax.twinx()
        rates = [p["positive_rate"] for p in periods]
        rate.plot(
            xs,
            [r if r is not None else float("nan") for r in rates],
            color=PALETTE[3],
            marker=".",
            label=f"positive rate ({label})",
        )
        rate.set_ylabel("positive rate of labelled rows")
        known = [r for r in rates if r is not None]
        rate.set_ylim(0, max(known) * 1.6 if known else 1)
        rate.grid(False)
        handles = ax.get_legend_handles_labels()
        extra = rate.get_legend_handles_labels()
        figure.legend(
            handles[0] + extra[0],
            handles[1] + extra[1],
            loc="outside upper center",
            ncols=3,
            fontsize=8,
            frameon=False,
        )
        return png(figure)
