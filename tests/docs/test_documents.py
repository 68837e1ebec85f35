"""The model card and the datasheet: complete, true to their sources, self-contained, stable.

Every figure in a document is a :class:`~loanrisk.docs.ledger.Fact` naming the file and the
path it was read from; these tests resolve each one against the files the workspace holds
(read here independently of the documents' code), redo every derived figure (intervals,
counts, differences, margins) another way, and scan a marked rendering for any number that
did not come through the ledger.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from scipy.stats import binomtest

from loanrisk import paths
from loanrisk.config import SCENARIOS
from loanrisk.data import generator, scenarios
from loanrisk.data.contract import contract_for, contract_json_schema
from loanrisk.docs import context
from loanrisk.docs.analysis import behaviour_margin, closest_to_failing, wilson_interval
from loanrisk.docs.card import model_card
from loanrisk.docs.datasheet import datasheet
from loanrisk.docs.ledger import DERIVED, MARK_CLOSE, MARK_OPEN, Fact
from loanrisk.docs.problem import problem_page
from loanrisk.docs.render import slug
from loanrisk.docs.template import Page
from tests.docs.conftest import ROOT, Store, Workspace, candidate_store, copy_workspace
from tests.docs.pages import body, table, titles

MITCHELL = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
)
"""The sections of Mitchell et al. (2019), in their order."""
CARD_EXTRAS = (
    "Gate verdict",
    "Where the model will fail",
    "Monitoring in production",
    "Provenance and sources",
)
GEBRU = (
    "Motivation",
    "Composition",
    "Collection process",
    "Preprocessing, cleaning and labelling",
    "Uses",
    "Distribution",
    "Maintenance",
)
"""The sections of Gebru et al., in their order."""

ALLOWED = ("95%", "SHA-256", "MD5", "F1", "Apache-2.0")
"""Digits the documents may write themselves: names and the stated confidence level."""


@pytest.fixture(params=["loans", "churn"])
def workspace(request: pytest.FixtureRequest) -> Workspace:
    ws: Workspace = request.getfixturevalue(f"{request.param}_workspace")
    return ws


def render(ws: Workspace, mark: bool = False) -> dict[str, Page]:
    return {
        "card": model_card(ws.project, ws.reports, mark),
        "datasheet": datasheet(ws.project, ws.reports, mark),
    }


_RENDERED: dict[tuple[Path, bool], dict[str, Page]] = {}


def documents(ws: Workspace, mark: bool = False) -> dict[str, Page]:
    """The workspace's documents, rendered once per session (documents are immutable)."""
    key = (ws.root, mark)
    if key not in _RENDERED:
        _RENDERED[key] = render(ws, mark)
    return _RENDERED[key]


# -- the truth, read independently ------------------------------------------------------------


def independent_data_facts(ws: Workspace) -> dict[str, Any]:
    """What the datasheet's data figures must be, computed here with other pandas calls."""
    frame, dataset = ws.frame, ws.project.dataset
    label = frame[dataset.label.column]
    known = label.dropna()

    def by(keys: pd.Series) -> list[dict[str, Any]]:
        table = pd.DataFrame({"key": keys, "label": label})
        out = []
        for key, part in table.groupby("key", sort=True):
            labelled = part["label"].dropna()
            out.append(
                {
                    "period": str(key),
                    "rows": len(part),
                    "labelled": len(labelled),
                    "positive_rate": float(labelled.mean()) if len(labelled) else None,
                }
            )
        return out

    groups = {}
    for group in dataset.fairness_groups:
        keys = dataset.group(frame, group)
        groups[group] = {
            row["period"]: {
                "rows": row["rows"],
                "share": row["rows"] / len(frame),
                "labelled": row["labelled"],
                "positive_rate": row["positive_rate"],
            }
            for row in by(keys)
        }
    facts: dict[str, Any] = {
        "rows": frame.shape[0],
        "columns": frame.shape[1],
        "label": {
            "labelled": known.size,
            "unlabelled": int(label.isna().sum()),
            "positive": int((known == 1).sum()),
            "negative": int((known == 0).sum()),
            "positive_rate": float(known.mean()),
        },
        "missing": {
            c: {"nulls": int(frame[c].isna().sum()), "share": float(frame[c].isna().mean())}
            for c in frame.columns
        },
        "groups": groups,
        "time_range": None,
    }
    if dataset.timestamp is not None:
        stamps = frame[dataset.timestamp.column]
        facts["time_range"] = {"first": str(stamps.min()), "last": str(stamps.max())}
        facts["years"] = by(stamps.dt.year.astype(str))
        facts["months"] = by(stamps.dt.to_period("M").astype(str))
    return facts


def truth(ws: Workspace) -> dict[str, Any]:
    """Every source a fact may name, read from the workspace's files or the code's constants."""
    params = ws.project.params
    schema = contract_for(ws.project.dataset, params.data.as_of, params.contract.max_staleness_days)
    json_schema = contract_json_schema(schema)
    found: dict[str, Any] = {path: ws.read(path) for path in context.REPORTS}
    found[paths.PARAMS] = yaml.safe_load((ws.root / paths.PARAMS).read_text())
    found[params.data.declaration] = yaml.safe_load((ws.root / params.data.declaration).read_text())
    found[paths.VALIDATED] = independent_data_facts(ws)
    found[context.CONTRACT] = {
        "columns": {
            name: {**json_schema["properties"][name], "dtype": str(column.dtype)}
            for name, column in schema.columns.items()
        },
        "row_rules": json_schema["x-row-rules"],
    }
    found[context.GENERATOR] = {
        "base_log_odds": generator.BASE_LOG_ODDS,
        "numeric_effects": {
            k: {"coefficient": c, "unit": u} for k, (c, u) in generator.NUMERIC_EFFECTS.items()
        },
        "category_effects": generator.CATEGORY_EFFECTS,
        "interactions": {
            k: {"coefficient": c, "description": d} for k, (c, d) in generator.INTERACTIONS.items()
        },
        "no_direct_effect": list(generator.NO_DIRECT_EFFECT),
    }
    recession = scenarios.shift_for("recession")
    found[context.SCENARIOS] = {
        "names": list(SCENARIOS),
        "shifts": {
            "recession": {
                "income_factor": recession.income_factor,
                "unemployment_boost": recession.unemployment_boost,
                "base_log_odds": recession.base_log_odds,
            }
        },
        "new_purpose": scenarios.NEW_PURPOSE,
        "new_category_share": scenarios.NEW_CATEGORY_SHARE,
        "null_feed_share": scenarios.NULL_FEED_SHARE,
        "null_feed_columns": list(scenarios.NULL_FEED_COLUMNS),
    }
    return found


def resolve(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def margin_from(name: str, detail: str) -> float:
    """A behavioural test's margin from its detail text, read another way than the card's."""
    numbers = [float(x) for x in re.findall(r"[+-]?\d+\.\d+", detail)]
    if "(at least" in detail:
        return numbers[0] - numbers[1]
    if "(at most" in detail:
        return numbers[1] - numbers[0]
    score, threshold = numbers[0], numbers[1]
    return score - threshold if "not_approved" in name else threshold - score


def redo(fact: Fact, found: dict[str, Any], ws: Workspace) -> Any:
    """A derived figure computed again from the inputs the fact names."""
    if fact.how == "difference":
        (a_src, a_path), (b_src, b_path) = fact.inputs
        return resolve(found[a_src], a_path) - resolve(found[b_src], b_path)
    if fact.how == "count":
        source, actual, decision = fact.inputs
        rows = found[source]
        return sum(r["actual"] == actual and r["decision"] == decision for r in rows)
    if fact.how in ("approved", "wilson"):
        (r_src, r_path), (n_src, n_path) = fact.inputs
        rate, n = resolve(found[r_src], r_path), resolve(found[n_src], n_path)
        k = round(rate * n)
        if fact.how == "approved":
            return k
        interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return (interval.low, interval.high)
    if fact.how == "length":
        ((source, path),) = fact.inputs
        return len(resolve(found[source], path))
    if fact.how == "margin":
        name, detail = fact.inputs
        return margin_from(name, detail)
    raise AssertionError(f"no way to check a derived figure made by {fact.how!r}")


def visible_markdown(markdown: str) -> str:
    return markdown.replace("\\<", "<").replace("\\|", "|")


def visible_html(page: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", page))


# -- sections ---------------------------------------------------------------------------------


def test_the_card_has_every_section_of_a_model_card(workspace: Workspace) -> None:
    card = documents(workspace)["card"]
    markdown, page = card.markdown, card.html
    top = titles(markdown, 2)
    assert [t for t in top if t in MITCHELL] == list(MITCHELL)
    assert set(CARD_EXTRAS) <= set(top)
    assert {"Primary uses", "Primary users", "Out-of-scope uses"} <= set(titles(markdown))
    assert {"Relevant groups", "Instrumentation", "Environment"} <= set(titles(markdown))
    for title in (*MITCHELL, *CARD_EXTRAS):
        assert f"\n## {title}\n" in markdown
        assert f'<h2 id="{slug(title)}">{title}</h2>' in page


def test_the_datasheet_has_every_section_of_a_datasheet(workspace: Workspace) -> None:
    sheet = documents(workspace)["datasheet"]
    markdown, page = sheet.markdown, sheet.html
    assert [t for t in titles(markdown, 2) if t in GEBRU] == list(GEBRU)
    for title in GEBRU:
        assert f"\n## {title}\n" in markdown
        assert f'<h2 id="{slug(title)}">{title}</h2>' in unescape(page)


def test_the_card_shows_where_it_will_fail_and_the_verdict(loans_workspace: Workspace) -> None:
    ws = loans_workspace
    card = documents(ws)["card"].markdown
    verdict = ws.read(paths.VERDICT)
    criteria = table(card, "criterion")
    assert [row[0].strip("`") for row in criteria.rows] == [c["name"] for c in verdict["criteria"]]
    assert criteria.column("why") == [c["why"] for c in verdict["criteria"]]
    slices = ws.read(paths.METRICS)["candidate"]["slices"]
    measured = sorted(
        (row["roc_auc"], slicing, group)
        for slicing, groups in slices.items()
        for group, row in groups.items()
        if row["roc_auc"] is not None
    )
    weakest = {(f"`{s}`", g) for _, s, g in measured[:3]}
    assert weakest <= {(row[0], row[1]) for row in table(card, "slicing", "group").rows}
    behaviour = ws.read(paths.METRICS)["candidate"]["behaviour"]
    tests = table(card, "test", "kind").column("test")
    assert sorted(t.strip("`") for t in tests) == sorted(behaviour)


# -- figures are the sources' figures ---------------------------------------------------------


def test_every_figure_equals_the_value_in_its_source(workspace: Workspace) -> None:
    found = truth(workspace)
    for name, document in documents(workspace).items():
        assert document.facts, name
        markdown = visible_markdown(document.markdown)
        page = visible_html(document.html)
        for fact in document.facts:
            where = f"{name}: {fact.source} {fact.path} {fact.how}"
            if fact.kind == "derived":
                assert fact.source == DERIVED
                assert same(fact.value, redo(fact, found, workspace)), where
            elif fact.kind == "key":
                assert fact.path[-1] in resolve(found[fact.source], fact.path[:-1]), where
            else:
                assert same(fact.value, resolve(found[fact.source], fact.path)), where
            assert fact.text in markdown, where
            assert fact.text in page, where


def test_no_figure_is_typed_by_hand(workspace: Workspace) -> None:
    plain = documents(workspace)
    for name, document in documents(workspace, mark=True).items():
        marked = document.markdown
        assert marked.replace(MARK_OPEN, "").replace(MARK_CLOSE, "") == plain[name].markdown
        # The front matter is data for machines, checked against its sources on its own
        # (test_the_cards_front_matter_is_what_the_hub_reads).
        marked = body(marked)
        rest = re.sub(f"{MARK_OPEN}[^{MARK_OPEN}{MARK_CLOSE}]*{MARK_CLOSE}", "", marked)
        rest = re.sub(r"\]\([^)]*\)", "]", rest)  # link targets are addresses, not figures
        for allowed in ALLOWED:
            rest = rest.replace(allowed, "")
        assert [line for line in rest.splitlines() if re.search(r"\d", line)] == [], name


def test_tables_hold_the_reports_figures(loans_workspace: Workspace) -> None:
    ws = loans_workspace
    metrics = ws.read(paths.METRICS)
    card = documents(ws)["card"].markdown
    overall = table(card, "model", "ROC-AUC")
    for row in overall.rows:
        model = row[0].strip("*")
        test = metrics[model]["test"]
        assert row[1:2] + row[3:] == (
            f"{test['roc_auc']:.4f}",
            f"{test['pr_auc']:.4f}",
            f"{test['brier']:.4f}",
            f"{test['log_loss']:.4f}",
            f"{test['ece']:.4f}",
        )
        ci = metrics[model]["roc_auc_ci95"]
        assert row[2] == f"[{ci['low']:.4f}, {ci['high']:.4f}]"
    fairness = metrics["candidate"]["fairness"]["sex"]
    for group, rows, approved, rate, interval in table(card, "`sex`", "rows", "approved").rows:
        n = fairness["count_by_group"][group]
        k = round(fairness["approval_rate_by_group"][group] * n)
        low, high = binomtest(k, n).proportion_ci(method="wilson")
        assert (rows, approved, rate) == (
            f"{n:,}",
            f"{k:,}",
            f"{fairness['approval_rate_by_group'][group]:.1%}",
        )
        assert interval == f"[{low:.3f}, {high:.3f}]"
    sheet = documents(ws)["datasheet"].markdown
    columns = table(sheet, "column", "role")
    assert [c.strip("`") for c in columns.column("column")] == list(ws.project.dataset.all_columns)
    assert set(ws.project.dataset.all_columns) == set(ws.frame.columns)
    declared = yaml.safe_load((ws.root / "datasets/loans.yaml").read_text())["features"]
    ranges = dict(zip(columns.column("column"), columns.column("range or values"), strict=True))
    low, high = declared["income"]["range"]
    assert ranges["`income`"] == f"[{low}, {high}]"
    balance = dict(table(sheet, "`defaulted`", "rows").rows)
    assert balance["labelled"] == f"{int(ws.frame['defaulted'].notna().sum()):,}"


def test_the_datasheet_prints_the_generators_causal_structure_only_for_its_data(
    loans_workspace: Workspace, churn_workspace: Workspace
) -> None:
    loans = documents(loans_workspace)["datasheet"].markdown
    assert {"Causal structure", "Scenarios"} <= set(titles(loans))
    effects = dict(table(loans, "column", "effect on log-odds").rows[i][:2] for i in range(3))
    for name, (coefficient, _) in list(generator.NUMERIC_EFFECTS.items())[:3]:
        assert effects[f"`{name}`"] == f"{coefficient:+.2f}"
    churn = documents(churn_workspace)["datasheet"].markdown
    assert not {"Causal structure", "Scenarios"} & set(titles(churn))
    assert "Not recorded" in churn


# -- the HTML stands alone --------------------------------------------------------------------


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_the_html_is_self_contained(workspace: Workspace) -> None:
    for name, document in documents(workspace).items():
        page = document.html
        parser = Tags()
        parser.feed(page)
        names = [tag for tag, _ in parser.tags]
        assert not {"script", "link", "iframe", "object", "embed", "base"} & set(names), name
        assert "@import" not in page and "url(" not in page
        images = [attrs for tag, attrs in parser.tags if tag == "img"]
        assert len(images) == len(document.figures) > 0
        for attrs in images:
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,"), name
            assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
            assert attrs.get("alt")
        for tag, attrs in parser.tags:
            if "src" in attrs:
                assert tag == "img"
            href = attrs.get("href")
            if href is not None:
                assert tag == "a", name  # a plain link, never a resource the page loads
                assert href.startswith(("#", "../", "https://")), href


# -- stable, and responsive to its inputs -----------------------------------------------------


def test_rendering_twice_gives_the_same_bytes(workspace: Workspace) -> None:
    first, second = documents(workspace), render(workspace)
    for name in first:
        assert first[name].markdown == second[name].markdown
        assert first[name].html == second[name].html


@dataclass(frozen=True)
class Staged:
    """The stage run once in a copy of the loans workspace, against a store of its own."""

    root: Path
    store: Store
    done: subprocess.CompletedProcess[str]


def run_stage(root: Path, store: Store) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "pipelines/document.py")],
        cwd=root,
        env=store.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def staged(loans_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Staged:
    root = copy_workspace(loans_workspace, tmp_path_factory.mktemp("staged") / "project")
    store = candidate_store(root.parent, loans_workspace)
    return Staged(root, store, run_stage(root, store))


def stage_outputs(ws: Workspace) -> dict[str, str]:
    """What the stage must write, rendered here in this process."""
    name, dataset = ws.project.registered_model, ws.project.dataset.name
    rendered = documents(ws)
    problem = problem_page(ws.project)
    return {
        str(paths.card(name, "md")): rendered["card"].markdown,
        str(paths.card(name, "html")): rendered["card"].html,
        str(paths.datasheet(dataset, "md")): rendered["datasheet"].markdown,
        str(paths.datasheet(dataset, "html")): rendered["datasheet"].html,
        paths.PROBLEM: problem.markdown,
        paths.PROBLEM_HTML: problem.html,
    }


def test_the_stage_writes_the_same_bytes_in_another_process(
    loans_workspace: Workspace, staged: Staged
) -> None:
    assert staged.done.returncode == 0, staged.done.stderr
    for path, text in stage_outputs(loans_workspace).items():
        assert (staged.root / path).read_text() == text, path


def test_the_stage_writes_nothing_to_the_store(staged: Staged) -> None:
    """Rendering is a function of the repository's files: logging the documents to the
    candidate's run is the release's (`tests/registry/test_release.py`)."""
    assert staged.done.returncode == 0, staged.done.stderr
    client = staged.store.client()
    logged = [
        item.path
        for folder in (paths.MODEL_CARDS, paths.DATASHEETS)
        for item in client.list_artifacts(staged.store.run_id, folder)
    ]
    assert logged == []


def test_the_stage_says_in_one_line_which_report_is_missing(
    loans_workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_workspace(loans_workspace, tmp_path / "project")
    (root / paths.VERDICT).unlink()
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(ROOT / "pipelines"))
    # The stage's first import pins OPENBLAS_CORETYPE in os.environ; undone after the test,
    # or every process this worker starts later (another test's child fitting a model to
    # compare bytes with this one's) would run other BLAS kernels than this process does.
    monkeypatch.setenv("OPENBLAS_CORETYPE", os.environ.get("OPENBLAS_CORETYPE", "Haswell"))
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(ROOT / "pipelines/document.py"), run_name="__main__")
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "verdict.json" in error
    assert not (root / paths.MODEL_CARDS).exists()


def test_changing_a_figure_in_a_report_changes_the_card(loans_workspace: Workspace) -> None:
    ws = loans_workspace
    before = model_card(ws.project, ws.reports).markdown
    reports = copy.deepcopy(ws.reports)
    reports[paths.METRICS]["candidate"]["test"]["roc_auc"] = 0.51234
    after = model_card(ws.project, reports)
    assert after.markdown != before
    assert table(after.markdown, "model", "ROC-AUC").rows[0][1] == "0.5123"
    reports[paths.VALIDATED]["rows"] = 123456
    assert "123,456" in datasheet(ws.project, reports).markdown


def test_the_monitoring_section_quotes_the_monitors_decision(loans_workspace: Workspace) -> None:
    ws = loans_workspace
    monitoring = ws.read(paths.DRIFT)
    card = documents(ws)["card"].markdown
    months = table(card, "month", "rows")
    assert months.column("month") == [m["month"] for m in monitoring["months"]]
    matured = [m for m in monitoring["months"] if m["outcomes_known"]]
    assert matured and len(matured) < len(monitoring["months"])  # both kinds of month shown
    assert months.column("ROC-AUC")[: len(matured)] == [
        f"{m['quality']['roc_auc']:.3f}" for m in matured
    ]
    assert set(months.column("ROC-AUC")[len(matured) :]) == {"n/a"}
    # A retraining recommendation and a broken feed are quoted, reasons word for word.
    reports = copy.deepcopy(ws.reports)
    decision = reports[paths.DRIFT]["decision"]
    decision.update(
        retrain=True,
        reasons=["drift in 2 month(s) from 2024-03 (income)"],
        feed_problems={"employment_years": ["2024-02", "2024-04"]},
    )
    markdown = model_card(ws.project, reports).markdown
    assert "**retrain recommended**" in markdown
    assert "- drift in 2 month(s) from 2024-03 (income)\n" in markdown
    assert "`employment_years` in 2024-02, 2024-04" in markdown


def test_a_card_without_a_production_window_says_why(churn_workspace: Workspace) -> None:
    text = documents(churn_workspace)["card"].markdown
    section = text.split("\n## Monitoring in production\n", 1)[1].split("\n## ", 1)[0]
    assert churn_workspace.read(paths.DRIFT)["skipped"] in section


def test_a_failing_behavioural_test_is_named_closest_to_failing(
    loans_workspace: Workspace,
) -> None:
    ws = loans_workspace
    reports = copy.deepcopy(ws.reports)
    behaviour = reports[paths.METRICS]["candidate"]["behaviour"]
    name = next(n for n, r in behaviour.items() if r["kind"] == "invariance")
    behaviour[name] = {
        "kind": "invariance",
        "passed": False,
        "detail": "average change 0.0300 (at most 0.014); largest 0.0900",
    }
    markdown = model_card(ws.project, reports).markdown
    assert f"Closest to failing: `{name}`, margin -0.0160." in markdown


def test_margins_agree_with_the_reports_pass_or_fail(workspace: Workspace) -> None:
    behaviour = workspace.read(paths.METRICS)["candidate"]["behaviour"]
    ranked = closest_to_failing(behaviour)
    assert ranked
    for name, margin in ranked:
        assert (margin.margin >= 0) == behaviour[name]["passed"], name


# -- the computations -------------------------------------------------------------------------


def test_wilson_interval_matches_scipy_and_stays_inside_zero_and_one() -> None:
    for k, n in ((50, 100), (0, 12), (12, 12), (381, 692)):
        expected = binomtest(k, n).proportion_ci(method="wilson")
        assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)
    low, high = wilson_interval(0, 5)
    assert low == 0.0 and 0 < high < 1


def test_behaviour_margins_are_read_from_each_kind_of_detail() -> None:
    cases = {
        "higher_x_never_raises_risk": (
            "average change in the expected direction -0.0070 (at least -0.005); worst row",
            -0.002,
        ),
        "x_barely_changes_the_score": ("average change 0.0100 (at most 0.014); largest 0.1", 0.004),
        "a_safe_applicant_is_approved": ("score 0.200 vs threshold 0.167", -0.033),
        "a_risky_applicant_is_not_approved": ("score 0.980 vs threshold 0.167", 0.813),
    }
    for name, (detail, expected) in cases.items():
        margin = behaviour_margin(name, detail)
        assert margin is not None and margin.margin == pytest.approx(expected), name
    assert behaviour_margin("the_risky_applicant_scores_above_the_safe_one", "0.9 vs 0.1") is None


def test_the_workspace_is_the_pipelines_own_output(loans_workspace: Workspace) -> None:
    """The fixture quotes real report shapes: if a stage changes what it writes, the
    documents' tests see it."""
    validation = loans_workspace.read(paths.VALIDATION)
    assert validation["rows_quarantined"] == 3 and validation["failures"]
    assert json.loads((loans_workspace.root / paths.SPLIT_REPORT).read_text())["strategy"]


def test_a_rate_at_the_edge_of_its_interval_still_plots() -> None:
    from loanrisk.docs import plots

    # An approval rate of exactly 1 whose interval's upper bound rounds just below it: the
    # worse-candidate pipeline test met this; the figure must still render.
    figure = plots.group_rates_figure({"sex": [("female", 1.0, 0.99, 1.0 - 1e-12)]}, "rate")
    assert figure.startswith(b"\x89PNG")
