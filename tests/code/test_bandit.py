"""bandit, as `make lint` runs it (the command is read from `make -n lint`, so the test and the
Makefile cannot drift): it passes on the tree, fails on a module with insecure patterns, lets
a low-severity finding through, and every `# nosec` in the tree names the check it silences,
gives a reason and is listed in docs/reliability.md."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSECURE = """\
import subprocess
import urllib.request

import yaml


def run(command: str) -> int:
    return subprocess.call(command, shell=True)


def load(text: str) -> object:
    return yaml.load(text)


def fetch(url: str) -> bytes:
    return urllib.request.urlopen(url).read()
"""


def bandit(*targets: str) -> subprocess.CompletedProcess[str]:
    override = [f"BANDIT_TARGETS={' '.join(targets)}"] if targets else []
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "lint", *override],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    (line,) = [line for line in plan.splitlines() if re.match(r"\S*bandit ", line)]
    return subprocess.run(shlex.split(line), capture_output=True, text=True, cwd=ROOT)


def test_bandit_passes_on_the_tree() -> None:
    done = bandit()
    assert done.returncode == 0, done.stdout + done.stderr


def test_bandit_fails_on_insecure_code(tmp_path: Path) -> None:
    (tmp_path / "insecure.py").write_text(INSECURE)
    done = bandit(str(tmp_path))
    assert done.returncode == 1
    found = re.findall(r">> Issue: \[(B\d+):\w+\] .*\n\s+Severity: (\w+)", done.stdout)
    assert sorted(found) == [("B310", "Medium"), ("B506", "Medium"), ("B602", "High")]


def test_a_low_severity_finding_is_below_the_gate(tmp_path: Path) -> None:
    (tmp_path / "low.py").write_text("def check(x: int) -> None:\n    assert x > 0\n")
    assert bandit(str(tmp_path)).returncode == 0
    (tmp_path / "low.py").write_text(INSECURE)
    assert bandit(str(tmp_path)).returncode == 1


def test_every_nosec_names_its_check_gives_a_reason_and_is_documented() -> None:
    files = subprocess.run(
        ["git", "ls-files", "*.py"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    docs = (ROOT / "docs" / "reliability.md").read_text()
    rows = [line for line in docs.splitlines() if "nosec" in line]
    found = 0
    for name in files:
        if name.startswith("tests/"):
            continue
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            if "# nosec" not in line:
                continue
            found += 1
            match = re.search(r"# nosec (B\d{3}) # \S", line)
            assert match, f"{name}:{number}: `# nosec BXXX # reason` expected"
            assert any(f"`{name}`" in row and match[1] in row for row in rows), (
                f"{name}:{number}: {match[1]} is not listed in docs/reliability.md"
            )
    assert found
