"""The gate's decision for the CI workflows: a Markdown report, or step outputs.

Usage:
  python scripts/gate_report.py markdown reports/verdict.json reports/gate.json
  python scripts/gate_report.py outputs reports/gate.json >> "$GITHUB_OUTPUT"

``markdown`` prints the candidate's criteria (`reports/verdict.json`, the candidate judged
alone) and what the release did in this MLflow store (`reports/gate.json`: passed, promoted,
the champion before and after, the paired comparison with the champion); ci.yml posts it on
the pull request, release.yml and retrain.yml put it in the run's summary. ``outputs`` prints
``promoted=``, ``passed=`` and ``version=`` lines: release.yml builds and pushes the image
only when ``promoted=true``. A missing or malformed file is one line on stderr, exit 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """A report file that is missing or not what the pipeline writes."""


def read(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReportError(f"{path} not found: run the pipeline first (`make repro`)") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or "criteria" not in data:
        raise ReportError(f"{path}: no `criteria`: not a verdict or gate report")
    return data


def _mark(passed: object) -> str:
    return "pass" if passed is True else "**FAIL**" if passed is False else "n/a"


def markdown(verdict: dict[str, Any], gate: dict[str, Any] | None) -> str:
    lines = [
        f"Candidate judged alone: **{'passed' if verdict.get('passed') else 'failed'}** "
        f"(fingerprint `{str(verdict.get('fingerprint', ''))[:12]}`).",
        "",
        "| criterion | value | threshold | result | why |",
        "|---|---|---|---|---|",
    ]
    for c in verdict["criteria"]:
        value = c.get("value")
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(
            f"| `{c.get('name')}` | {shown} | {c.get('threshold')} | {_mark(c.get('passed'))} "
            f"| {c.get('why', '')} |"
        )
    lines.append("")
    if gate is None:
        lines.append("No `reports/gate.json`: the release stage did not run here.")
        return "\n".join(lines)
    lines.append(
        f"Release in this MLflow store (gate mode `{gate.get('mode')}`): "
        f"passed **{gate.get('passed')}**, promoted **{gate.get('promoted')}**: "
        f"{gate.get('reason')}. Champion version {gate.get('champion_before')} before, "
        f"{gate.get('champion_after')} after; challenger version "
        f"{gate.get('challenger_version')}."
    )
    comparison = gate.get("comparison")
    if comparison:
        lines += ["", "Paired comparison with the champion:", "", "```json"]
        lines += [json.dumps(comparison, indent=2, sort_keys=True), "```"]
    for failure in gate.get("failures") or []:
        lines.append(f"- failed: {failure}")
    return "\n".join(lines)


def outputs(gate: dict[str, Any]) -> str:
    promoted = gate.get("promoted") is True
    version = gate.get("champion_after") if promoted else gate.get("challenger_version")
    return "\n".join(
        [
            f"promoted={'true' if promoted else 'false'}",
            f"passed={str(gate.get('passed')).lower()}",
            f"version={version}",
        ]
    )


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "markdown":
            gate = read(argv[2]) if Path(argv[2]).exists() else None
            print(markdown(read(argv[1]), gate))
        elif len(argv) == 2 and argv[0] == "outputs":
            print(outputs(read(argv[1])))
        else:
            print(__doc__.split("\n\n")[1], file=sys.stderr)
            return 2
    except ReportError as exc:
        print(f"gate_report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
