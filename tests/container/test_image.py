"""The serving image, running: `make image-test` builds it with podman on a local Debian base
(scripts/container/base.sh) and runs these tests against it with LOANRISK_IMAGE set.

Without LOANRISK_IMAGE (a plain `make test`) every test here skips, saying so: building the
image takes a minute and needs podman, which `make image-test` installs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT

IMAGE = os.environ.get("LOANRISK_IMAGE", "")
pytestmark = pytest.mark.skipif(
    not IMAGE or shutil.which("podman") is None,
    reason="needs a built image in LOANRISK_IMAGE and podman: run `make image-test`",
)
FORBIDDEN = ("pytest", "mypy", "ruff", "dvc", "matplotlib", "fairlearn", "flask", "hypothesis")
EXAMPLE = json.loads((ROOT / "serving" / "examples" / "application.json").read_text())


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"podman {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


class Container:
    """One `podman run -d` of the image, published on a free loopback port."""

    def __init__(self, *run_args: str) -> None:
        self.name = f"loanrisk-test-{uuid.uuid4().hex[:8]}"
        podman("run", "-d", "--name", self.name, "-p", "127.0.0.1::8000", *run_args, IMAGE)
        port = podman("port", self.name, "8000").splitlines()[0].rsplit(":", 1)[1]
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def wait(self, path: str, until: float = 90) -> httpx.Response:
        """The first answer of ``path`` (any status) once the server listens."""
        deadline = time.monotonic() + until
        while True:
            try:
                return self.get(path)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    logs = podman("logs", "--tail", "20", self.name, check=False)
                    pytest.fail(f"{self.name} never answered {path}: {logs}")
                time.sleep(0.5)

    def wait_ready(self, until: float = 90) -> httpx.Response:
        deadline = time.monotonic() + until
        while (answer := self.wait("/health/ready")).status_code != 200:
            if time.monotonic() > deadline:
                return answer
            time.sleep(0.5)
        return answer

    def remove(self) -> None:
        podman("rm", "-f", "-t", "2", self.name, check=False)


@pytest.fixture(scope="module")
def served() -> Iterator[Container]:
    container = Container()
    try:
        yield container
    finally:
        container.remove()


def tampered(tmp_path: Path) -> Path:
    """A copy of the baked-in bundle with one byte of one file changed."""
    bundle = tmp_path / "champion"
    name = f"loanrisk-copy-{uuid.uuid4().hex[:8]}"
    podman("create", "--name", name, IMAGE)
    try:
        podman("cp", f"{name}:/app/models/champion", str(bundle))
    finally:
        podman("rm", name, check=False)
    policy = bundle / "policy.json"
    policy.write_text(policy.read_text().replace("}", " }", 1))
    bundle.chmod(0o755)
    for path in bundle.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return bundle


def test_the_champion_gets_ready(served: Container) -> None:
    answer = served.wait_ready()
    assert answer.status_code == 200, answer.text
    assert answer.json()["ready"] is True


def test_an_application_gets_a_decision(served: Container) -> None:
    served.wait_ready()
    answer = httpx.post(served.url + "/predict", json=EXAMPLE, timeout=10)
    assert answer.status_code == 200, answer.text
    (prediction,) = answer.json()["predictions"]
    assert prediction["id"] == EXAMPLE["application_id"]
    assert prediction["decision"] in ("approve", "refer", "reject")
    assert 0 < prediction["probability"] < 1


def test_the_service_runs_as_an_unprivileged_user(served: Container) -> None:
    status = podman("exec", served.name, "cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids and all(uid != "0" for uid in uids), f"PID 1 runs with uids {uids}"
    # and cannot change the code it serves
    assert podman("exec", served.name, "sh", "-c", "touch /app/serving/x 2>&1; echo $?")[-1] != "0"


def test_the_healthcheck_passes_on_a_ready_service(served: Container) -> None:
    served.wait_ready()
    image = json.loads(podman("image", "inspect", IMAGE))[0]
    assert "Healthcheck" in image, "no HEALTHCHECK in the image (build with --format docker)"
    result = subprocess.run(
        ["podman", "healthcheck", "run", served.name], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_holds_no_development_or_pipeline_tools() -> None:
    probe = (
        "import importlib.util, sys; "
        f"print(' '.join(m for m in {FORBIDDEN!r} if importlib.util.find_spec(m)))"
    )
    present = podman("run", "--rm", IMAGE, "python3", "-c", probe)
    assert present == "", f"the serving image holds {present}"


def test_a_tampered_bundle_is_live_but_not_ready(tmp_path: Path) -> None:
    bundle = tampered(tmp_path)
    container = Container("-v", f"{bundle}:/app/models/champion:ro,Z")
    try:
        answer = container.wait("/health/live")
        assert answer.status_code == 200, answer.text
        time.sleep(2)  # the load has failed by now; it would not get ready later
        answer = container.get("/health/ready")
        assert answer.status_code == 503, answer.text
        reason = answer.json()["reason"]
        assert "policy.json" in reason, reason
        result = subprocess.run(
            ["podman", "healthcheck", "run", container.name], capture_output=True, timeout=30
        )
        assert result.returncode != 0, "the healthcheck passed on a service that is not ready"
    finally:
        container.remove()
