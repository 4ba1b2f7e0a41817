"""Fixtures shared by every test directory: a real PostgreSQL server for the tests that need one.

``postgres_dsn`` gives each test a fresh, empty schema (its DSN sets ``search_path``) on a server that is:

- the one ``$SIM_SERVICENOW_TEST_PG_DSN`` names, when set (the role needs CREATE on its database); otherwise
- a throwaway server started once per session from the local PostgreSQL binaries (``initdb``/``pg_ctl``), in a
  temporary directory, on a free loopback port, with trust authentication, stopped at the end; otherwise
- nothing: the test is skipped, unless ``$SIM_SERVICENOW_REQUIRE_PG=1`` (CI), which makes it fail instead.

Mark such tests ``@pytest.mark.postgres``.
"""

from __future__ import annotations

import importlib.util
import os
import types
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


def _pgserver() -> types.ModuleType:
    """``tests/scaleout/_pgserver.py``, the one throwaway-server implementation (the benchmarks use it too)."""
    path = Path(__file__).with_name("scaleout") / "_pgserver.py"
    spec = importlib.util.spec_from_file_location("sim_servicenow_tests_pgserver", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def postgres_server_dsn() -> Iterator[str]:
    """A DSN for a PostgreSQL server (superuser on a throwaway one); see the module docstring."""
    dsn = os.environ.get(PG_DSN_ENV)
    if dsn:
        yield dsn
        return
    pgserver = _pgserver()
    try:
        server = pgserver.throwaway_server()
        started = server.__enter__()
    except pgserver.PostgresUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield started
    finally:
        server.__exit__(None, None, None)


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
