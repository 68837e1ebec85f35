"""What the card computes from the reports beyond quoting them.

Each function here answers a question a reviewer asks and the reports do not answer
directly: how sure is an approval rate of a small group, how did the decisions fall, which
behavioural test came nearest to failing, where is the model weakest.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Wilson rather than the normal approximation: a group of 40 applicants with 38 approvals
    gets an interval that stays inside [0, 1] and is not absurdly narrow.
    """
    if n <= 0:
        raise ValueError("an interval needs at least one observation")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def successes_from_rate(rate: float, n: int) -> int:
    """The count behind a reported rate: the rate is count / n, so rounding recovers it."""
    return round(rate * n)


def decision_counts(
    rows: Iterable[Mapping[str, str]],
) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """Outcomes, decisions and the count of each pair, from per-row ``actual``/``decision``."""
    counts = Counter((r["actual"], r["decision"]) for r in rows)
    actuals = sorted({a for a, _ in counts})
    order = {"approve": 0, "refer": 1, "reject": 2}
    decisions = sorted({d for _, d in counts}, key=lambda d: (order.get(d, 3), d))
    return actuals, decisions, dict(counts)


@dataclass(frozen=True)
class Margin:
    """How far a behavioural test's measured value stayed from its limit, in score units
    (negative: it failed). ``None`` when its detail states no limit."""

    measured: float
    limit: float
    margin: float


_AT_LEAST = re.compile(r"([+-]?\d+(?:\.\d+)?) \(at least ([+-]?\d+(?:\.\d+)?)\)")
_AT_MOST = re.compile(r"([+-]?\d+(?:\.\d+)?) \(at most ([+-]?\d+(?:\.\d+)?)\)")
_THRESHOLD = re.compile(r"score ([+-]?\d+(?:\.\d+)?) vs threshold ([+-]?\d+(?:\.\d+)?)")


def behaviour_margin(name: str, detail: str) -> Margin | None:
    """Read the measured value and its limit off a behavioural test's ``detail`` text.

    The details are the only place the report keeps these numbers. Every test compares a
    change of score or a score with a limit, so margins are comparable across tests.
    A minimum-functionality test on the threshold passes below it when it expects approval.
    """
    if m := _AT_LEAST.search(detail):
        measured, limit = float(m[1]), float(m[2])
        return Margin(measured, limit, measured - limit)
    if m := _AT_MOST.search(detail):
        measured, limit = float(m[1]), float(m[2])
        return Margin(measured, limit, limit - measured)
    if m := _THRESHOLD.search(detail):
        measured, limit = float(m[1]), float(m[2])
        below = "approved" in name and "not_approved" not in name
        return Margin(measured, limit, limit - measured if below else measured - limit)
    return None


def closest_to_failing(behaviour: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Margin]]:
    """Tests with a stated limit, the smallest margin first."""
    found = []
    for name, result in behaviour.items():
        margin = behaviour_margin(name, str(result.get("detail", "")))
        if margin is not None:
            found.append((name, margin))
    return sorted(found, key=lambda item: (item[1].margin, item[0]))


def weakest_slices(
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]], measure: str, worst_is_high: bool
) -> list[tuple[str, str]]:
    """``(slicing, group)`` of every measured slice (the report leaves ``measure`` null for
    groups too small to measure), the weakest first."""
    measured = [
        (slicing, group, float(row[measure]))
        for slicing, groups in slices.items()
        for group, row in groups.items()
        if row.get(measure) is not None
    ]
    measured.sort(key=lambda x: (-x[2] if worst_is_high else x[2], x[0], x[1]))
    return [(slicing, group) for slicing, group, _ in measured]
