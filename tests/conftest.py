"""Fixtures shared by every test directory: a real PostgreSQL server for the tests that need one.

``postgres_dsn`` gives each test a fresh, empty schema (its DSN sets ``search_path``) on a server that is:

- the one ``$SIM_SERVICENOW_TEST_PG_DSN`` names, when set (the role needs CREATE on its database); otherwise
- a throwaway server started once per session from the local PostgreSQL binaries (``initdb``/``pg_ctl``), in a
  temporary directory, on a free loopback port, with trust authentication, stopped at the end; otherwise
- nothing: the test is skipped, unless ``$SIM_SERVICENOW_REQUIRE_PG=1`` (CI), which makes it fail instead.

Mark such tests ``@pytest.mark.postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest


def _shared_specs() -> Path | None:
    """The vendors' specs the contract tests read: ``shared/specs`` beside the checkout (or above it)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "specs"
        if (candidate / "sailpoint").is_dir():
            return candidate
    return None


# Test modules read these at import time; they default to the copy beside the checkout.
_SPECS = _shared_specs()
if _SPECS is not None:
    os.environ.setdefault("SIM_SERVICENOW_SPECS", str(_SPECS))
    os.environ.setdefault("SIM_SERVICENOW_SAILPOINT_SPECS", str(_SPECS / "sailpoint"))

PG_DSN_ENV = "SIM_SERVICENOW_TEST_PG_DSN"
REQUIRE_PG_ENV = "SIM_SERVICENOW_REQUIRE_PG"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_PG_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_PG_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}; set {PG_DSN_ENV} or install PostgreSQL's server binaries")


def _postgres_bindir() -> Path | None:
    """The newest installed server binaries (Debian layout first, then the PATH)."""

    def major(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return 0.0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(on_path)
    for initdb in candidates:
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server_dsn() -> Iterator[str]:
    """A DSN for a PostgreSQL server (superuser on a throwaway one); see the module docstring."""
    dsn = os.environ.get(PG_DSN_ENV)
    if dsn:
        yield dsn
        return
    bindir = _postgres_bindir()
    if bindir is None:
        _unavailable("no initdb/pg_ctl found")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the distribution's postgres user.
        if (
            shutil.which("runuser") is None
            or subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode
        ):
            _unavailable("running as root needs runuser and a 'postgres' OS user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="sim-servicenow-pg-"))
    data, log = base / "data", base / "server.log"
    if as_postgres:
        shutil.chown(base, user="postgres")
    started = False
    try:
        init = subprocess.run(
            [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
             "-E", "UTF8", "--locale=C"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if init.returncode:
            _unavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        for _attempt in range(3):  # the port probe can race with another process: try a few
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base}"
                " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            start = subprocess.run(
                [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                 "-o", options, "start"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if start.returncode == 0:
                started = True
                break
        if not started:
            server_log = log.read_text(errors="replace")[-1000:] if log.exists() else ""
            _unavailable(f"pg_ctl start failed: {start.stderr.strip()[-500:]} {server_log}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, check=False,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server_dsn: str) -> Iterator[str]:
    """A DSN whose ``search_path`` is a fresh, empty schema, dropped after the test."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(postgres_server_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(postgres_server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
