"""The default state store: one SQLite file, safe for several threads and processes on one machine."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ._migrations import apply_migrations
from ._store import StoreError, StoreFormatError, chunked, dump_json, load_json, utc
from ._store_sql import SqlStore, SqlTx

__all__ = ["SqliteStore"]

logger = logging.getLogger("sim_servicenow.store")

#: Written into the file header (``PRAGMA application_id``) so a store file is recognisable: "SIMS".
APPLICATION_ID = 0x53494D53


class SqliteStore(SqlStore):
    """A state store in one SQLite file: the default, for one machine.

    The file is in WAL mode, so readers never wait and a process killed in the middle of a write leaves the
    last committed state behind. Every write starts with ``BEGIN IMMEDIATE`` (the write lock is taken first, so
    a write never fails half-way for lack of it) and waits up to ``busy_timeout`` seconds for other writers;
    commits are synced to disk (``synchronous=FULL``). Connections are pooled (one per concurrent call, shared by
    threads in turn), and a process forked from one that used the store opens its own, so several threads and
    processes can share one file.

    Opening creates the file if needed and applies schema migrations. A file that is not SQLite, is corrupted,
    or holds another application's tables raises `StoreFormatError`; one written by a newer
    sim-servicenow raises `StoreVersionError`.

    Args:
        path: the database file (its directory must exist).
        busy_timeout: seconds a write waits for another writer before failing with `StoreError`.
    """

    _dialect = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        given = os.fspath(path)
        if not given or given == ":memory:" or given.startswith("file:"):
            raise ValueError(f"SqliteStore needs a file path, got {given!r} (for an in-memory store use MemoryStore)")
        # Absolute, so a later chdir cannot send another thread's connection to a different file.
        self._path = os.path.abspath(given)
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        directory = os.path.dirname(self._path)
        if not os.path.isdir(directory):
            raise StoreError(f"cannot open the state store: directory {directory} does not exist", location=self._path)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    @property
    def location(self) -> str:
        """The absolute path of the database file."""
        return self._path

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return self._path

    # ---------------------------------------------------------------------------------------- connections

    def _open(self) -> None:
        with self._connected() as connection:
            try:
                # Read-only look first: a foreign file must not be switched to WAL or migrated.
                self._check_not_foreign(*self._identify(lambda sql: connection.execute(sql).fetchall()))
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        if str(mode).lower() != "wal":
            logger.warning("%s: could not switch to WAL (journal mode %s); concurrent readers will wait", self, mode)
        with self._transaction(write=True) as tx:
            # Again under the write lock: another process may have initialised the file meanwhile.
            application_id, tables = self._identify(tx.rows)
            self._check_not_foreign(application_id, tables)
            applied = apply_migrations(
                tx.rows,
                dialect="sqlite",
                existing_tables=tables,
                now=datetime.now(timezone.utc),
                location=self._path,
                encode_time=self._encode_time,
            )
            if application_id == 0:
                tx.run(f"PRAGMA application_id = {APPLICATION_ID}")
        if applied:
            logger.info("%s: applied schema migration(s) %s", self._path, ", ".join(map(str, applied)))

    @staticmethod
    def _identify(rows: Callable[[str], Sequence[Sequence[Any]]]) -> tuple[int, frozenset[str]]:
        """The file's application id and table names."""
        application_id = int(rows("PRAGMA application_id")[0][0])
        tables = frozenset(str(row[0]) for row in rows("SELECT name FROM sqlite_master WHERE type = 'table'"))
        return application_id, tables

    def _check_not_foreign(self, application_id: int, tables: frozenset[str]) -> None:
        if application_id not in {0, APPLICATION_ID}:
            raise StoreFormatError(
                f"not a sim-servicenow state store: the SQLite file belongs to another application "
                f"(application_id {application_id:#x})",
                location=self._path,
            )
        # Without our mark, only our version table vouches for the file (a dump-and-restore drops the mark).
        if application_id == 0 and tables and "sim_schema_version" not in tables:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreFormatError(
                f"not a sim-servicenow state store: the SQLite file holds another application's tables ({shown})",
                location=self._path,
            )

    # Connections are pooled, not tied to threads: the engine starts new worker threads every cycle, and a
    # connection per thread would outlive its thread. The pool holds as many as were ever used at once.

    @contextmanager
    def _connected(self) -> Iterator[sqlite3.Connection]:
        connection = self._checkout()
        try:
            yield connection
        finally:
            self._checkin(connection)

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreError("the state store is closed", location=self._path)
            if os.getpid() != self._pid:
                # Forked: the parent's connections must not be used (or closed) here; open our own.
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        try:
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return connection

    def _checkin(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            if os.getpid() != self._pid:
                return  # the parent's connection, in a forked child: leave it alone
            if not self._closed and not connection.in_transaction:
                self._idle.append(connection)
                return
        self._close_quietly(connection)

    def _close_quietly(self, connection: sqlite3.Connection) -> None:
        try:
            connection.close()
        except sqlite3.Error:  # pragma: no cover - closing is best effort
            logger.debug("%s: closing a connection failed", self._path, exc_info=True)

    def close(self) -> None:
        """Close the store's connections (those in use close when their call ends); further calls raise."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            forked = os.getpid() != self._pid
        if not forked:
            for connection in idle:
                self._close_quietly(connection)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[SqlTx]:
        with self._connected() as connection:
            try:
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield SqlTx(connection.execute)
            except BaseException as exc:
                self._rollback(connection)
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise
            try:
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(connection)
                raise self._error(exc) from exc

    def _rollback(self, connection: sqlite3.Connection) -> None:
        try:
            connection.rollback()
        except sqlite3.Error:
            logger.debug("%s: rollback failed", self._path, exc_info=True)

    def _error(self, exc: sqlite3.Error) -> StoreError:
        message = str(exc)
        name = str(getattr(exc, "sqlite_errorname", ""))
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or message in {
            "file is not a database",
            "database disk image is malformed",
        }:
            return StoreFormatError(
                f"not a sim-servicenow state store: the file is not an SQLite database or is corrupted ({message})",
                location=self._path,
            )
        if name.startswith("SQLITE_BUSY") or message == "database is locked":
            return StoreError(
                f"database is locked: another writer held it for more than {self._busy_timeout:g} s",
                location=self._path,
            )
        if isinstance(exc, sqlite3.IntegrityError) and "correlation_key" in message:
            return StoreError(
                f"a correlation key is already used by another ticket group ({message})", location=self._path
            )
        return StoreError(f"SQLite failed: {message}", location=self._path)

    # ---------------------------------------------------------------------------------------- dialect

    def _encode_time(self, value: datetime) -> str:
        # Fixed-width ISO text in UTC: sorts the way the times compare, and stays readable in the sqlite3 shell.
        return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def _decode_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value).rstrip("Z")).replace(tzinfo=timezone.utc)

    def _encode_json(self, value: Any, what: str) -> str:
        return dump_json(value, what)

    def _decode_json(self, value: Any) -> Any:
        return load_json(value)

    def _lease_ids(self, tx: SqlTx, owner: str, now: Any, until: Any, limit: int) -> list[int]:
        # BEGIN IMMEDIATE already holds the write lock: nobody can lease between this select and the update.
        ids = [
            row[0]
            for row in tx.rows(
                "SELECT id FROM sim_plans WHERE due_at IS NOT NULL AND due_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at, id LIMIT ?",
                (now, now, limit),
            )
        ]
        for chunk in chunked(ids):
            tx.run(
                f"UPDATE sim_plans SET lease_owner = ?, lease_until = ? WHERE id IN ({', '.join('?' * len(chunk))})",  # noqa: S608 - placeholders only
                (owner, until, *chunk),
            )
        return ids
