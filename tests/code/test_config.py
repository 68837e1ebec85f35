"""params.yaml is loaded into typed config; every mistake is refused with the key's name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from loanrisk.config import load_params, parse_params
from loanrisk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
RAW: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())


def mutated(path: str, value: Any = None, delete: bool = False) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    *parents, leaf = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


def test_the_project_params_load_into_typed_config() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.data.n_applications == RAW["data"]["sizes"][RAW["data"]["size"]]
    assert params.data.as_of.isoformat() == RAW["data"]["as_of"]
    assert params.gate.mode in ("enforce", "dry_run", "off")


def test_config_is_frozen() -> None:
    params = parse_params(RAW)
    with pytest.raises(ValueError):
        params.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("path", "value", "delete", "expected"),
    [
        ("train.logistic.max_iter", "many", False, "train.logistic.max_iter"),
        ("train.logistic.max_itr", 10, False, "train.logistic.max_itr: unknown key"),
        ("seed", None, True, "seed: missing"),
        ("data.scenario", "earthquake", False, "data.scenario"),
        ("data.size", "huge", False, "size 'huge' is not one of sizes"),
        ("data.as_of", "not a date", False, "data.as_of"),
        ("split.valid_from", "2030-01-01", False, "valid_from must come before test_from"),
        ("contract.max_quarantine_share", 1.5, False, "contract.max_quarantine_share"),
    ],
)
def test_a_bad_key_is_refused_in_one_line_naming_it(
    path: str, value: Any, delete: bool, expected: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_params(mutated(path, value, delete))
    message = str(excinfo.value)
    assert expected in message
    assert "\n" not in message


def test_a_float_where_an_integer_is_expected_is_refused() -> None:
    with pytest.raises(ConfigError, match="seed"):
        parse_params(mutated("seed", 4.5))


def test_a_missing_or_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 42\nproblem: : bad\n")
    with pytest.raises(ConfigError, match="not valid YAML at line 2, column 10: mapping values"):
        load_params(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(listed)
