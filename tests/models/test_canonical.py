"""Canonical model directories: the same model saves to the same bytes, and loads as itself.

Models are fitted on one OpenMP thread. That keeps the file fast on a busy machine (gradient
boosting with more threads than free cores slows down by orders of magnitude) and fixes the
thread count, which the candidate records (``_bin_mapper.n_threads``) in what it saves.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from threadpoolctl import threadpool_limits

from loanrisk import tracking
from loanrisk.config import Params
from loanrisk.data.declaration import Declaration
from loanrisk.models.canonical import (
    VOLATILE_KEYS,
    ZIP_DATE,
    canonical_skops,
    fingerprint,
    save_canonical,
)
from loanrisk.models.train import MODEL_NAMES, features, fit_model
from tests.helpers import ROOT

CASES = (*MODEL_NAMES, "candidate-sigmoid")
"""The three models, and the candidate calibrated (a partial, a frozen estimator, a
calibrator: what the candidate is when calibration helps on the project's own data)."""

FILES = {
    "MLmodel",
    "model.skops",
    "conda.yaml",
    "python_env.yaml",
    "requirements.txt",
    "input_example.json",
    "serving_input_example.json",
}
WRITTEN_AFTER_MLMODEL = {"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt"}
"""Files MLflow writes after it has measured the directory for ``model_size_bytes``."""


def case_params(case: str, params: Params) -> tuple[str, Params]:
    if case != "candidate-sigmoid":
        return case, params
    candidate = params.train.candidate.model_copy(update={"calibration": "sigmoid"})
    train = params.train.model_copy(update={"candidate": candidate})
    return "candidate", params.model_copy(update={"train": train})


def fit(case: str, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]) -> Any:
    name, case_specific = case_params(case, params)
    return fit_model(name, case_specific, loans, splits).estimator


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def fits(
    one_thread: None, params: Params, loans: Declaration, splits: dict[str, pd.DataFrame]
) -> dict[str, tuple[Any, Any]]:
    """Each case fitted twice, from scratch."""
    return {
        case: (fit(case, params, loans, splits), fit(case, params, loans, splits)) for case in CASES
    }


@pytest.fixture(scope="module")
def example(loans: Declaration, splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return features(splits["train"].head(5), loans)


def save(estimator: Any, path: Path, example: pd.DataFrame) -> str:
    return save_canonical(estimator, path, **tracking.serialisation(estimator, example))


def contents(path: Path) -> dict[str, bytes]:
    return {
        item.relative_to(path).as_posix(): item.read_bytes()
        for item in path.rglob("*")
        if item.is_file()
    }


@pytest.mark.parametrize("case", CASES)
def test_saving_twice_and_refitting_give_identical_bytes(
    case: str, fits: dict[str, tuple[Any, Any]], example: pd.DataFrame, tmp_path: Path
) -> None:
    first, refit = fits[case]
    once = save(first, tmp_path / "once", example)
    again = save(first, tmp_path / "again", example)
    refitted = save(refit, tmp_path / "refit", example)
    saved = contents(tmp_path / "once")
    assert set(saved) == FILES
    assert contents(tmp_path / "again") == saved
    assert contents(tmp_path / "refit") == saved
    assert once == again == refitted == fingerprint(tmp_path / "refit")


def test_saving_over_an_existing_directory_replaces_it(
    fits: dict[str, tuple[Any, Any]], example: pd.DataFrame, tmp_path: Path
) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.txt").write_text("left over")
    digest = save(fits["rule"][0], target, example)
    assert set(contents(target)) == FILES
    assert digest == fingerprint(target)


@pytest.mark.parametrize("case", CASES)
def test_the_canonical_directory_loads_and_predicts_as_the_fitted_model(
    case: str,
    fits: dict[str, tuple[Any, Any]],
    example: pd.DataFrame,
    loans: Declaration,
    splits: dict[str, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimator = fits[case][0]
    save(estimator, tmp_path, example)
    X = features(splits["test"], loans)
    loaded = tracking.load_model(tmp_path)
    assert type(loaded) is type(estimator)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    served = mlflow.pyfunc.load_model(str(tmp_path))
    np.testing.assert_array_equal(served.predict(X.head(7)), estimator.predict_proba(X.head(7)))


def test_a_changed_model_changes_the_fingerprint(
    params: Params,
    loans: Declaration,
    splits: dict[str, pd.DataFrame],
    fits: dict[str, tuple[Any, Any]],
    example: pd.DataFrame,
    tmp_path: Path,
) -> None:
    logistic = params.train.logistic
    assert logistic.C != 0.05
    changed = params.model_copy(
        update={
            "train": params.train.model_copy(
                update={"logistic": logistic.model_copy(update={"C": 0.05})}
            )
        }
    )
    other = fit_model("logistic", changed, loans, splits).estimator
    original = save(fits["logistic"][0], tmp_path / "original", example)
    assert save(other, tmp_path / "changed", example) != original
    assert fingerprint(tmp_path / "original") == original


def test_only_the_archive_and_the_volatile_mlmodel_keys_differ_from_mlflow(
    fits: dict[str, tuple[Any, Any]], example: pd.DataFrame, tmp_path: Path
) -> None:
    estimator = fits["logistic"][0]
    serialisation = tracking.serialisation(estimator, example)
    mlflow.sklearn.save_model(estimator, str(tmp_path / "mlflow"), **serialisation)
    save_canonical(estimator, tmp_path / "canonical", **serialisation)
    theirs, ours = contents(tmp_path / "mlflow"), contents(tmp_path / "canonical")
    assert {name for name in FILES if theirs[name] != ours[name]} == {"MLmodel", "model.skops"}

    size = sum(len(data) for name, data in ours.items() if name not in WRITTEN_AFTER_MLMODEL)
    kept = [
        line
        for line in theirs["MLmodel"].decode().splitlines()
        if not line.startswith(tuple(f"{key}:" for key in VOLATILE_KEYS))
    ]
    expected = [
        f"model_size_bytes: {size}" if line.startswith("model_size_bytes:") else line
        for line in kept
    ]
    assert ours["MLmodel"].decode().splitlines() == expected
    assert yaml.safe_load(ours["MLmodel"])["model_size_bytes"] == size


def schema_of(archive: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        loaded: dict[str, Any] = json.loads(source.read("schema.json"))
    return loaded


def ids_and_files(node: Any) -> Iterator[tuple[int, str | None]]:
    if isinstance(node, list):
        for child in node:
            yield from ids_and_files(child)
    elif isinstance(node, dict):
        if "__loader__" in node:
            yield node["__id__"], node.get("file")
        for child in node.values():
            yield from ids_and_files(child)


def test_the_archive_numbers_objects_from_one_and_names_files_after_them(
    fits: dict[str, tuple[Any, Any]], example: pd.DataFrame, tmp_path: Path
) -> None:
    save(fits["candidate-sigmoid"][0], tmp_path, example)
    archive = (tmp_path / "model.skops").read_bytes()
    nodes = list(ids_and_files(schema_of(archive)))
    ids = [node_id for node_id, _ in nodes]
    first_seen = list(dict.fromkeys(ids))
    assert first_seen == list(range(1, len(first_seen) + 1))
    assert len(first_seen) < len(ids)  # shared objects keep sharing one id
    assert all(file == f"{node_id}.npy" for node_id, file in nodes if file is not None)
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        infos = source.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert set(names) == {"schema.json"} | {file for _, file in nodes if file is not None}
    assert {(info.date_time, info.external_attr, info.compress_type) for info in infos} == {
        (ZIP_DATE, 0o600 << 16, zipfile.ZIP_STORED)
    }
    assert canonical_skops(archive) == archive


def test_the_order_of_a_set_does_not_matter() -> None:
    state = {"labels": {f"label-{i}" for i in range(20)}, "weights": np.arange(3.0)}
    dumped = skops.io.dumps(state)
    schema = schema_of(dumped)
    labels = schema["content"]["labels"]["content"]
    labels.reverse()  # as another hash seed might have written it
    with zipfile.ZipFile(io.BytesIO(dumped)) as source:
        reordered = io.BytesIO()
        with zipfile.ZipFile(reordered, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                target.writestr(
                    info, json.dumps(schema) if info.filename == "schema.json" else data
                )
    assert canonical_skops(reordered.getvalue()) == canonical_skops(dumped)
    loaded = skops.io.loads(canonical_skops(dumped))
    assert loaded["labels"] == state["labels"]
    np.testing.assert_array_equal(loaded["weights"], state["weights"])


def test_an_archive_entry_no_node_refers_to_is_refused() -> None:
    buffer = io.BytesIO(skops.io.dumps([1, 2]))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("stray.npy", b"")
    with pytest.raises(ValueError, match=r"stray\.npy"):
        canonical_skops(buffer.getvalue())


CHILD = """
import sys
import pandas as pd
from loanrisk import tracking
from loanrisk.models.canonical import save_canonical
from loanrisk.models.train import MODEL_NAMES, features, fit_model
from loanrisk.config import load_params
from tests.helpers import LOANS, ROOT

folder = sys.argv[1]
splits = {part: pd.read_parquet(f"{folder}/{part}.parquet") for part in ("train", "valid", "test")}
params = load_params(ROOT / "params.yaml")
example = features(splits["train"].head(5), LOANS)
for name in MODEL_NAMES:
    model = fit_model(name, params, LOANS, splits).estimator
    serialisation = tracking.serialisation(model, example)
    print(name, save_canonical(model, f"{folder}/{name}", **serialisation))
"""


def test_another_process_saves_the_same_bytes(
    fits: dict[str, tuple[Any, Any]],
    splits: dict[str, pd.DataFrame],
    example: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """What `dvc repro` does: fit and save in a new process, at new addresses, with a new
    string hash seed."""
    for part, frame in splits.items():
        frame.to_parquet(tmp_path / f"{part}.parquet")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = dict(line.split() for line in child.stdout.splitlines())
    ours = {name: save(fits[name][0], tmp_path / "here" / name, example) for name in MODEL_NAMES}
    assert theirs == ours
