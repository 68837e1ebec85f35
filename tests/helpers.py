"""What the tests build and share: the generator's declaration, small data specs, the
serving test store's shape, request bodies, a real uvicorn. Test modules import from here
and never from each other (fixtures live in the conftest.py files)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import yaml

from loanrisk import tracking
from loanrisk.data import generator
from loanrisk.data.declaration import load_declaration
from loanrisk.data.generator import GeneratorSpec
from loanrisk.evaluation.policy import choose_policy
from loanrisk.monitoring.profile import build_profile
from loanrisk.registry import registry
from loanrisk.scoring import features, score
from serving.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


AS_OF = dt.date(2025, 1, 1)


LOANS = load_declaration(ROOT / generator.DECLARATION)
"""The declaration of the data the generator makes."""


def small_spec(scenario: str = "none", seed: int = 7, n: int = 4000) -> GeneratorSpec:
    """Twelve months of applications ending at AS_OF, the scenario applied throughout."""
    return GeneratorSpec(
        seed=seed,
        start=dt.date(2024, 1, 1),
        months=12,
        n_applications=n,
        as_of=AS_OF,
        scenario=scenario,
    )


NAME = "loan-default-risk"


DECLARATION = str(ROOT / "datasets" / "loans.yaml")


@dataclass(frozen=True)
class Store:
    root: Path
    uri: str
    champion: Path
    challenger: Path
    champion_model: object
    challenger_model: object


def register_model(model: object, splits: dict[str, pd.DataFrame], run_name: str) -> str:
    example = features(splits["train"].head(5), LOANS)
    policy = choose_policy(score(model, splits["valid"], LOANS), 5.0, 1.0, 0.1).as_dict()
    profile = build_profile(splits["train"], LOANS, score(model, splits["train"], LOANS))
    with mlflow.start_run(run_name=run_name):
        info = mlflow.sklearn.log_model(
            model, name="model", **tracking.serialisation(model, example)
        )
        mlflow.log_text(profile.to_json(), "profile.json")
    version = registry.register_challenger(
        NAME, info.model_uri, {"policy": policy, "git_commit": "test", "fingerprint": run_name}
    )
    return str(version.version)


TOKEN = "s3cret-token-0123456789"


def settings(store: Store, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": str(store.champion),
        "dataset": DECLARATION,
        "capture_dir": tmp_path / "captures",
        "admin_token": TOKEN,
    }
    return Settings(**{**values, **changes})


def application(frame: pd.DataFrame, i: int, **changes: Any) -> dict[str, Any]:
    row = frame.iloc[i]
    body: dict[str, Any] = {"application_id": str(row["application_id"])}
    for name in [*LOANS.features, *LOANS.protected]:
        value = row[name]
        body[name] = value.item() if hasattr(value, "item") else value
    body.update(changes)
    return body


def reference(store: Store, frame: pd.DataFrame) -> np.ndarray:
    p: np.ndarray = store.champion_model.predict_proba(features(frame, LOANS))[:, 1]  # type: ignore[attr-defined]
    return p


class Slow:
    """A model that takes half a second to answer."""

    def __init__(self, model: object) -> None:
        self.model = model

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(0.5)
        p: np.ndarray = self.model.predict_proba(X)  # type: ignore[attr-defined]
        return p


class Broken:
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("a bug in a model")


def registry_state() -> list[tuple[str, dict[str, str], list[str]]]:
    """Every version of the test model with its tags and aliases: what a write would change."""
    client = registry.client()
    found = client.search_model_versions(f"name='{NAME}'")
    return sorted((str(v.version), dict(v.tags), sorted(v.aliases)) for v in found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


WORKER_READY_S = 120
"""How long uvicorn waits for a new worker to load its model, as `make serve` does."""


@contextmanager
def uvicorn(
    store: Store | None,
    tmp_path: Path,
    workers: int = 1,
    model: Path | str | None = None,
    extra_env: Mapping[str, str] | None = None,
    ready: bool = True,
) -> Iterator[Server]:
    """`uvicorn --factory serving.app:factory`, as `make serve` runs it, once ready.

    Several workers share one metrics view through ``PROMETHEUS_MULTIPROC_DIR``, as under
    `make serve`; ``model`` is the bundle or ``models:/`` URI served (the store's champion by
    default), ``extra_env`` more variables, or other settings (``MLFLOW_TRACKING_URI``,
    ``LOANRISK_LOG_REQUESTS``). ``ready=False`` yields once the process is live, for a model
    that is meant to fail to load. What the server prints stays readable from
    ``process.stdout`` after the block.
    """
    served = model if model is not None else (store.champion if store is not None else None)
    assert served is not None, "uvicorn() needs a store or a model"
    port = free_port()
    env = {
        **os.environ,
        "LOANRISK_MODEL_URI": str(served),
        "LOANRISK_DATASET": DECLARATION,
        "LOANRISK_ADMIN_TOKEN": TOKEN,
        "LOANRISK_CAPTURE_DIR": str(tmp_path / "captures"),
        "LOANRISK_LOG_REQUESTS": "false",
        **(extra_env or {}),
    }
    if workers > 1 or model is not None:
        multiproc = tmp_path / "prometheus"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        "--factory",
        "serving.app:factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--timeout-worker-healthcheck",
        str(WORKER_READY_S),
        "--no-access-log",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                probe = "/health/ready" if ready else "/health/live"
                if httpx.get(f"{url}{probe}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            server.terminate()
            raise AssertionError(server.communicate(timeout=10)[0].decode()[-3000:])
        yield Server(url, server)
    finally:
        server.terminate()
        server.wait(timeout=20)


PROMETHEUS = ROOT / "serving" / "prometheus"


RULE_FILES = (PROMETHEUS / "rules.yml", PROMETHEUS / "alerts.yml")


DASHBOARD = ROOT / "serving" / "grafana" / "loanrisk.json"


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    nested = [inner for panel in panels for inner in panel.get("panels", [])]
    return [t["expr"] for panel in [*panels, *nested] for t in panel.get("targets", [])]


def plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ["application_id", *LOANS.features, *LOANS.protected]
    return [{c: plain(row[c]) for c in columns} for _, row in frame.iterrows()]


def v2_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(records[0])
    return {"inputs": [{"name": n, "data": [r[n] for r in records]} for n in names]}


# -- end-to-end runs: a copy of the project and DVC in it ------------------------------------


# What `dvc repro` needs of the project, copied into a temporary git repository.
COPIED = (
    *("src", "pipelines", "datasets", "docs/templates"),
    *("dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config"),
)
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "ci",
    "GIT_AUTHOR_EMAIL": "ci@example.org",
    "GIT_COMMITTER_NAME": "ci",
    "GIT_COMMITTER_EMAIL": "ci@example.org",
}


def copy_project(target: Path) -> None:
    """The files `dvc repro` needs, copied into ``target`` (a git repository of its own)."""
    for name in COPIED:
        source = ROOT / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    (target / ".gitignore").write_text(
        "mlflow.db\nmlartifacts/\n/reports/gate.json\n/models/champion/\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


def clean_env() -> dict[str, str]:
    """The environment without the caller's MLflow and DVC settings, this venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return {**env, **GIT_IDENTITY}


def dvc(
    project: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`dvc *args` in ``project`` under :func:`clean_env`, plus ``env`` (a team's store)."""
    dvc_bin = Path(sys.executable).parent / "dvc"
    return subprocess.run(
        [str(dvc_bin), *args],
        cwd=project,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def repro(
    project: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = dvc(project, "repro", *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def small_params(target: Path) -> None:
    """The generator and its declaration at the small size, whatever the project is set to."""
    params = yaml.safe_load((target / "params.yaml").read_text())
    params["data"].update(source="generator", declaration="datasets/loans.yaml", size="small")
    params["mlflow"].update(experiment=None, registered_model=None)
    params["gate"].update(fairness_attributes=["sex"], mode="enforce")
    # A 2,000-row test split cannot resolve the default uplift of 0.005 over the logistic
    # baseline (its ROC-AUC interval is about 0.04 wide); the gate still has to see the
    # candidate close to it.
    params["gate"]["min_uplift_over_logistic"] = -0.02
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def small_project(target: Path, run: bool = True) -> Path:
    """A copy of the project in ``target`` at the small size, after one `dvc repro` unless
    ``run`` is False (a caller that changes more params first, or runs it elsewhere)."""
    copy_project(target)
    small_params(target)
    if run:
        repro(target)
    return target


def read(project: Path, name: str) -> Any:
    return json.loads((project / name).read_text())


def project_client(project: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def champion_version(project: Path) -> str:
    return str(project_client(project).get_model_version_by_alias(NAME, "champion").version)


# -- a team's store: MLflow's tracking server on PostgreSQL ----------------------------------


POSTGRES = os.environ.get("LOANRISK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The PostgreSQL server the team store tests create their databases on (trust auth)."""


def postgres_absent() -> str | None:
    """Why no database can be created on :data:`POSTGRES`, or None: a real connection."""
    import psycopg

    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES}: {' '.join(str(exc).split())}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on :data:`POSTGRES`, dropped afterwards; yields its URI."""
    from urllib.parse import urlsplit

    import psycopg

    name = f"loanrisk_test_{os.getpid()}_{time.time_ns() % 10**9}"
    with psycopg.connect(POSTGRES, connect_timeout=5, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
        try:
            yield urlsplit(POSTGRES)._replace(path=f"/{name}").geturl()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
"""initdb of each PostgreSQL installed the Debian way, oldest first (empty elsewhere)."""


def private_postgres_absent() -> str | None:
    """Why no PostgreSQL instance of a test's own can be started here, or None."""
    if not (POSTGRES_BIN or shutil.which("initdb")):
        return "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "PostgreSQL refuses to run as root, and there is no runuser to run it as postgres"
    return None


@dataclass(frozen=True)
class PrivatePostgres:
    """A PostgreSQL instance of one test's own, on a port of its own: one the test may
    restart (the machine's shared server must never be)."""

    uri: str
    """The ``postgres`` database, trust auth, over TCP on 127.0.0.1."""
    data: Path
    log: Path
    as_owner: tuple[str, ...]

    def pg_ctl(self, *args: str) -> None:
        initdb = POSTGRES_BIN[-1] if POSTGRES_BIN else Path(str(shutil.which("initdb")))
        command = [*self.as_owner, str(initdb.with_name("pg_ctl")), "-D", str(self.data), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (``-m fast``: every connection is closed), stay down ``down_s`` seconds,
        start again; returns once the server answers."""
        self.pg_ctl("-m", "fast", "-w", "stop")
        time.sleep(down_s)
        self.start()

    def start(self) -> None:
        # -l: the server's output goes to a file, not to the pipes pg_ctl was given
        self.pg_ctl("-l", str(self.log), "-w", "start")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """``initdb`` and ``pg_ctl start`` in a temporary directory on a free port (as the
    ``postgres`` user when this is root, which PostgreSQL refuses to run as); stopped and
    removed afterwards. Check :func:`private_postgres_absent` first."""
    import tempfile

    initdb = POSTGRES_BIN[-1] if POSTGRES_BIN else Path(str(shutil.which("initdb")))
    root = Path(tempfile.mkdtemp(prefix="loanrisk-pg-"))
    as_owner: tuple[str, ...] = ()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_owner = ("runuser", "-u", "postgres", "--")
    data = root / "data"
    port = free_port()
    subprocess.run(
        [*as_owner, str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (data / "postgresql.conf").open("a") as conf:  # what every start uses
        conf.write(
            f"port = {port}\nunix_socket_directories = '{root}'\n"
            "listen_addresses = '127.0.0.1'\nfsync = off\n"
        )
    uri = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    instance = PrivatePostgres(uri, data, root / "postgres.log", as_owner)
    try:
        instance.start()
        yield instance
    finally:
        with suppress(subprocess.CalledProcessError):  # not running
            instance.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def tracking_server(backend_uri: str, artifacts: Path, log: Path) -> Iterator[Server]:
    """`mlflow server` on ``backend_uri`` with proxied artifacts in ``artifacts``, once it
    answers ``/health``; its output goes to ``log``. Stopped with its workers afterwards."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        backend_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            # No job runner: it serves GenAI jobs (seven huey consumers), not runs or models.
            env={**clean_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Server(url, server)
    finally:
        stop_group(server)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` and what it started (its own session: ``start_new_session=True``)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


CHURN = """\
name: customer-churn
description: Subscription customers, one row each, and whether they cancelled.
id:
  column: customer_id
  pattern: '^C\\d{5}$'
label:
  column: churned
  positive: "yes"
  negative: "no"
  description: Whether the customer cancelled within the quarter after the snapshot.
  outcomes: {positive: churned, negative: stayed}
protected:
  marital_status:
    type: category
    categories: [single, married, divorced]
features:
  tenure_months:
    type: integer
    range: [0, 120]
    direction: down
    monotone: true
    step: 6
  monthly_charges:
    type: float
    range: [10, 200]
    direction: up
    step: 10
  support_calls:
    type: integer
    range: [0, 30]
    direction: up
    monotone: true
    step: 1
  contract:
    type: category
    categories: [month_to_month, one_year, two_year]
  internet:
    type: category
    categories: [dsl, fiber, none]
  paperless_billing:
    type: boolean
    invariance: 0.02
    to: true
rules:
  - name: calls_within_tenure
    description: Nobody calls support more than twice a month on average plus twelve.
    column: support_calls
    op: "<="
    other: tenure_months
    scale: 2
    offset: 12
rule_baseline:
  - {column: contract, op: "==", value: month_to_month}
  - {column: support_calls, op: ">", value: 3}
  - {column: tenure_months, op: "<", value: 6}
reference_applicants:
  low_risk: {tenure_months: 72, support_calls: 0, contract: two_year, monthly_charges: 40.0}
  high_risk: {tenure_months: 1, support_calls: 9, contract: month_to_month, monthly_charges: 150.0}
slices: [contract, internet, marital_status]
"""


def customers(n: int = 4000, seed: int = 11) -> pd.DataFrame:
    """A seeded table of customers whose churn follows a known logistic rule."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month_to_month", "one_year", "two_year"], n, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(0, 121, n)
    calls = np.minimum(rng.poisson(1.5, n), 2 * tenure + 12)
    charges = rng.uniform(15, 180, n).round(2)
    internet = rng.choice(["dsl", "fiber", "none"], n, p=[0.4, 0.45, 0.15])
    logit = (
        -1.2
        + 1.4 * (contract == "month_to_month")
        - 0.8 * (contract == "two_year")
        - 0.03 * tenure
        + 0.35 * calls
        + 0.012 * (charges - 80)
        + 0.4 * (internet == "fiber")
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "marital_status": rng.choice(["single", "married", "divorced"], n),
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "contract": contract,
            "internet": internet,
            "paperless_billing": rng.random(n) < 0.6,
            "churned": np.where(churned, "yes", "no"),
        }
    )
    frame.loc[7, "churned"] = "maybe"  # a label nobody declared: quarantined, not dropped
    return frame


# -- API fuzzing: schemathesis against the service's own OpenAPI document --------------------


@dataclass
class FuzzRun:
    """What :func:`fuzz_api` sent and what failed: cases and seconds by operation, the
    statuses answered, failures (one line each: the operation, the check's title, the
    status and the request as curl)."""

    cases: dict[str, int]
    failures: list[str]
    seconds: dict[str, float]
    statuses: dict[int, int]


def fuzz_api(
    url: str, per_operation: int, seed: int | None = None, unavailable: bool = False
) -> FuzzRun:
    """Schemathesis against the OpenAPI document the server at ``url`` publishes, every
    operation through schemathesis' own phases (its coverage cases: boundaries, missing and
    wrong-typed values; then ``per_operation`` fuzzed cases, valid and invalid); operations
    behind a token once with :data:`TOKEN` and once with what schemathesis makes up (those
    whose only input is the token: 3 with it, every one the same request). Every default
    check but ``positive_data_acceptance``: the contract's cross-column rules and a model's
    own names are not in the schema, so a body the schema allows may rightly be a 4xx.
    ``unavailable``: a server with no model and the admin routes disabled, whose documented
    503s are the point (any status the document lacks, a 500 among them, still fails), and
    whose admin routes answer 403 with or without a token where ``missing_required_header``
    wants a 401 for a request without one.
    """
    import hypothesis
    import requests
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.generation.hypothesis.builder import (
        HypothesisTestConfig,
        HypothesisTestMode,
        create_test,
    )
    from schemathesis.specs.openapi.checks import (
        missing_required_header,
        positive_data_acceptance,
    )

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    found = FuzzRun(cases={}, failures=[], seconds={}, statuses={})
    seen: set[tuple[str, str, int]] = set()
    modes = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]
    closed = [not_a_server_error, missing_required_header] if unavailable else []
    excluded = [positive_data_acceptance, *closed]

    def runner(headers: dict[str, str] | None) -> Callable[[schemathesis.Case], None]:
        """One case sent with ``headers`` (the token, or none) and checked."""

        def one(case: schemathesis.Case) -> None:
            label = case.operation.label
            found.cases[label] += 1
            response = case.call(base_url=url, session=session, headers=headers)
            code = response.status_code
            found.statuses[code] = found.statuses.get(code, 0) + 1
            try:
                case.validate_response(response, excluded_checks=excluded, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    key = (label, failure.title, response.status_code)
                    if key not in seen:
                        seen.add(key)
                        curl = case.as_curl_command(headers=headers)
                        found.failures.append(
                            f"{label}: {failure.title} ({response.status_code}): {curl}"
                        )
            except Failure as failure:
                found.failures.append(f"{label}: {failure.title}")

        return one

    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            label = operation.label
            raw = operation.definition.raw
            secured = bool(raw.get("security"))
            only_token = not raw.get("parameters") and "requestBody" not in raw
            found.cases[label] = 0
            start = time.perf_counter()
            for token in [None, TOKEN] if secured else [None]:
                headers = {"Authorization": f"Bearer {token}"} if token else None
                one = runner(headers)
                bounded = hypothesis.settings(
                    max_examples=3 if token and only_token else per_operation,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                    verbosity=hypothesis.Verbosity.quiet,
                )
                test = create_test(
                    operation=operation,
                    test_func=bounded(one),
                    config=HypothesisTestConfig(project=schema.config, modes=modes, seed=seed),
                )
                with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # nothing left
                    test()
            found.seconds[label] = time.perf_counter() - start
    return found
