"""Fixtures of the state-store tests: the same tests run against every backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sim_servicenow.engine import MemoryStore, PostgresStore, SqliteStore, StateStore

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], StateStore]]:
    """Opens stores of one backend on one shared database (each call a new store object and connection)."""
    opened: list[StateStore] = []
    if request.param == "memory":
        shared = MemoryStore()

        def make() -> StateStore:
            return shared

    elif request.param == "sqlite":
        path = tmp_path / "state.db"

        def make() -> StateStore:
            return SqliteStore(path)

    else:
        dsn = request.getfixturevalue("postgres_dsn")

        def make() -> StateStore:
            return PostgresStore(dsn)

    def opener() -> StateStore:
        store = make()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: Callable[[], StateStore]) -> StateStore:
    """A fresh, empty store of each backend."""
    return store_factory()


class Persistent:
    """A database that outlives its store objects: open stores on it, or run raw SQL against it."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        self.target = target  # the SQLite path or the PostgreSQL DSN
        self.opened: list[StateStore] = []

    def open(self) -> StateStore:
        store: StateStore = SqliteStore(self.target) if self.kind == "sqlite" else PostgresStore(self.target)
        self.opened.append(store)
        return store

    def execute(self, statement: str) -> list[tuple[object, ...]]:
        """Run one statement outside any store, in its own transaction; return its rows."""
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.target)
            try:
                with connection:
                    return connection.execute(statement).fetchall()
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description is not None else []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def persistent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Persistent]:
    """A persistent backend (SQLite, PostgreSQL) on a fresh database."""
    target = str(tmp_path / "state.db") if request.param == "sqlite" else request.getfixturevalue("postgres_dsn")
    backend = Persistent(request.param, target)
    yield backend
    for store in backend.opened:
        store.close()
