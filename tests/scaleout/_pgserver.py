"""A throwaway PostgreSQL server from the local binaries, and fresh schemas on a server, for scripts outside pytest.

``benchmarks/scaleout.py`` uses them; the server when ``$SIM_SERVICENOW_TEST_PG_DSN`` is not set. It is started
the way the ``postgres_server_dsn`` fixture of ``tests/conftest.py`` starts one: ``initdb`` with trust
authentication in a temporary directory, ``pg_ctl start`` on a free loopback port with durability off (it is
thrown away), as the ``postgres`` OS user when run as root; ``pg_ctl stop -m immediate`` and the directory removed
at the end.
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
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresUnavailable", "fresh_schema", "postgres_bindir", "throwaway_server"]


class PostgresUnavailable(RuntimeError):
    """No server could be started here; the message says why."""


def postgres_bindir() -> Path | None:
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


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a server for the ``with`` block; yields a superuser DSN (``postgresql://postgres@127.0.0.1:PORT/postgres``).

    Raises:
        PostgresUnavailable: no binaries, running as root without a ``postgres`` OS user, or the server failed.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise PostgresUnavailable("no initdb/pg_ctl found; install PostgreSQL's server binaries")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the distribution's postgres user.
        if shutil.which("runuser") is None or _run(["id", "postgres"]).returncode:
            raise PostgresUnavailable("running as root needs runuser and a 'postgres' OS user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="sim-servicenow-pg-"))
    data, log = base / "data", base / "server.log"
    if as_postgres:
        shutil.chown(base, user="postgres")
    started = False
    try:
        init = _run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8", "--locale=C"])  # fmt: skip
        if init.returncode:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        for _attempt in range(3):  # the port probe can race with another process: try a few
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base}"
                " -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
            )
            start = _run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                          "-o", options, "start"])  # fmt: skip
            if start.returncode == 0:
                started = True
                break
        if not started:
            server_log = log.read_text(errors="replace")[-1000:] if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()[-500:]} {server_log}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def fresh_schema(server_dsn: str) -> Iterator[str]:
    """A DSN whose ``search_path`` is a new, empty schema on ``server_dsn``'s server; the schema is dropped after."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    schema = f"scaleout_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield make_conninfo(server_dsn, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
