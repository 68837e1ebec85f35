"""The `loanrisk` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "loanrisk.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A directory with the project's params, pointed at the generator and its declaration
    (whatever dataset the project itself is set to), as these tests use generated data."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["source"] = "generator"
    params["data"]["declaration"] = "datasets/loans.yaml"
    params["gate"]["fairness_attributes"] = ["sex"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(ROOT / "datasets", tmp_path / "datasets")
    return tmp_path


def test_every_command_has_help(workdir: Path) -> None:
    for command in ([], ["generate"], ["validate"], ["check-params"], ["erase"]):
        result = run(*command, "--help", cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_a_clean_batch_validates_with_exit_zero(workdir: Path) -> None:
    assert run("generate", "clean.csv", "--rows", "800", cwd=workdir).returncode == 0
    result = run("validate", "clean.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "800 valid, 0 quarantined" in result.stdout


def test_a_null_feed_batch_is_quarantined_with_a_report_and_exits_non_zero(workdir: Path) -> None:
    made = run("generate", "feed.parquet", "--scenario", "null_feed", "--rows", "1000", cwd=workdir)
    assert made.returncode == 0, made.stderr
    result = run("validate", "feed.parquet", "--out-dir", "out", cwd=workdir)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "not_nullable" in error_lines[0]
    assert "Traceback" not in result.stderr
    report = json.loads((workdir / "out" / "validation.json").read_text())
    assert report["rows_in"] == report["rows_valid"] + report["rows_quarantined"] == 1000
    assert {"income", "employment_years", "credit_history_years"} <= {
        f["column"] for f in report["failures"]
    }
    quarantine = pd.read_parquet(workdir / "out" / "quarantine.parquet")
    assert len(quarantine) == report["rows_quarantined"]
    assert quarantine["failed_checks"].str.contains("not_nullable").all()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "missing.csv"], "no such file"),
        (["validate", "notes.txt"], "expected a .csv, .parquet or .pq file"),
        (["check-params", "--params", "absent.yaml"], "file not found"),
        (["generate", "params.yaml/inside-a-file.csv"], "File exists"),
        (["validate", "x.csv", "--params", "."], "Is a directory"),
    ],
)
def test_user_errors_are_one_line_and_exit_one(
    workdir: Path, args: list[str], expected: str
) -> None:
    result = run(*args, cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error:")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_check_params_names_the_dataset_and_the_source_it_will_read(workdir: Path) -> None:
    result = run("check-params", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "dataset loan-default" in result.stdout and "the generator" in result.stdout
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["data"]["source"] = "intake/2024.csv"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    result = run("check-params", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "source intake/2024.csv" in result.stdout and "generator" not in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"gate": {"fairness_attributes": ["race"]}}, "gate.fairness_attributes: 'race'"),
        ({"data": {"declaration": "datasets/absent.yaml"}}, "declaration not found"),
        ({"data": {"declaration": "datasets/other.yaml"}}, "data.source is generator"),
    ],
)
def test_params_the_declaration_cannot_serve_are_refused_in_one_line(
    workdir: Path, change: dict[str, dict[str, object]], expected: str
) -> None:
    other = yaml.safe_load((workdir / "datasets/loans.yaml").read_text())
    other["name"] = "other"
    (workdir / "datasets/other.yaml").write_text(yaml.safe_dump(other))
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for section, values in change.items():
        params[section].update(values)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    result = run("check-params", cwd=workdir)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr


def test_bad_options_are_usage_errors(workdir: Path) -> None:
    result = run("generate", "x.parquet", "--scenario", "earthquake", cwd=workdir)
    assert result.returncode == 2
    assert "earthquake" in result.stderr
    result = run("generate", "x.txt", cwd=workdir)
    assert result.returncode == 2
    result = run("generate", "x.csv", "--start", "last tuesday", cwd=workdir)
    assert result.returncode == 2
    assert "not a date" in result.stderr
