"""compose.yaml's Grafana and Prometheus wiring, checked statically: Grafana has no Debian
package and no registry is reachable here, so `make stack-test` does not start it. The
provisioned data source must be the composed Prometheus, the dashboard provider must read
the folder compose.yaml mounts the dashboard into, and every dashboard query must read a
metric the service defines or a recording rule (tests/serving/test_prometheus_rules.py checks
the same against a live exposition). The composed Prometheus configuration must load the
service's rule files and scrape the API by its compose name. Runs in `make test`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import DASHBOARD, PROMETHEUS, ROOT, dashboard_queries

PROVISIONING = ROOT / "serving" / "grafana" / "provisioning"
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def service_mounts(compose: dict[str, Any], service: str) -> dict[str, str]:
    """Container path -> host path (relative to the project) of a service's bind mounts."""
    mounts = {}
    for volume in compose["services"][service].get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith("./"):
            mounts[container] = host.removeprefix("./")
    return mounts


def grafana_problems(
    compose: dict[str, Any], datasources: dict[str, Any], providers: dict[str, Any]
) -> list[str]:
    problems = []
    mounts = service_mounts(compose, "grafana")
    if mounts.get("/etc/grafana/provisioning") != "serving/grafana/provisioning":
        problems.append("compose.yaml does not mount serving/grafana/provisioning")
    if datasources.get("apiVersion") != 1 or providers.get("apiVersion") != 1:
        problems.append("provisioning files must say apiVersion: 1")
    prometheus = [d for d in datasources.get("datasources", []) if d.get("type") == "prometheus"]
    if len(prometheus) != 1 or not prometheus[0].get("isDefault"):
        problems.append("one default data source of type prometheus is needed")
    else:
        port = compose["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]
        if prometheus[0].get("url") != f"http://prometheus:{port}":
            problems.append(f"the data source is {prometheus[0].get('url')}, not the composed one")
    files = [p for p in providers.get("providers", []) if p.get("type") == "file"]
    if len(files) != 1:
        problems.append("one dashboard provider of type file is needed")
    else:
        folder = files[0].get("options", {}).get("path", "")
        served = {c for c, h in mounts.items() if h == "serving/grafana/loanrisk.json"}
        if not any(Path(c).parent == Path(folder) for c in served):
            problems.append(f"the provider reads {folder}, where compose.yaml mounts no dashboard")
    return problems


def dashboard_problems(dashboard: dict[str, Any], queries: list[str]) -> list[str]:
    problems = []
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables.get("datasource", {})
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append("the dashboard's datasource variable must pick a Prometheus source")
    defined = set(re.findall(r'"(loanrisk_\w+)"', (ROOT / "serving" / "metrics.py").read_text()))
    rules = [rule for group in load(PROMETHEUS / "rules.yml")["groups"] for rule in group["rules"]]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    for expr in queries:
        bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\{[^}]*\}', "", expr)
        for name in set(re.findall(r"[A-Za-z_:][\w:]*", bare)):
            if "loanrisk" not in name or name in recorded:
                continue
            base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
            if base not in defined and name not in defined:
                problems.append(f"{name} is neither a metric of the service nor a recorded rule")
    return problems


def compose_file() -> dict[str, Any]:
    compose: dict[str, Any] = load(ROOT / "compose.yaml")
    return compose


def test_grafana_is_provisioned_with_the_composed_prometheus_and_the_dashboard() -> None:
    problems = grafana_problems(
        compose_file(),
        load(PROVISIONING / "datasources" / "prometheus.yml"),
        load(PROVISIONING / "dashboards" / "loanrisk.yml"),
    )
    assert problems == []


def test_broken_provisioning_is_refused() -> None:
    compose = compose_file()
    compose["services"]["grafana"]["volumes"] = [
        "./serving/grafana/provisioning:/etc/grafana/provisioning:ro",
        "./serving/grafana/loanrisk.json:/dashboards/loanrisk.json:ro",
    ]
    datasources = load(PROVISIONING / "datasources" / "prometheus.yml")
    datasources["datasources"][0]["url"] = "http://127.0.0.1:9090"
    problems = grafana_problems(compose, datasources, {"apiVersion": 1, "providers": []})
    assert problems == [
        "the data source is http://127.0.0.1:9090, not the composed one",
        "one dashboard provider of type file is needed",
    ]
    providers = load(PROVISIONING / "dashboards" / "loanrisk.yml")
    assert grafana_problems(
        compose, load(PROVISIONING / "datasources" / "prometheus.yml"), providers
    ) == ["the provider reads /var/lib/grafana/dashboards, where compose.yaml mounts no dashboard"]


def test_every_panel_reads_a_metric_of_the_service_or_a_recording_rule() -> None:
    assert dashboard_problems(json.loads(DASHBOARD.read_text()), dashboard_queries()) == []


def test_a_panel_reading_an_unknown_metric_is_refused() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [*dashboard_queries(), "sum(rate(loanrisk_predictons_total[5m]))"]
    assert dashboard_problems(dashboard, queries) == [
        "loanrisk_predictons_total is neither a metric of the service nor a recorded rule"
    ]


def test_the_composed_prometheus_loads_the_rules_and_scrapes_the_api(tmp_path: Path) -> None:
    config = load(ROOT / "serving" / "compose" / "prometheus.yml")
    compose = compose_file()
    mounts = service_mounts(compose, "prometheus")
    assert mounts["/etc/prometheus/prometheus.yml"] == "serving/compose/prometheus.yml"
    for rule_file in config["rule_files"]:
        assert mounts[f"/etc/prometheus/{rule_file}"] == f"serving/prometheus/{rule_file}"
    assert load(PROMETHEUS / "prometheus.yml")["rule_files"] == config["rule_files"]
    (target,) = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert target == "api:8000" and "api" in compose["services"]
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    for container, host in mounts.items():
        shutil.copy(ROOT / host, tmp_path / Path(container).name)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
