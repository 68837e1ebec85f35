"""The dataset declaration: loaded into a typed object, every mistake refused in one line that
names the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from loanrisk.data.declaration import load_declaration, parse_declaration
from loanrisk.errors import ConfigError
from loanrisk.project import load_project
from tests.helpers import LOANS, ROOT

RAW: dict[str, Any] = yaml.safe_load((ROOT / "datasets/loans.yaml").read_text())


def changed(edit: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    edit(raw)
    return raw


def test_the_projects_params_and_declaration_load_together() -> None:
    # Whatever dataset params.yaml names (the loans or a user's own), the two must agree.
    project = load_project(ROOT / "params.yaml")
    assert project.dataset.feature_names
    assert project.registered_model


def test_the_loan_declaration_derives_what_the_models_need() -> None:
    assert len(LOANS.feature_names) == 16
    assert LOANS.feature_names[:2] == ("income", "employment_years")
    assert LOANS.categorical_features == ("employment_type", "housing", "region", "loan_purpose")
    assert not set(LOANS.protected) & set(LOANS.feature_names)
    assert LOANS.monotone == {
        "income": -1,
        "past_delinquencies": 1,
        "credit_utilization": 1,
        "debt_to_income": 1,
    }
    assert LOANS.fairness_groups == ("sex", "age_band")
    assert LOANS.slice_groups == ("loan_purpose", "region", "employment_type", "age_band", "sex")
    assert LOANS.model_name == "loan-default-risk"


def test_a_numeric_protected_attribute_is_grouped_by_its_bands() -> None:
    import pandas as pd

    bands = LOANS.group(pd.DataFrame({"age": [18, 24, 25, 49, 50, 64, 65, 100]}), "age_band")
    assert bands.tolist() == ["18-24", "18-24", "25-34", "35-49", "50-64", "50-64", "65+", "65+"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda r: r["features"].update(sex={"type": "category", "categories": ["f", "m"]}),
            "protected.sex: also listed under features",
        ),
        (
            lambda r: r["rules"][0].update(other="height"),
            "rules[0] (employment_within_working_life).other: 'height' is not a numeric column",
        ),
        (lambda r: r["slices"].append("colour"), "slices: 'colour' is not a column"),
        (lambda r: r["slices"].append("income"), "slices: 'income' is numeric"),
        (lambda r: r["rule_baseline"][0].update(column="age"), "rule_baseline[0].column: 'age'"),
        (lambda r: r["rule_baseline"][3].update(value="jobless"), "rule_baseline[3]"),
        (
            lambda r: r["features"]["housing"].pop("categories"),
            "features.housing: a category column needs `categories`",
        ),
        (
            lambda r: r["features"]["income"].pop("direction"),
            "features.income: `monotone: true` needs a `direction`",
        ),
        (
            lambda r: r["protected"]["age"]["bands"].update(labels=["young", "old"]),
            "protected.age.bands: 6 edges make 5 bands, but 2 labels",
        ),
        (
            lambda r: r["features"]["income"].update(rnage=[0, 1]),
            "features.income.rnage: unknown key",
        ),
        (lambda r: r.pop("label"), "label: missing"),
        (lambda r: r["label"].update(negative=1), "label: positive and negative must differ"),
        (
            lambda r: r["reference_applicants"]["low_risk"].update(age=40),
            "reference_applicants.low_risk: ['age'] are not features",
        ),
        (lambda r: r["id"].update(pattern="A[0-9"), "id: pattern is not a regular expression"),
        (
            lambda r: r["features"]["n_credit_lines"].update(direction="up"),
            "features.n_credit_lines: a feature has a `direction` or an `invariance`, not both",
        ),
        (
            lambda r: r["features"]["has_guarantor"].pop("to"),
            "features.has_guarantor: a tested feature needs `step`, `factor` or `to`",
        ),
    ],
)
def test_a_declaration_mistake_is_refused_in_one_line_naming_the_key(
    edit: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_declaration(changed(edit), "datasets/mine.yaml")
    message = str(excinfo.value)
    assert message.startswith("datasets/mine.yaml: ")
    assert expected in message
    assert "\n" not in message


def test_a_missing_or_broken_declaration_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="declaration not found"):
        load_declaration(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_declaration(broken)
