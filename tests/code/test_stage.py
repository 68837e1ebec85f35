"""The edge every stage shares: one-line errors for what a user can fix, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from loanrisk import stage
from loanrisk.errors import ContractError


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ContractError("3 of 10 rows quarantined"), "error: 3 of 10 rows quarantined"),
        (FileNotFoundError(2, "No such file", "data/raw.parquet"), "data/raw.parquet"),
        (MlflowException("Run with id=abc not found"), "error: MLflow store"),
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
