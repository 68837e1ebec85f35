"""The dependency audit gate (scripts/audit.py, `make audit`) run for real: pip-audit on real
locks against a small OSV server on 127.0.0.1 that answers as api.osv.dev does (a POST of
`{"package": {"name", "ecosystem"}, "version"}` to /v1/query, `{"vulns": [...]}` back).

It passes only on a complete audit with no vulnerability, and fails with one line on a known
vulnerability, on a lock audited in part, on an audit where pip-audit skipped everything
(where pip-audit itself says "No known vulnerabilities found" and exits 0), and with the
vulnerability service unreachable: on a closed local port anywhere, and at OSV's own address
where this machine cannot reach it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.py"
# Pins only: with hashed requirements and --disable-pip nothing is downloaded, so the hashes
# need only be there (pip-audit refuses a hashed file where one line has none).
HASH = "--hash=sha256:" + "0" * 64
# Jinja2 2.10's sandbox escape, as OSV records it (PYSEC-2019-217).
JINJA2_2_10 = {
    "schema_version": "1.6.0",
    "id": "PYSEC-2019-217",
    "aliases": ["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
    "summary": "In Pallets Jinja before 2.10.1, str.format_map allows a sandbox escape.",
    "published": "2019-04-07T00:29:00Z",
    "affected": [
        {
            "package": {"name": "jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}],
        }
    ],
}


class Osv(ThreadingHTTPServer):
    """OSV's query API on 127.0.0.1: `vulns[(name, version)]`, else no vulnerability."""

    vulns: dict[tuple[str, str], list[dict[str, Any]]]
    queries: list[tuple[str, str]]


class Handler(BaseHTTPRequestHandler):
    server: Osv

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = (query["package"]["name"], query["version"])
        self.server.queries.append(key)
        vulns = self.server.vulns.get(key)
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[Osv]:
    server = Osv(("127.0.0.1", 0), Handler)
    server.vulns, server.queries = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: Osv) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1/query"


def gate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("LOANRISK_OSV_URL", None)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=ROOT
    )


def lock(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "requirements.lock"
    path.write_text("".join(f"{line} \\\n    {HASH}\n" for line in lines))
    return str(path)


def one_line(stream: str) -> str:
    lines = stream.strip().splitlines()
    assert len(lines) == 1, stream
    return lines[0]


def test_the_shipped_locks_pass_when_every_package_is_audited_clean(osv: Osv) -> None:
    done = gate("--osv-url", url(osv))
    assert done.returncode == 0, done.stderr
    counts = {
        "requirements.lock": 0,
        "serving/requirements.lock": 0,
        "serving/compose/mlflow-server.lock": 0,
        "orchestration/airflow/requirements.lock": 0,
    }
    for line in done.stdout.splitlines():
        name, rest = line.removeprefix("audit: ").split(": ", 1)
        audited, of = rest.split(" packages", 1)[0].split(" of ")
        assert audited == of, line
        counts[name] = int(audited)
    assert all(counts.values()), done.stdout
    assert len(osv.queries) == sum(counts.values())  # each package asked about once


def test_a_vulnerable_pin_fails_the_gate(osv: Osv, tmp_path: Path) -> None:
    osv.vulns[("jinja2", "2.10")] = [JINJA2_2_10]
    done = gate("--osv-url", url(osv), lock(tmp_path, "jinja2==2.10", "markupsafe==1.1.1"))
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"audit: {tmp_path}/requirements.lock: 1 known vulnerability: jinja2==2.10 "
        "PYSEC-2019-217 (CVE-2019-10906, GHSA-462w-v97r-4m45), fixed in 2.10.1"
    )
    assert done.stdout == ""


def test_the_same_lock_passes_once_the_pin_is_fixed(osv: Osv, tmp_path: Path) -> None:
    osv.vulns[("jinja2", "2.10")] = [JINJA2_2_10]
    done = gate("--osv-url", url(osv), lock(tmp_path, "jinja2==2.10.1", "markupsafe==1.1.1"))
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout).endswith(": 2 of 2 packages audited, none vulnerable")


def test_a_lock_audited_in_part_fails(osv: Osv, tmp_path: Path) -> None:
    # pip-audit skips a URL requirement: no version to ask about.
    wheel = "https://example.org/markupsafe-1.1.1-py3-none-any.whl"
    done = gate("--osv-url", url(osv), lock(tmp_path, "jinja2==2.10.1", f"markupsafe @ {wheel}"))
    assert done.returncode == 1
    assert one_line(done.stderr).endswith(
        "audited 1 of 2 locked packages, 1 not audited (markupsafe), skipped: URL requirements"
        " cannot be pinned to a specific package version: no verdict without their data"
    )


def test_everything_skipped_fails_where_pip_audit_alone_passes(osv: Osv, tmp_path: Path) -> None:
    wheel = "https://example.org/{}-py3-none-any.whl"
    path = lock(tmp_path, f"jinja2 @ {wheel.format('jinja2-2.10')}", f"six @ {wheel.format('six')}")
    command = [sys.executable, "-m", "pip_audit", "-r", path, "--disable-pip", "-s", "osv"]
    command += ["--osv-url", url(osv), "--progress-spinner", "off"]
    alone = subprocess.run(command, capture_output=True, text=True)
    assert (alone.returncode, alone.stderr.strip()) == (0, "No known vulnerabilities found")
    done = gate("--osv-url", url(osv), path)
    assert done.returncode == 1
    assert "audited 0 of 2 locked packages, 2 not audited (jinja2, six)" in one_line(done.stderr)
    assert osv.queries == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_service_fails_with_one_line_and_stops() -> None:
    service = f"http://127.0.0.1:{closed_port()}/v1/query"
    done = gate("--osv-url", service, "--timeout", "2")
    assert done.returncode == 1
    line = one_line(done.stderr)  # the first lock only: the others would say the same
    assert line.startswith(
        f"audit: requirements.lock: nothing audited, no vulnerability data from {service}: "
        "pip-audit exited 1 without a report (requests.exceptions.ConnectionError: "
    ), line
    assert done.stdout == ""


def osv_reachable() -> bool:
    try:
        socket.create_connection(("api.osv.dev", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(osv_reachable(), reason="api.osv.dev answers here: `make audit` audits")
def test_make_audit_here_fails_saying_no_data_could_be_had() -> None:
    done = gate()
    assert done.returncode == 1
    assert one_line(done.stderr).startswith(
        "audit: requirements.lock: nothing audited, no vulnerability data from "
        "https://api.osv.dev/v1/query: pip-audit exited 1 without a report ("
    )


def test_every_lock_in_the_repository_is_audited_or_said_not_to_be() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import audit
    finally:
        sys.path.remove(str(SCRIPT.parent))
    tracked = subprocess.run(
        ["git", "ls-files", "*.lock"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert sorted(tracked) == sorted([*audit.LOCKS, *audit.NOT_AUDITED])
