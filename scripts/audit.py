"""The dependency audit gate (`make audit`): pip-audit on every lock the project ships, failing
on a known vulnerability and on an audit that audited nothing.

pip-audit alone is not a gate: a package whose vulnerability data it cannot get is *skipped*,
and a run that skipped every package still prints "No known vulnerabilities found" and exits
0 (its PyPI service behind a mirror that serves only the simple index skips all of them). So
this reads pip-audit's JSON report and counts: every package a lock pins (whose environment
markers apply here) must come back audited, with its version and its list of
vulnerabilities. A vulnerability, a skipped or missing package, or no report at all (the
service unreachable) fails the gate with one line saying which; only a complete audit with
no vulnerability passes.

The data comes from OSV's API (https://osv.dev, which carries PyPA's advisory database, what
PyPI's JSON API reports, and GitHub's advisories). Its address is an option (`--osv-url`,
default $LOANRISK_OSV_URL or OSV's), where the PyPI service's is fixed inside pip-audit: the
tests point it at a small local OSV server, so the gate CI runs is the one the tests run.
The locks are hashed, so `--disable-pip` audits their pins as written: nothing is resolved,
downloaded or installed.

Usage: python scripts/audit.py [LOCK ...]   (default: the shipped locks, LOCKS)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OSV_URL = "https://api.osv.dev/v1/query"

# The locks whose packages run as the project: the pipeline and the development tools
# (requirements.lock, `make setup`), the serving image (serving/requirements.lock), the team
# stack's MLflow server image (serving/compose/mlflow-server.lock) and the scheduler that
# runs the continuous-training DAG (orchestration/airflow/requirements.lock).
LOCKS = (
    "requirements.lock",
    "serving/requirements.lock",
    "serving/compose/mlflow-server.lock",
    "orchestration/airflow/requirements.lock",
)
# Every other *.lock in the repository, and why it is not audited (tests/code/test_audit.py
# fails on a lock in neither list).
NOT_AUDITED = {
    "scripts/container/tools.lock": "hadolint and podman-compose: build tools on the machine "
    "that builds the images, in no image and no deployed service",
    "dvc.lock": "DVC's record of the pipeline's outputs, not dependencies",
}
# Vulnerability IDs accepted, each with the reason (also in docs/reliability.md): none today.
ACCEPTED: dict[str, str] = {}
TAIL = 240  # characters of pip-audit's last error line kept in the gate's line


@dataclass(frozen=True)
class Verdict:
    """A lock's audit: passed or not, one line saying why, and whether anything was audited."""

    passed: bool
    line: str
    audited: int


def pins(text: str) -> dict[str, str]:
    """Package (canonical name) -> pinned version of a requirements file, for the entries whose
    environment markers apply to this interpreter (pip-audit leaves out the others too). A URL
    requirement pins no version: it maps to "" (pip-audit skips it, so it counts as not
    audited). Anything else not pinned with == is not a lock: ValueError."""
    found: dict[str, str] = {}
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(re.split(r"\s--?[a-z]", line, maxsplit=1)[0])
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        specifiers = list(requirement.specifier)
        if requirement.url:
            version = ""
        elif len(specifiers) == 1 and specifiers[0].operator == "==":
            version = specifiers[0].version
        else:
            raise ValueError(f"{requirement} is not pinned to one version")
        found[canonicalize_name(requirement.name)] = version
    return found


def judge(
    lock: str,
    pinned: dict[str, str],
    report: dict[str, Any] | None,
    returncode: int,
    error: str,
    source: str = OSV_URL,
) -> Verdict:
    """The gate's decision on one lock (`pinned`, from `pins`) given pip-audit's JSON report
    (None: it wrote none), its exit code and the last line it wrote to stderr; `source` is
    where the vulnerability data was asked for."""
    if report is None:
        why = error[:TAIL] + ("..." if len(error) > TAIL else "")
        return Verdict(
            False,
            f"{lock}: nothing audited, no vulnerability data from {source}: "
            f"pip-audit exited {returncode} "
            f"without a report ({why or 'no message'})",
            0,
        )
    audited: dict[str, str] = {}
    skipped: dict[str, str] = {}
    found: list[str] = []
    for dependency in report.get("dependencies", []):
        name = canonicalize_name(dependency["name"])
        if "skip_reason" in dependency:
            skipped[name] = dependency["skip_reason"]
            continue
        audited[name] = dependency["version"]
        for vuln in dependency.get("vulns", []):
            aliases = ", ".join(sorted(vuln.get("aliases", [])))
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            found.append(
                f"{name}=={dependency['version']} {vuln['id']}"
                + (f" ({aliases})" if aliases else "")
                + f", fixed in {fixed}"
            )
    missing = sorted(name for name, version in pinned.items() if audited.get(name) != version)
    gaps = ""
    if missing:
        reasons = sorted({skipped[name] for name in missing if name in skipped})
        gaps = f"audited {len(pinned) - len(missing)} of {len(pinned)} locked packages"
        gaps += f", {len(missing)} not audited ({', '.join(missing[:5])}"
        gaps += ", ...)" if len(missing) > 5 else ")"
        if reasons:
            gaps += f", skipped: {reasons[0]}" + (
                f" and {len(reasons) - 1} more" if reasons[1:] else ""
            )
    if found:
        plural = "vulnerability" if len(found) == 1 else "vulnerabilities"
        line = f"{lock}: {len(found)} known {plural}: {'; '.join(found)}"
        return Verdict(False, line + (f"; {gaps}" if gaps else ""), len(audited))
    if not pinned:
        return Verdict(False, f"{lock}: no package pinned here, nothing to audit", 0)
    if missing:
        return Verdict(False, f"{lock}: {gaps}: no verdict without their data", len(audited))
    return Verdict(
        True,
        f"{lock}: {len(audited)} of {len(pinned)} packages audited, none vulnerable",
        len(audited),
    )


def audit(lock: Path, osv_url: str, timeout: int, name: str) -> Verdict:
    """Run pip-audit on one lock against the OSV API at `osv_url`, then judge its report."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "report.json"
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--disable-pip",
            "--vulnerability-service", "osv", "--osv-url", osv_url, "--timeout", str(timeout),
            "--format", "json", "--output", str(output), "--progress-spinner", "off",
            "--desc", "off", "--aliases", "on",
            *(f"--ignore-vuln={vuln}" for vuln in ACCEPTED),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        report = json.loads(output.read_text()) if output.is_file() else None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    error = lines[-1] if lines else ""
    return judge(name, pins(lock.read_text()), report, done.returncode, error, osv_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="*", help="requirements files (default: the shipped locks)")
    parser.add_argument("--osv-url", default=os.environ.get("LOANRISK_OSV_URL") or OSV_URL)
    parser.add_argument("--timeout", type=int, default=15, help="seconds per request")
    args = parser.parse_args(argv)
    locks = [Path(lock) for lock in args.locks] or [ROOT / lock for lock in LOCKS]
    failed = False
    for lock in locks:
        name = str(lock.relative_to(ROOT)) if lock.is_relative_to(ROOT) else str(lock)
        verdict = audit(lock, args.osv_url, args.timeout, name)
        print(f"audit: {verdict.line}", file=sys.stdout if verdict.passed else sys.stderr)
        failed = failed or not verdict.passed
        if not verdict.audited:  # no data for this lock: the next ones would only say it again
            break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
