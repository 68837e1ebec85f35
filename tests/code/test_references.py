"""Every test the documents cite exists: a reader told to run
`pytest tests/x/test_y.py::test_z` must find it, after any move or rename."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import ROOT

CITED = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?")


def cited() -> set[tuple[str, str, str | None]]:
    """(citing file, test file, test name or None) for every citation in prose and code."""
    places = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("serving/**/*.md")]
    places += [*ROOT.glob("src/**/*.py"), *ROOT.glob("serving/**/*.py")]
    places += [*ROOT.glob("model_cards/*.md"), *ROOT.glob("datasheets/*.md")]
    found = set()
    for place in places:
        for path, name in CITED.findall(place.read_text()):
            found.add((str(place.relative_to(ROOT)), path, name or None))
    return found


def defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def missing(citations: set[tuple[str, str, str | None]]) -> list[str]:
    """The citations whose test file or test is not there, as `where: path[::name]`."""
    problems = []
    for where, path, name in sorted(citations, key=str):
        target = ROOT / path
        if not target.is_file():
            problems.append(f"{where}: {path}")
        elif name is not None and name not in defined(target):
            problems.append(f"{where}: {path}::{name}")
    return problems


def test_every_cited_test_file_and_test_exists() -> None:
    citations = cited()
    assert len(citations) > 20, "the citation reader found next to nothing"
    assert missing(citations) == []


def test_the_check_sees_a_broken_citation() -> None:
    """The check can fail: a moved file and a renamed test are both reported."""
    broken = {
        ("README.md", "tests/model/test_no_such_file.py", None),
        ("README.md", "tests/code/test_references.py", "test_renamed_away"),
        ("README.md", "tests/code/test_references.py", "test_the_check_sees_a_broken_citation"),
    }
    assert missing(broken) == [
        "README.md: tests/code/test_references.py::test_renamed_away",
        "README.md: tests/model/test_no_such_file.py",
    ]
