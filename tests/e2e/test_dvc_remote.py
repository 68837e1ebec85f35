"""A DVC remote on a directory, as a team keeps one on a shared filesystem.

In a copy of the project at the small size: `dvc repro` (with no remote: the pipeline needs
none), then `make remote` sets a remote in a temporary directory, `dvc push` sends every
cached output there, and a machine that has only the git files (no DVC cache, no outputs)
gets them back with `dvc pull`, byte for byte, with nothing left to run. Pushing without a
remote and pulling from an empty one fail, saying so.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, clean_env, dvc, repro, small_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project at the small size after one `dvc repro`, with no remote."""
    return small_project(tmp_path_factory.mktemp("remote-project"))


def cached_outputs(project: Path) -> list[str]:
    """The outputs DVC caches, hence pushes (``cache: false`` ones are committed to git)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    found = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                path, options = (
                    next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
                )
                if (options or {}).get("cache", True):
                    found.append(path)
    return found


def digests(project: Path, outputs: list[str]) -> dict[str, str]:
    """SHA-256 of every file under ``outputs``."""
    files = []
    for name in outputs:
        path = project / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def forget(project: Path, outputs: list[str]) -> None:
    """What a fresh clone lacks: DVC's cache and every cached output."""
    shutil.rmtree(project / ".dvc" / "cache", ignore_errors=True)
    for name in outputs:
        path = project / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def make_remote(project: Path, remote: Path) -> subprocess.CompletedProcess[str]:
    """The Makefile's `make remote DVC_REMOTE=...`, run in ``project`` with this venv (``-o
    setup``: the venv is this test run's, not one of the copy's own)."""
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(ROOT / "Makefile"),
            "-o",
            "setup",
            "remote",
            f"DVC_REMOTE={remote}",
            f"VENV={Path(sys.executable).parent.parent}",
        ],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def without_cache(project: Path, target: Path, cache: bool = False) -> Path:
    """A copy of ``project``'s files without its local DVC config (nor its cache, unless
    ``cache``)."""

    def skip(directory: str, names: list[str]) -> list[str]:
        if Path(directory) != project / ".dvc":
            return []
        return ["config.local"] if cache else ["cache", "config.local"]

    shutil.copytree(project, target, ignore=skip)
    return target


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_push_then_pull_into_an_empty_cache_restores_every_output(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "shared" / "loanrisk-dvc-remote"
    config = (project / ".dvc" / "config").read_text()
    made = make_remote(project, remote)
    assert made.returncode == 0, output(made)
    assert remote.is_dir()
    assert (project / ".dvc" / "config").read_text() == config  # nothing committed changes
    local: dict[str, Any] = {}
    for line in (project / ".dvc" / "config.local").read_text().splitlines():
        key, _, value = line.strip().partition(" = ")
        local[key] = value
    assert local["remote"] == "shared" and Path(local["url"]) == remote

    outputs = cached_outputs(project)
    assert {"data/splits/train.parquet", "models/candidate", "reports/verdict.json"} <= set(outputs)
    before = digests(project, outputs)
    pushed = dvc(project, "push")
    assert pushed.returncode == 0, output(pushed)
    assert any(remote.rglob("*")), "the remote is empty after dvc push"

    forget(project, outputs)
    assert "up to date" not in dvc(project, "status").stdout
    pulled = dvc(project, "pull")
    assert pulled.returncode == 0, output(pulled)
    status = dvc(project, "status")
    assert status.returncode == 0 and "Data and pipelines are up to date" in status.stdout
    assert digests(project, outputs) == before
    assert "Running stage" not in repro(project).stdout


def test_push_without_a_remote_says_how_to_add_one(project: Path, tmp_path: Path) -> None:
    copy = without_cache(project, tmp_path / "copy")
    pushed = dvc(copy, "push")
    assert pushed.returncode != 0
    assert "no remote specified" in output(pushed) and "Traceback" not in output(pushed)


def test_pulling_from_an_empty_remote_fails(project: Path, tmp_path: Path) -> None:
    copy = without_cache(project, tmp_path / "copy")
    forget(copy, cached_outputs(copy))
    empty = tmp_path / "empty-remote"
    made = make_remote(copy, empty)
    assert made.returncode == 0, output(made)
    pulled = dvc(copy, "pull")
    assert pulled.returncode != 0
    assert "failed to pull" in output(pulled).lower() and "Traceback" not in output(pulled)
    assert not (copy / "data/splits/train.parquet").exists()


def test_a_corrupted_object_on_the_remote_is_refused(project: Path, tmp_path: Path) -> None:
    copy = without_cache(project, tmp_path / "copy", cache=True)
    remote = tmp_path / "remote"
    assert make_remote(copy, remote).returncode == 0
    assert dvc(copy, "push").returncode == 0
    lock = yaml.safe_load((copy / "dvc.lock").read_text())
    (md5,) = (
        o["md5"] for o in lock["stages"]["split"]["outs"] if o["path"].endswith("train.parquet")
    )
    stored = remote / "files" / "md5" / md5[:2] / md5[2:]
    stored.chmod(0o644)
    with stored.open("r+b") as f:  # one byte flipped on the shared filesystem
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    forget(copy, cached_outputs(copy))
    pulled = dvc(copy, "pull")
    assert pulled.returncode != 0
    assert "data/splits/train.parquet" in output(pulled) and "Traceback" not in output(pulled)
    assert not (copy / "data/splits/train.parquet").exists()
