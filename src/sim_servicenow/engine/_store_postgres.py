"""A state store in PostgreSQL, for workers on several machines (psycopg 3, the ``postgres`` extra)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError, ValidationProblem
from ._migrations import apply_migrations
from ._store import StoreError, dump_json, mask_store_url, passwords_in, scrub, utc
from ._store_sql import SqlStore, SqlTx

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

logger = logging.getLogger("sim_servicenow.store")

#: Key of the transaction-scoped advisory lock that serialises schema migrations ("SIMS" as a number).
MIGRATION_LOCK = 0x53494D53


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(
            "PostgresStore needs psycopg",
            [ValidationProblem("store", "install the postgres extra: pip install 'sim-servicenow[postgres]'")],
        ) from exc
    return psycopg


class PostgresStore(SqlStore):
    """A state store in a PostgreSQL database, shared by workers on several machines.

    Workers lease due plans with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for
    each other's plans and each due plan goes to exactly one of them. Updates lock the plan's row
    (``SELECT ... FOR UPDATE``) and check the lease in the same transaction; reads run in ``REPEATABLE READ``
    snapshots. Tables are created in the first schema of the connection's ``search_path`` (choose one with
    ``?options=-csearch_path%3Dsim`` in the DSN) and migrated at open, under an advisory lock.

    The store holds one connection, used by one thread at a time, and reconnects on the next call after
    the connection broke. Lease expiry compares the callers' clocks: keep the workers' clocks in sync (NTP)
    and leases much longer than any skew. The DSN's password never appears in a repr, a log line or an error.

    Args:
        dsn: a libpq connection string, ``postgresql://user:password@host:5432/dbname`` or ``key=value`` form.
        connect_timeout: seconds to wait for a connection (unless the DSN says otherwise).
    """

    _dialect = "postgres"
    _lock_clause = " FOR UPDATE"

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        self._psycopg = _import_psycopg()
        self._location = mask_store_url(dsn)
        self._secrets = passwords_in(dsn)
        try:
            params: dict[str, Any] = self._psycopg.conninfo.conninfo_to_dict(dsn)
        except self._psycopg.Error as exc:
            raise ConfigError(
                "invalid PostgreSQL DSN",
                [ValidationProblem("store", f"{self._message(exc)} (got {self._location!r})")],
            ) from (None if self._leaks(exc) else exc)
        password = params.get("password")
        if password:
            self._secrets = tuple(sorted({*self._secrets, str(password)}, key=len, reverse=True))
        params.setdefault("connect_timeout", max(1, round(connect_timeout)))
        params.setdefault("application_name", "sim-servicenow")
        self._params = params
        self._lock = threading.Lock()
        self._connection_: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        self._closed = False
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self._location!r})"

    @property
    def location(self) -> str:
        """The DSN with its password masked."""
        return self._location

    # ---------------------------------------------------------------------------------------- connection

    def _open(self) -> None:
        with self._transaction(write=True) as tx:
            tx.rows("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            schema = tx.rows("SELECT current_schema()")[0][0]
            if schema is None:
                raise StoreError(
                    "no schema to create the tables in: the search_path names no existing schema",
                    location=self._location,
                )
            tables = frozenset(
                row[0]
                for row in tx.rows(
                    "SELECT c.relname FROM pg_catalog.pg_class c"
                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
                )
            )
            applied = apply_migrations(
                tx.rows,
                dialect="postgres",
                existing_tables=tables,
                now=datetime.now(timezone.utc),
                location=self._location,
                encode_time=self._encode_time,
            )
        if applied:
            logger.info("%s: applied schema migration(s) %s", self._location, ", ".join(map(str, applied)))

    def _connection(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreError("the state store is closed", location=self._location)
        if os.getpid() != self._pid:
            # Forked: the parent's connection shares its socket; leave it alone and connect anew.
            self._connection_ = None
            self._pid = os.getpid()
        connection = self._connection_
        if connection is None or connection.closed or connection.broken:
            if connection is not None:
                logger.warning("%s: the connection was lost; reconnecting", self._location)
                connection.close()
            connection = self._psycopg.connect(autocommit=True, **self._params)
            connection.execute("SET TIME ZONE 'UTC'")
            self._connection_ = connection
        return connection

    def close(self) -> None:
        """Close the connection; further calls raise `StoreError`."""
        with self._lock:
            self._closed = True
            connection, self._connection_ = self._connection_, None
            if connection is not None and os.getpid() == self._pid:
                connection.close()

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[SqlTx]:
        psycopg = self._psycopg
        with self._lock:
            try:
                connection = self._connection()
                with connection.transaction(), connection.cursor() as cursor:
                    if not write:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield SqlTx(cursor.execute, placeholder="%s")
            except psycopg.Error as exc:
                raise self._error(exc) from (None if self._leaks(exc) else exc)

    def _message(self, exc: BaseException) -> str:
        return scrub(" ".join(str(exc).split()), self._secrets)

    def _leaks(self, exc: BaseException) -> bool:
        text = str(exc)
        return any(secret in text for secret in self._secrets)

    def _error(self, exc: Exception) -> StoreError:
        message = self._message(exc)
        errors = self._psycopg.errors
        if isinstance(exc, errors.UniqueViolation) and "correlation_key" in message:
            return StoreError(
                f"a correlation key is already used by another ticket group ({message})", location=self._location
            )
        if isinstance(exc, self._psycopg.OperationalError):
            reason = message.removeprefix("connection failed: ")
            return StoreError(f"PostgreSQL connection failed: {reason}", location=self._location)
        return StoreError(f"PostgreSQL failed: {message}", location=self._location)

    # ---------------------------------------------------------------------------------------- dialect

    def _encode_time(self, value: datetime) -> datetime:
        return utc(value)

    def _decode_time(self, value: Any) -> datetime:
        return utc(value)

    def _encode_json(self, value: Any, what: str) -> Any:
        text = dump_json(value, what)
        return self._psycopg.types.json.Jsonb(value, dumps=lambda _value: text)

    def _decode_json(self, value: Any) -> Any:
        return value

    def _lease_ids(self, tx: SqlTx, owner: str, now: Any, until: Any, limit: int) -> list[int]:
        # SKIP LOCKED: rows another worker is leasing right now are passed over instead of waited for,
        # and the UPDATE of the same statement claims the rows this one locked.
        rows = tx.rows(
            "WITH due AS ("
            " SELECT id FROM sim_plans WHERE due_at IS NOT NULL AND due_at <= ?"
            " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED)"
            " UPDATE sim_plans SET lease_owner = ?, lease_until = ? FROM due WHERE sim_plans.id = due.id"
            " RETURNING sim_plans.id, sim_plans.due_at",
            (now, now, limit, owner, until),
        )
        return [plan_id for plan_id, _due in sorted(rows, key=lambda row: (row[1], row[0]))]
