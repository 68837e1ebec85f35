"""The Prometheus rules, alerts and Grafana dashboard under serving/: valid, unit-tested, and
in step with params.yaml and with the metrics the service really exports.

PromQL cannot read params.yaml, so the thresholds are literals in the rules; these tests are
what keeps the two from drifting apart. Whether the recording rules compute the library's PSI
is checked against a real Prometheus in test_prometheus_live.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from loanrisk.config import Params
from serving.app import create_app
from serving.monitor import MIN_OUTCOMES
from tests.helpers import (
    DASHBOARD,
    PROMETHEUS,
    RULE_FILES,
    Store,
    application,
    dashboard_queries,
    settings,
)


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    return found


def run(*command: str | Path, cwd: Path = PROMETHEUS) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rules() -> dict[str, dict[str, Any]]:
    """Every recording and alerting rule of the project, by record or alert name."""
    found: dict[str, dict[str, Any]] = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found[rule.get("record") or rule["alert"]] = rule
    return found


def comparisons(expr: str) -> list[tuple[str, float]]:
    """The ``operator number`` filters of an expression, in order."""
    return [(op, float(n)) for op, n in re.findall(r"(>=|<=|==|!=|>|<)\s*(\d[\d.]*)", expr)]


def literals(expr: str) -> list[float]:
    """The numbers of an expression, outside label matchers and range selectors."""
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]', "", expr)
    return [float(n) for n in re.findall(r"(?<![\w.:])\d+(?:\.\d+)?(?![\w.:])", bare)]


def metric_names(expr: str) -> set[str]:
    """The project's metrics and recorded series an expression reads."""
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\{[^}]*\}', "", expr)
    return {name for name in re.findall(r"[A-Za-z_:][\w:]*", bare) if "loanrisk" in name}


def test_the_config_and_every_rule_pass_promtool_check() -> None:
    out = run(promtool(), "check", "config", PROMETHEUS / "prometheus.yml")
    assert "2 rule files found" in out  # `check config` checks the rule files it loads


def test_the_rules_pass_their_unit_tests() -> None:
    out = run(promtool(), "test", "rules", "rules_test.yml")
    assert "SUCCESS" in out


def test_the_rules_use_the_pseudo_count_and_thresholds_of_params_yaml(params: Params) -> None:
    monitor, gate = params.monitor, params.gate
    found = rules()
    smoothing = found["feature_bin:loanrisk_drift_current_share:window"]["expr"]
    assert literals(smoothing) == [monitor.pseudo_count, monitor.pseudo_count]
    expected = {
        "LoanriskFeatureDrift": [(">=", monitor.psi_threshold), (">=", monitor.min_rows)],
        "LoanriskScoreDrift": [(">=", monitor.score_psi_threshold), (">=", monitor.min_rows)],
        "LoanriskLiveCalibration": [(">", gate.max_ece), (">=", MIN_OUTCOMES)],
        "LoanriskLiveRocAuc": [("<", gate.min_roc_auc), (">=", MIN_OUTCOMES)],
        "LoanriskApprovalDisparity": [("<", gate.min_four_fifths_ratio), (">=", MIN_OUTCOMES)],
    }
    for alert, filters in expected.items():
        assert comparisons(found[alert]["expr"]) == filters, alert
    gated = re.findall(r'attribute=~"([^"]*)"', found["LoanriskApprovalDisparity"]["expr"])
    assert set(gated) == {"|".join(gate.fairness_attributes)}


def test_the_drift_window_is_one_literal() -> None:
    """serving/prometheus/README.md tells a user to change the window in this one place."""
    text = (PROMETHEUS / "rules.yml").read_text()
    drift = yaml.safe_load(text)["groups"][0]
    windows = [w for rule in drift["rules"] for w in re.findall(r"\[\w+\]", rule["expr"])]
    assert windows == ["[1h]"] and text.count("[1h]") == 1


def test_every_alert_says_what_happened_and_what_to_do() -> None:
    alerts = {name: rule for name, rule in rules().items() if "alert" in rule}
    assert len(alerts) >= 8
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and len(rule["annotations"]["runbook"]) > 40, name


@pytest.fixture()
def exposition(store: Store, tmp_path: Path, splits: dict[str, pd.DataFrame]) -> Iterator[str]:
    """The service's /metrics after a prediction, a refused request and an outcome."""
    with TestClient(create_app(settings(store, tmp_path))) as client:
        body = client.post("/predict", json=application(splits["test"], 0)).json()
        client.post("/predict", json=application(splits["test"], 1, income=-5))
        client.post("/feedback", json={"id": body["predictions"][0]["id"], "outcome": 1})
        yield client.get("/metrics").text


def test_the_rules_and_the_dashboard_read_only_metrics_that_exist(exposition: str) -> None:
    exported = {s.name for f in text_string_to_metric_families(exposition) for s in f.samples}
    recorded = {name for name, rule in rules().items() if "record" in rule}
    for expr in [rule["expr"] for rule in rules().values()] + dashboard_queries():
        unknown = metric_names(expr) - exported - recorded
        assert not unknown, f"{sorted(unknown)} in {expr}"


def test_the_dashboard_parses_and_its_queries_are_valid_promql(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"].strip("${}") in variables, panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
    titles = " ".join(p["title"] for p in panels).lower()
    for subject in ("requests", "latency", "5xx", "psi", "decisions by model version", "roc-auc"):
        assert subject in titles
    # promtool parses PromQL only inside rules: each query becomes a recording rule.
    checks = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, expr in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": checks}]}))
    run(promtool(), "check", "rules", path)
