"""The edge every stage shares: one-line errors for what a user can fix, atomic writes."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from loanrisk import stage, tracking
from loanrisk.errors import ContractError, StoreError


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ContractError("3 of 10 rows quarantined"), "error: 3 of 10 rows quarantined"),
        (FileNotFoundError(2, "No such file", "data/raw.parquet"), "data/raw.parquet"),
        (StoreError("MLflow store sqlite:///x.db: Run with id=abc not found"), "MLflow store"),
    ],
)
def test_user_errors_become_one_line_and_exit_one(
    exc: BaseException, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        stage.run(lambda: _raise(exc))
    assert excinfo.value.code == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_mlflow_errors_are_translated_where_mlflow_is_called() -> None:
    expected = r"^MLflow store .*: Run with id=abc not found$"
    with pytest.raises(StoreError, match=expected), tracking.store_errors():
        raise MlflowException("Run with id=abc\nnot found")

    @tracking.store_errors()
    def fetch() -> None:
        raise MlflowException("no such model")

    with pytest.raises(StoreError, match="no such model"):
        fetch()


def test_debug_mode_shows_the_traceback_behind_the_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOANRISK_DEBUG", "1")
    with pytest.raises(SystemExit):
        stage.run(lambda: _raise(ContractError("bad batch")))
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1] == "error: bad batch"


def test_outputs_are_readable_by_everyone(tmp_path: Path) -> None:
    stage.write_json(tmp_path / "out" / "report.json", {"rows": 1})
    assert (tmp_path / "out" / "report.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_a_stage_run_without_the_package_says_how_to_install_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for script in sorted((root / "pipelines").glob("[!_]*.py")):
        result = subprocess.run(
            [sys.executable, "-S", str(script)],  # -S: no site-packages, so no loanrisk
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, script.name
        assert result.stderr.strip().splitlines() == [
            "error: the loanrisk package is not installed for this Python; run `make setup` "
            "and `source .venv/bin/activate`"
        ], script.name


def test_a_bug_is_not_disguised_as_a_user_error() -> None:
    with pytest.raises(ZeroDivisionError):
        stage.run(lambda: _raise(ZeroDivisionError("bug")))


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    stage.write_json(target, {"rows": 1})
    with pytest.raises(RuntimeError), stage.atomic_path(target) as tmp:
        tmp.write_text("half a rep")
        raise RuntimeError("killed")
    assert stage.read_json(target) == {"rows": 1}
    assert list(tmp_path.iterdir()) == [target]


HALF_A_WRITE = """
import sys, time
from pathlib import Path
from loanrisk import stage

target, kind = Path(sys.argv[1]), sys.argv[2]
if kind == "file":
    with stage.atomic_path(target) as tmp, tmp.open("w") as out:
        out.write("half a rep")
        out.flush()
        print("half", flush=True)
        time.sleep(60)
else:
    with stage.atomic_directory(target) as new:
        (new / "MLmodel").write_text("half a model")
        print("half", flush=True)
        time.sleep(60)
"""


def _write_whole(target: Path, kind: str) -> None:
    if kind == "file":
        stage.write_text(target, "the whole report\n")
    else:
        with stage.atomic_directory(target) as new:
            (new / "MLmodel").write_text("the whole model\n")
            (new / "model.skops").write_text("its weights\n")


def _contents(target: Path) -> dict[str, str]:
    if target.is_file():
        return {".": target.read_text()}
    return {p.name: p.read_text() for p in sorted(target.iterdir())}


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_writer_killed_half_way_leaves_the_old_output_and_the_next_one_cleans_up(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / ("report.json" if kind == "file" else "candidate")
    _write_whole(target, kind)
    whole = _contents(target)
    writer = subprocess.Popen(
        [sys.executable, "-c", HALF_A_WRITE, str(target), kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline() == "half\n"
    os.kill(writer.pid, signal.SIGKILL)  # what the out-of-memory killer does
    assert writer.wait(timeout=30) == -signal.SIGKILL
    assert _contents(target) == whole
    (leftover,) = set(tmp_path.iterdir()) - {target}
    assert leftover.name.startswith(f".{target.name}.") and leftover.name.endswith(".tmp")
    _write_whole(target, kind)  # the re-run
    assert sorted(tmp_path.iterdir()) == [target]
    assert _contents(target) == whole
    if kind == "directory":
        assert target.stat().st_mode & 0o777 == 0o755


def test_rounded_reports_hide_the_last_bits_that_memory_alignment_changes() -> None:
    a, b = 0.019521484672363885, 0.019521484672363896  # one figure from two runs
    assert a != b and stage.rounded(a) == stage.rounded(b)
    payload = {"psi": [a, 1, "x"], "nested": {"p": (0.1 + 0.2,)}, "missing": float("nan")}
    out = stage.rounded(payload)
    assert out["psi"] == [0.01952148467, 1, "x"] and out["nested"]["p"] == [0.3]
    assert math.isnan(out["missing"])
