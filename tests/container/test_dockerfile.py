"""The Dockerfile and what it installs, checked without building: hadolint passes, the image
installs the serving lock (not the development one), and that lock pins only what serving
needs at the versions and hashes requirements.lock pins. Runs in `make test`; hadolint comes
from `make container-tools` (the test skips, saying so, without it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Development, pipeline and plotting tools: none belongs in the serving image.
FORBIDDEN = {
    "pytest", "pytest-xdist", "hypothesis", "mypy", "ruff", "dvc", "matplotlib", "fairlearn",
    "mlflow", "flask", "typer", "uv",
}  # fmt: skip
Pins = dict[str, tuple[str, set[str]]]


def pins(text: str) -> Pins:
    """Package -> (version, hashes) of a `uv pip compile --generate-hashes` file."""
    found: Pins = {}
    name = ""
    for line in text.splitlines():
        if match := re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line):
            name = match.group(1).lower().replace("_", "-")
            found[name] = (match.group(2), set())
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            found[name][1].add(digest)
    return found


def lock_problems(serving: str, full: str, wanted: str) -> list[str]:
    """What is wrong with the serving lock against requirements.lock and requirements.in."""
    served, locked = pins(serving), pins(full)
    problems = [
        f"{name} must not be in the serving image" for name in sorted(FORBIDDEN & {*served})
    ]
    for name, (version, hashes) in sorted(served.items()):
        if name not in locked:
            problems.append(f"{name} is not in requirements.lock")
        elif locked[name][0] != version:
            problems.append(f"{name}=={version}, requirements.lock has {locked[name][0]}")
        elif not hashes or not hashes <= locked[name][1]:
            problems.append(f"{name}: hashes missing or not requirements.lock's")
    for line in wanted.splitlines():
        name = re.split(r"[<>=;\s\[#]", line.strip(), maxsplit=1)[0].lower()
        if name and name not in served:
            problems.append(f"{name} (serving/requirements.in) is not in the lock: make lock-serve")
    return problems


def read(name: str) -> str:
    return (ROOT / name).read_text()


def test_the_serving_lock_pins_only_serving_at_the_tested_versions() -> None:
    serving, wanted = read("serving/requirements.lock"), read("serving/requirements.in")
    assert lock_problems(serving, read("requirements.lock"), wanted) == []


def test_a_serving_lock_that_drifts_from_requirements_lock_is_refused() -> None:
    serving = read("serving/requirements.lock")
    numpy = pins(serving)["numpy"][0]
    broken = serving.replace(f"numpy=={numpy}", "numpy==0.0.1") + "dvc==3.67.1 \\\n"
    problems = lock_problems(broken, read("requirements.lock"), read("serving/requirements.in"))
    assert "numpy==0.0.1, requirements.lock has " + numpy in problems
    assert "dvc must not be in the serving image" in problems
    problems = lock_problems(serving, read("requirements.lock"), "httpx>=0.28\n")
    assert problems == ["httpx (serving/requirements.in) is not in the lock: make lock-serve"]


def dockerfile_problems(text: str) -> list[str]:
    """The Dockerfile's promises: base as an argument, the serving lock, non-root, a HEALTHCHECK."""
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    runtime = text.rsplit("\nFROM ", 1)[-1]
    problems = []
    if "ARG BASE=python:3.11-slim" not in text:
        problems.append("the base is not the build argument BASE (python:3.11-slim)")
    if text.count("\nFROM ") < 2:
        problems.append("not multi-stage")
    if "requirements.lock" in text.replace("serving/requirements.lock", ""):
        problems.append("installs requirements.lock (the development lock)")
    users = re.findall(r"^USER (\S+)", runtime, flags=re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the runtime stage runs as root")
    if not re.search(r"^HEALTHCHECK .*\n?.*health/ready", runtime, flags=re.M):
        problems.append("no HEALTHCHECK on /health/ready")
    return problems


def test_the_dockerfile_keeps_its_promises() -> None:
    assert dockerfile_problems(read("Dockerfile")) == []


def test_a_dockerfile_that_breaks_them_is_refused() -> None:
    broken = read("Dockerfile").replace("serving/requirements.lock", "requirements.lock")
    broken = re.sub(r"^USER .*$", "USER root", broken, flags=re.M)
    assert dockerfile_problems(broken) == [
        "installs requirements.lock (the development lock)",
        "the runtime stage runs as root",
    ]


def test_the_build_context_leaves_out_the_venv_the_data_and_the_store() -> None:
    ignore = read(".dockerignore").splitlines()
    assert ignore[ignore.index("*") :].count("*") == 1, ".dockerignore should start from nothing"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+) /\S+$", read("Dockerfile"), flags=re.M))
    sources = {path.rstrip("/") for line in copied for path in line.split()}
    assert sources <= allowed | {"serving/requirements.lock"}, sources - allowed
    assert not allowed & {".venv", "data", ".git", "mlflow.db", "mlartifacts", "tests"}


def hadolint() -> str:
    found = shutil.which("hadolint") or ROOT / ".venv-container" / "bin" / "hadolint"
    if not Path(found).exists():
        pytest.skip("hadolint is not installed: `make container-tools` installs it")
    return str(found)


def test_hadolint_passes_the_dockerfile() -> None:
    result = subprocess.run([hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = subprocess.run([hadolint(), str(careless)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag
