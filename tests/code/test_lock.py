"""`dvc.lock` is committed with the code it describes: a fresh clone's `make repro` then
reruns nothing for a code change nobody reproduced, and leaves `git status` clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("src/", "pipelines/")


def test_no_stage_is_stale_for_a_code_change() -> None:
    dvc = Path(sys.executable).parent / "dvc"
    result = subprocess.run(
        [str(dvc), "status", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    stale = []
    for stage, changes in json.loads(result.stdout or "{}").items():
        for change in changes:
            if not isinstance(change, dict):
                continue
            for path, state in change.get("changed deps", {}).items():
                if path.startswith(CODE) and state != "deleted":
                    stale.append(f"{stage}: {path} {state}")
    assert stale == [], "run `make repro` and commit dvc.lock with the code: " + "; ".join(stale)
