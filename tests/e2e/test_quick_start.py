"""The README's quick start, run literally, so the README cannot drift from what works.

The commands are read from the fenced block of the README's "Two commands" section, and the
promised files from its "What you get" table, never retyped here. `make repro` runs in a
fresh `git clone` of this repository, as a newcomer would run it: a venv of its own from
the lock file, the whole pipeline at the default size, a store of its own. The clone is
made from the repository's HEAD, so this test checks the **committed** state: commit (with
`dvc.lock` regenerated) before reading its verdict on a change. `make test` is the command
running this test, so it is only checked to be a target of the Makefile, not run again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
QUICK_START = "Two commands"
OUTPUTS = "What you get, and where to look"
RECURSIVE = "make test"
"""The quick-start command that runs this very test."""


def section(markdown: str, title: str) -> str:
    """The text under the level-two heading ``title``, up to the next one."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert found, f"README.md has no section '## {title}'"
    return found[1]


def fenced_commands(text: str) -> list[str]:
    """The shell commands of the fenced blocks in ``text``, comments stripped."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh|console)?\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def promised_paths(text: str) -> list[str]:
    """The paths in the first column of the section's table.

    A cell lists a path then its siblings in short: `reports/validation.json`, `.md` (another
    suffix), or `models/rule`, `logistic` (another name in the same folder).
    """
    paths = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split("|")[1])
        first = names[0]
        paths.append(first)
        for name in names[1:]:
            if name.startswith("."):
                paths.append(re.sub(r"\.[^./]+$", name, first))
            else:
                parent = str(Path(first.rstrip("/")).parent)
                paths.append(name if parent == "." else f"{parent}/{name}")
    return paths


def newcomers_env() -> dict[str, str]:
    """The environment of a shell on a fresh machine: no venv of this checkout on PATH, no
    MLflow store or DVC experiment chosen, no outer make's flags."""
    venv = str(ROOT / ".venv")
    skip = ("MLFLOW_", "DVC_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTEST_", "LOANRISK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(venv)
    )
    return env


def test_the_quick_start_is_two_make_targets_that_exist() -> None:
    commands = fenced_commands(section(README.read_text(), QUICK_START))
    assert commands == ["make repro", RECURSIVE]
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M)
    assert {shlex.split(c)[1] for c in commands} <= set(targets)
    promised = promised_paths(section(README.read_text(), OUTPUTS))
    assert {"reports/validation.md", "models/logistic", "mlartifacts/"} <= set(promised)


@pytest.mark.slow
def test_the_quick_start_reproduces_a_fresh_clone_and_leaves_git_clean(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    readme = README.read_text()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    env = newcomers_env()
    try:
        for command in fenced_commands(section(readme, QUICK_START)):
            if command == RECURSIVE:
                continue
            done = subprocess.run(
                shlex.split(command),
                cwd=clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        missing = [p for p in promised_paths(section(readme, OUTPUTS)) if not (clone / p).exists()]
        assert missing == [], f"README promises {missing}; `make repro` did not make them"
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
        ).stdout
        assert status == "", (
            "a fresh clone's `make repro` changed committed files (commit what `make repro` "
            f"writes, dvc.lock included):\n{status}"
        )
        again = subprocess.run(
            ["make", "repro"], cwd=clone, env=env, capture_output=True, text=True, timeout=600
        )
        assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
    finally:
        shutil.rmtree(clone / ".venv", ignore_errors=True)  # a venv per run fills the disk
