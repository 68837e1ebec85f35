"""The problem framing, docs/problem.md: every threshold on it is the one in params.yaml.

The page is parsed back as a reader sees it (its Markdown tables: a figure beside the name of
the param it claims to quote) and each figure is compared with params.yaml read here with
yaml; the backtest's dates are recomputed here by calendar arithmetic. Then every other
figure is checked through the ledger, a marked rendering shows that no number bypassed it,
and a changed param changes the page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from loanrisk import paths
from loanrisk.config import SCENARIOS, GateConfig, Params
from loanrisk.data import generator
from loanrisk.docs import context
from loanrisk.docs.ledger import DERIVED, MARK_CLOSE, MARK_OPEN
from loanrisk.docs.problem import problem_page
from loanrisk.docs.template import Page
from loanrisk.project import Project, load_project
from tests.docs.conftest import ROOT, fast, inside
from tests.helpers import CHURN

QUOTED = {
    "problem.cost_approve_default",
    "problem.cost_reject_good",
    "problem.target_referral_rate",
    *(f"gate.{key}" for key in GateConfig.model_fields),
    "monitor.psi_threshold",
    "monitor.js_threshold",
    "monitor.ks_threshold",
    "monitor.missing_threshold",
    "monitor.score_psi_threshold",
    "monitor.dataset_drift_share",
    "monitor.min_rows",
    "monitor.max_roc_auc_drop",
    "monitor.quality_window_months",
}
"""Every param the page must quote in its tables: the costs, the referral rate, every gate
threshold and the monitoring triggers."""
THRESHOLD = "problem.cost_reject_good / (problem.cost_reject_good + problem.cost_approve_default)"
ALLOWED = ("95%",)
"""Digits the page may write itself: the stated confidence level."""


def project_in(root: Path, params: Params, declaration: str) -> Project:
    """``params`` and ``declaration`` written as files in ``root``, loaded as the stage would."""
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / params.data.declaration).write_text(declaration)
    (root / paths.PARAMS).write_text(yaml.safe_dump(params.model_dump(mode="json")))
    with inside(root):
        return load_project()


def loans_params(params: Params, **changes: Any) -> Params:
    """The project's params on the generator's data, with ``changes`` ("section.key": value)."""
    pinned = fast(params, declaration=generator.DECLARATION, source="generator", scenario="none")
    pinned = pinned.model_copy(
        update={"gate": pinned.gate.model_copy(update={"fairness_attributes": ["sex"]})}
    )
    for name, value in changes.items():
        section, key = name.split(".")
        part = getattr(pinned, section).model_copy(update={key: value})
        pinned = pinned.model_copy(update={section: part})
    return pinned


@pytest.fixture()
def loans(tmp_path: Path, params: Params) -> Project:
    declaration = (ROOT / generator.DECLARATION).read_text()
    return project_in(tmp_path, loans_params(params), declaration)


@pytest.fixture()
def churn(tmp_path: Path, params: Params) -> Project:
    pinned = fast(params, declaration="datasets/churn.yaml", source="data/customers.csv")
    pinned = pinned.model_copy(
        update={"gate": pinned.gate.model_copy(update={"fairness_attributes": ["marital_status"]})}
    )
    return project_in(tmp_path, pinned, CHURN)


# -- reading the page back --------------------------------------------------------------------


def markdown_tables(markdown: str) -> Iterator[list[dict[str, str]]]:
    """Each table of a Markdown page as rows of {header: cell}, cells as a reader sees them."""

    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        return [p.strip().replace("\\|", "|").replace("\\<", "<") for p in parts]

    block: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            header, rows = cells(block[0]), [cells(b) for b in block[2:]]
            yield [dict(zip(header, row, strict=True)) for row in rows]
            block = []


def value_of(params: dict[str, Any], name: str) -> Any:
    node: Any = params
    for key in name.split("."):
        node = node[key]
    return node


def evaluate(params: dict[str, Any], expression: str) -> Any:
    """A param's value, or an arithmetic expression of params' values."""
    names = re.findall(r"[a-z_]+(?:\.[a-z_]+)+", expression)
    if [expression] == names:
        return value_of(params, expression)
    for name in sorted(names, key=len, reverse=True):
        expression = expression.replace(name, repr(float(value_of(params, name))))
    assert re.fullmatch(r"[\d.+\-*/() ]+", expression), expression
    return eval(expression, {"__builtins__": {}})  # digits and operators only (checked above)


def shows(cell: str, value: Any) -> bool:
    """Whether a table cell shows ``value`` as the page formats it."""
    if isinstance(value, bool):
        return cell == ("yes" if value else "no")
    if value is None:
        return cell == "n/a"
    if isinstance(value, list):
        return cell == ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        number = cell.replace(",", "")
        places = len(number.split(".")[1]) if "." in number else 0
        return abs(float(number) - float(value)) <= 0.5 * 10**-places + 1e-12
    return cell == str(value)


def quoted_params(markdown: str, params: dict[str, Any]) -> set[str]:
    """Check every table row that names a param against ``params``; return the names."""
    seen = set()
    for table in markdown_tables(markdown):
        for row in table:
            if "param" not in row or not row["param"].startswith("`"):
                continue
            expression = row["param"].strip("`")
            expected = evaluate(params, expression)
            assert shows(row["value"], expected), (
                f"{expression}: page {row['value']!r}, {expected!r}"
            )
            seen.add(expression)
    return seen


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, day.day)


def expected_windows(params: dict[str, Any], declaration: dict[str, Any]) -> list[dict[str, str]]:
    """The backtest's windows from the params, computed here by calendar arithmetic."""
    horizon = declaration["label"]["horizon_months"]
    gap = params["split"]["gap_months"]
    gap = horizon if gap is None else gap
    valid_from, test_from, as_of = (
        dt.date.fromisoformat(params[s][k])
        for s, k in (("split", "valid_from"), ("split", "test_from"), ("data", "as_of"))
    )
    header = ("part", "applications from", "applications before", "all outcomes known by")
    rows = (
        ("train", params["data"]["start"], add_months(valid_from, -gap), None),
        ("valid", valid_from, add_months(test_from, -gap), None),
        ("test", test_from, add_months(as_of, -horizon), as_of),
    )
    out = []
    for part, first, before, known in rows:
        known = known or add_months(before, horizon)
        out.append(dict(zip(header, (part, str(first), str(before), str(known)), strict=True)))
    return out


def read_back(project: Project, root: Path, page: str) -> set[str]:
    """Parse ``page`` back against the files in ``root``; return the params it quotes."""
    params = yaml.safe_load((root / paths.PARAMS).read_text())
    quoted = quoted_params(page, params)
    if project.dataset.timestamp is not None:
        declaration = yaml.safe_load((root / params["data"]["declaration"]).read_text())
        (backtest,) = [t for t in markdown_tables(page) if "applications from" in t[0]]
        assert backtest == expected_windows(params, declaration)
    return quoted


# -- the page ---------------------------------------------------------------------------------


def test_every_threshold_on_the_page_is_the_value_in_params(loans: Project, tmp_path: Path) -> None:
    page = problem_page(loans).markdown
    quoted = read_back(loans, tmp_path, page)
    assert QUOTED | {THRESHOLD} <= quoted, sorted(QUOTED - quoted)
    costs = yaml.safe_load((tmp_path / paths.PARAMS).read_text())["problem"]
    good, bad = costs["cost_reject_good"], costs["cost_approve_default"]
    assert f"rejecting from {good / (good + bad):.4f}," in page


def test_changing_a_param_changes_the_page(loans: Project, tmp_path: Path, params: Params) -> None:
    before = problem_page(loans).markdown
    changed = loans_params(
        params,
        **{
            "problem.cost_approve_default": 9.0,
            "problem.target_referral_rate": 0.25,
            "gate.min_roc_auc": 0.66,
            "gate.champion_cost_margin": 0.011,
            "monitor.score_psi_threshold": 0.2,
            "split.gap_months": 6,
            "data.as_of": dt.date(2025, 7, 1),
        },
    )
    other = tmp_path / "changed"
    project = project_in(other, changed, (ROOT / generator.DECLARATION).read_text())
    after = problem_page(project).markdown
    assert after != before
    assert read_back(project, other, after) >= QUOTED
    rows = {
        row["param"]: row["value"] for t in markdown_tables(after) for row in t if "param" in row
    }
    assert rows[f"`{THRESHOLD}`"] == "0.1000"
    assert rows["`gate.min_roc_auc`"] == "0.66"
    assert rows["`monitor.score_psi_threshold`"] == "0.2"


def test_no_figure_on_the_page_is_typed_by_hand(loans: Project, churn: Project) -> None:
    for project in (loans, churn):
        marked = problem_page(project, mark=True).markdown
        plain = marked.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
        assert plain == problem_page(project).markdown
        rest = re.sub(f"{MARK_OPEN}[^{MARK_OPEN}{MARK_CLOSE}]*{MARK_CLOSE}", "", marked)
        rest = re.sub(r"\]\([^)]*\)", "]", rest)  # link targets are addresses, not figures
        for allowed in ALLOWED:
            rest = rest.replace(allowed, "")
        assert [line for line in rest.splitlines() if re.search(r"\d", line)] == []


def truth(root: Path) -> dict[str, Any]:
    """Every source a fact on the page may name, read from the files in ``root`` and the
    generator's constants."""
    params = yaml.safe_load((root / paths.PARAMS).read_text())
    found = {
        paths.PARAMS: params,
        params["data"]["declaration"]: yaml.safe_load(
            (root / params["data"]["declaration"]).read_text()
        ),
        context.GENERATOR: {
            "no_direct_effect": list(generator.NO_DIRECT_EFFECT),
            "interactions": {k: {"description": d} for k, (_, d) in generator.INTERACTIONS.items()},
        },
        context.SCENARIOS: {"names": list(SCENARIOS)},
    }
    return found


def redo(how: str, inputs: tuple[Any, ...], found: dict[str, Any]) -> Any:
    if how == "shift":
        (source, path), *moves = inputs
        day = dt.date.fromisoformat(str(value_of(found[source], ".".join(path))))
        for sign, m_source, m_path in moves:
            day = add_months(day, sign * int(value_of(found[m_source], ".".join(m_path))))
        return day.isoformat()
    values = [float(value_of(found[s], ".".join(p))) for s, p in inputs]
    if how == "cost_optimal_threshold":
        good, bad = values
        return good / (good + bad)
    if how == "remainder":
        return 1 - sum(values)
    raise AssertionError(f"no way to check a figure made by {how!r}")


@pytest.mark.parametrize("name", ["loans", "churn"])
def test_every_figure_equals_the_value_in_its_source(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    project: Project = request.getfixturevalue(name)
    document: Page = problem_page(project)
    page = document.markdown.replace("\\<", "<")
    found = truth(tmp_path)
    assert document.facts
    for fact in document.facts:
        where = f"{fact.source} {fact.path} {fact.how}"
        if fact.kind == "derived":
            assert fact.source == DERIVED
            expected = redo(fact.how, fact.inputs, found)
            if isinstance(expected, float):
                assert fact.value == pytest.approx(expected, abs=1e-12), where
            else:
                assert fact.value == expected, where
        elif fact.kind == "key":
            assert fact.path[-1] in value_of(found[fact.source], ".".join(map(str, fact.path[:-1])))
        else:
            node: Any = found[fact.source]
            for key in fact.path:
                node = node[key]
            assert fact.value == node, where
        assert fact.text in page, where


def test_the_page_says_whether_the_offered_rate_is_a_model_input(
    loans: Project, tmp_path: Path, params: Params
) -> None:
    page = problem_page(loans).markdown
    assert "interest_rate" in loans.dataset.feature_names
    assert "`interest_rate` **is a model input**" in page
    declared = yaml.safe_load((ROOT / generator.DECLARATION).read_text())
    del declared["features"]["interest_rate"]
    other = tmp_path / "without_rate"
    project = project_in(other, loans_params(params), yaml.safe_dump(declared))
    without = problem_page(project).markdown
    assert "**is a model input**" not in without
    assert "no such column the worked example knows of (`interest_rate`)" in without


def test_another_dataset_gets_a_stratified_backtest_and_no_generator_claims(
    churn: Project, tmp_path: Path
) -> None:
    page = problem_page(churn).markdown
    assert read_back(churn, tmp_path, page) >= QUOTED | {"split.valid_share", "split.test_share"}
    assert "stratified by the label" in page
    assert context.GENERATOR not in page and "interest_rate" in page  # named as absent
    assert "**is a model input**" not in page


def test_the_committed_page_is_the_rendering_of_the_committed_params() -> None:
    with inside(ROOT):
        project = load_project()
    committed = (ROOT / paths.PROBLEM).read_text()
    assert committed == problem_page(project).markdown, (
        f"{paths.PROBLEM} is stale or was edited by hand: run `dvc repro document`"
    )
