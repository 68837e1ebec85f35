"""docs/lifecycle.md, the teaching walkthrough, names only what exists.

A newcomer types the walkthrough's commands as they are written, so a mistyped path, a
renamed test, a removed make target or a params key that moved would stop them halfway.
These tests read the page and check every name it uses against the repository: files and
links, make targets, cited tests, params keys, `loanrisk` commands and the service's
endpoints. Nothing here runs the pipeline. Each check is also shown failing on a broken page.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "lifecycle.md"

STAGES = (
    "Problem framing",
    "Data and its contract",
    "Experiments and training",
    "Evaluation",
    "The gate and the registry",
    "Serving",
    "Monitoring",
    "Retraining",
    "Documentation: model card and datasheet",
)
"""The lifecycle's stages, each a level-two heading, so a newcomer finds them by name."""

PARTS = ("Run", "Open", "Look at", "Question", "Exercise", "Check", "Put it back")
"""What every stage gives the reader, each as a bold label in the stage's section."""

FILE_SUFFIXES = (
    *(".py", ".yaml", ".yml", ".json", ".md", ".html", ".parquet", ".csv"),
    *(".lock", ".toml", ".db", ".cfg", ".txt", ".j2"),
)
"""A token ending in one of these is a file name, whatever folder it names."""

SERVICE = "http://127.0.0.1:8000"
"""Where `make serve` listens: URLs under it must be routes of the service."""


# -- reading the page --------------------------------------------------------------------------


def fenced_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks (indented ones in list items included)."""
    return re.findall(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", markdown, re.M | re.S)


def inline_code(markdown: str) -> list[str]:
    """The inline code spans outside the fenced blocks."""
    prose = re.sub(r"^[ \t]*```[^\n]*\n.*?^[ \t]*```", "", markdown, flags=re.M | re.S)
    return re.findall(r"`([^`\n]+)`", prose)


def code(markdown: str) -> list[str]:
    """Everything the reader types or reads as code: blocks and inline spans, one line each,
    without shell comments (`# every make target` is not a command)."""
    lines = [line for text in fenced_blocks(markdown) for line in text.splitlines()]
    return [re.sub(r"(^|\s)#.*$", "", line) for line in lines + inline_code(markdown)]


def sections(markdown: str) -> dict[str, str]:
    """Level-two headings (without a leading "7. ") mapped to the text under them."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    titles, bodies = parts[1::2], parts[2::2]
    return {re.sub(r"^\d+\.\s*", "", t).strip(): b for t, b in zip(titles, bodies, strict=True)}


def tokens(text: str) -> Iterator[str]:
    """Words of code, split where a shell or Python would end a name."""
    yield from re.findall(r"[^\s'\"`(),=\[\]{}<>|;]+", text)


# -- what the repository holds ----------------------------------------------------------------


@functools.cache
def tracked() -> frozenset[str]:
    """Files git tracks: what a fresh clone has before anything runs."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return frozenset(listed.stdout.splitlines())


def is_tracked(path: str) -> bool:
    """A tracked file, or a folder holding one."""
    path = path.rstrip("/")
    return path in tracked() or any(name.startswith(f"{path}/") for name in tracked())


def ignored(paths: list[str]) -> set[str]:
    """Those of ``paths`` that git ignores: written by a stage or the service, never committed
    (DVC outputs, the MLflow store, `reports/gate.json`, the serving bundle, captures)."""
    if not paths:
        return set()
    # Each also as a folder: a pattern like `/models/champion/` matches only folders, and git
    # cannot tell a folder that a fresh clone does not have yet.
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=ROOT,
        input="\n".join(form for path in paths for form in (path, f"{path}/")),
        capture_output=True,
        text=True,
    )
    return {line.rstrip("/") for line in found.stdout.splitlines()}


def top_level() -> set[str]:
    """The first path segments a fresh clone has: a token starting with one is a path."""
    return {name.split("/", 1)[0] for name in tracked()}


def make_targets() -> set[str]:
    """The Makefile's targets, as `make help` lists them."""
    return set(re.findall(r"^([a-zA-Z_-]+):", (ROOT / "Makefile").read_text(), re.M))


def functions_in(path: Path) -> set[str]:
    """The names of the functions a test file defines at module level."""
    tree = ast.parse(path.read_text())
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name for node in tree.body if isinstance(node, kinds)}


def has_key(params: Any, dotted: str) -> bool:
    """Whether ``a.b.c`` names a key of the nested params, section by section."""
    for key in dotted.split("."):
        if not isinstance(params, dict) or key not in params:
            return False
        params = params[key]
    return True


def loanrisk_commands() -> set[str]:
    """The subcommands of the `loanrisk` command line, as typer registered them."""
    from loanrisk.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


# -- the checks: each returns what the page names that does not exist --------------------------


def missing_sections(markdown: str) -> list[str]:
    """Stages without their heading, or a stage section without one of its parts."""
    found = sections(markdown)
    problems = [f"no section '## {stage}'" for stage in STAGES if stage not in found]
    for stage in STAGES:
        body = found.get(stage, "")
        problems += [
            f"'{stage}' has no **{part}**"
            for part in PARTS
            if stage in found and not re.search(rf"\*\*{re.escape(part)}\b", body)
        ]
    return problems


def missing_links(markdown: str) -> list[str]:
    """Relative link targets that a fresh clone does not have."""
    problems = []
    for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", markdown):
        if re.match(r"[a-z]+:", target):
            continue
        path = (DOC.parent / target).resolve()
        relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else target
        if not is_tracked(relative):
            problems.append(target)
    return problems


def named_paths(markdown: str) -> set[str]:
    """Tokens of code that name a file or folder of the project (relative paths only)."""
    roots = top_level()
    paths = set()
    for line in code(markdown):
        # After `cd folder`, a command names the files of that folder.
        folder = re.search(r"\bcd\s+([\w./-]+)", line)
        for token in tokens(line):
            token = token.lstrip("@").split("::", 1)[0]
            if token.startswith(("-", "/", "~", ".venv")) or re.search(r"[:@$*]", token):
                continue
            is_file = token.endswith(FILE_SUFFIXES)
            if folder and is_file and "/" not in token:
                token = f"{folder[1].rstrip('/')}/{token}"
            if is_file or ("/" in token and token.split("/", 1)[0] in roots):
                paths.add(token.rstrip("/"))
    return paths


def removed_by_the_walkthrough(markdown: str) -> set[str]:
    """Scratch files: what the walkthrough's own `rm` commands delete again."""
    removed = set()
    for text in code(markdown):
        for arguments in re.findall(r"\brm\s+([^\n;&|]+)", text):
            removed |= {a.rstrip("/") for a in arguments.split() if not a.startswith("-")}
    return removed


def missing_paths(markdown: str) -> list[str]:
    """Paths that are neither in a fresh clone, nor written by the pipeline or the service
    (git-ignored), nor scratch files the walkthrough makes and removes."""
    scratch = removed_by_the_walkthrough(markdown)
    unknown = [p for p in sorted(named_paths(markdown)) if not is_tracked(p)]
    made = ignored(unknown)
    return [
        path
        for path in unknown
        if path not in made and not any(path == s or path.startswith(f"{s}/") for s in scratch)
    ]


def unknown_make_targets(markdown: str) -> list[str]:
    targets = make_targets()
    used = {t for text in code(markdown) for t in re.findall(r"\bmake\s+([a-z][\w-]*)", text)}
    return sorted(used - targets)


def unknown_tests(markdown: str) -> list[str]:
    """`tests/...py::name` citations whose file or test function does not exist."""
    problems = []
    for text in code(markdown):
        for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", text):
            file = ROOT / path
            if not file.is_file() or name not in functions_in(file):
                problems.append(f"{path}::{name}")
    return problems


def changed_params(markdown: str) -> set[str]:
    """Params keys the reader is told to change or read: `-S a.b=...`, `a.b: value`, and any
    dotted name in inline code that starts with a top-level key of params.yaml."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    overrides = r"(?:-S|--set-param)\s+([\w.]+)="
    keys = {key for text in code(markdown) for key in re.findall(overrides, text)}
    for span in inline_code(markdown):
        named = re.fullmatch(r"-?([a-z_]\w*(?:\.\w+)+)(?::\s.*)?", span.strip())
        if named and named[1].split(".")[0] in params and not named[1].endswith(FILE_SUFFIXES):
            keys.add(named[1])
    return keys


def unknown_params(markdown: str) -> list[str]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    return sorted(key for key in changed_params(markdown) if not has_key(params, key))


def unknown_commands(markdown: str) -> list[str]:
    commands = loanrisk_commands()
    used = {c for text in code(markdown) for c in re.findall(r"\bloanrisk\s+([a-z][\w-]*)", text)}
    return sorted(used - commands)


def endpoints(markdown: str) -> set[tuple[str, str]]:
    """`GET /path` and `POST /path` in the prose, and URLs of the service in code (any method)."""
    named = set(re.findall(r"\b(GET|POST) (/[\w/{}.-]*)", markdown))
    for text in code(markdown):
        named |= {("*", path) for path in re.findall(rf"{re.escape(SERVICE)}(/[\w/.-]*)", text)}
    return named


Served = Callable[[str, str], bool]
"""Whether the service routes a method and a path (`*` for any method)."""


def unknown_endpoints(markdown: str, served: Served) -> list[str]:
    return sorted(f"{m} {p}" for m, p in endpoints(markdown) if not served(m, p))


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> str:
    return DOC.read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    """Asks the service's own router, as a request would: the app is built, no model is
    loaded, and a path is served when one of its routes matches it in full (placeholders
    such as `{name}` in the page match as any segment does)."""
    from starlette.routing import Match

    from serving.app import create_app
    from serving.settings import Settings

    settings = Settings.model_validate(
        {
            "dataset": str(ROOT / "datasets" / "loans.yaml"),
            "params": str(ROOT / "params.yaml"),
            "capture_dir": tmp_path_factory.mktemp("captures"),
        }
    )
    app = create_app(settings)

    def matches(method: str, path: str) -> bool:
        for verb in ("GET", "POST") if method == "*" else (method,):
            scope = {"type": "http", "method": verb, "path": path, "root_path": "", "app": app}
            if any(route.matches(scope)[0] is Match.FULL for route in app.routes):
                return True
        return False

    return matches


def test_every_stage_has_its_section_with_every_part(page: str) -> None:
    assert missing_sections(page) == []


def test_every_link_points_to_a_committed_file(page: str) -> None:
    assert missing_links(page) == []


def test_every_path_exists_or_is_made_by_the_pipeline_or_the_walkthrough(page: str) -> None:
    assert named_paths(page), "the path reader found no path at all"
    assert missing_paths(page) == []


def test_every_make_target_is_in_the_makefile(page: str) -> None:
    assert unknown_make_targets(page) == []


def test_every_cited_test_exists(page: str) -> None:
    assert unknown_tests(page) == []


def test_every_params_key_it_changes_is_in_params_yaml(page: str) -> None:
    assert changed_params(page), "the params reader found no key at all"
    assert unknown_params(page) == []


def test_every_loanrisk_command_exists(page: str) -> None:
    assert unknown_commands(page) == []


def test_every_endpoint_is_a_route_of_the_service(page: str, served: Served) -> None:
    assert endpoints(page), "the endpoint reader found no endpoint at all"
    assert unknown_endpoints(page, served) == []


BROKEN: dict[str, tuple[Callable[[str], list[str]], str]] = {
    "a stage without its heading": (missing_sections, "## 1. Problem framing\n**Run**\n"),
    "a link to a missing file": (missing_links, "See [the card](../model_cards/nope.md)."),
    "a mistyped path": (missing_paths, "Open `pipelines/trian.py`."),
    "a make target that does not exist": (unknown_make_targets, "```bash\nmake reproduce\n```"),
    "a test that does not exist": (
        unknown_tests,
        "`pytest -q tests/registry/test_gate.py::test_no_such_behaviour`",
    ),
    "a params key that does not exist": (unknown_params, "Set `train.candidate.max_iters: 1`."),
    "an override of a missing key": (unknown_params, "```bash\ndvc exp run -S gate.min_auc=1\n```"),
    "a loanrisk command that does not exist": (unknown_commands, "`loanrisk roll-back --reason x`"),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_each_check_catches_a_broken_page(broken: str) -> None:
    check, markdown = BROKEN[broken]
    assert check(markdown) != []


def test_an_endpoint_the_service_does_not_have_is_caught(served: Served) -> None:
    markdown = f"Ask `GET /drifts`.\n\n```bash\ncurl -s {SERVICE}/predicts\n```\n"
    assert unknown_endpoints(markdown, served) == ["* /predicts", "GET /drifts"]
