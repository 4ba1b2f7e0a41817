"""Versioned schema migrations of the SQL stores (SQLite and PostgreSQL).

The schema version lives in the ``sim_schema_version`` table, one row per applied migration. Opening a store
applies the missing migrations in order, all in one transaction with the check that decided them, so two
processes opening a new database at once cannot both migrate it, and a failed migration leaves nothing behind.
A new migration is appended to `MIGRATIONS` with the next version number; released ones never change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from ._store import StoreFormatError, StoreVersionError

__all__ = ["MIGRATIONS", "TABLES", "Dialect", "Migration", "apply_migrations", "latest_version"]

Dialect = Literal["sqlite", "postgres"]

#: Every table the stores create; a database holding one of them without our version table is foreign.
TABLES = ("sim_schema_version", "sim_plans", "sim_ticket_groups", "sim_audit")


@attrs.frozen
class Migration:
    """One step of the schema, spelled for each dialect.

    Attributes:
        version: its number; migrations are numbered 1, 2, 3 ... without gaps.
        description: what it does, recorded in ``sim_schema_version``.
        sqlite: the statements for SQLite.
        postgres: the statements for PostgreSQL.
    """

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """The statements for ``dialect``."""
        return self.sqlite if dialect == "sqlite" else self.postgres


_VERSION_TABLE = {
    "sqlite": (
        "CREATE TABLE sim_schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    ),
    "postgres": (
        "CREATE TABLE sim_schema_version ("
        " version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL)"
    ),
}

# Times are ISO-8601 UTC text in SQLite (fixed width, so they sort as they compare) and timestamptz in PostgreSQL.
# JSON is text in SQLite and jsonb in PostgreSQL.
_INITIAL_SQLITE = (
    """CREATE TABLE sim_plans (
        id INTEGER PRIMARY KEY,
        plan_key TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        plan TEXT NOT NULL,
        state TEXT NOT NULL,
        outcome TEXT,
        detail TEXT NOT NULL,
        received_at TEXT NOT NULL,
        finished_at TEXT,
        due_at TEXT,
        lease_owner TEXT,
        lease_until TEXT,
        version INTEGER NOT NULL)""",
    "CREATE INDEX sim_plans_due ON sim_plans (due_at, id) WHERE due_at IS NOT NULL",
    "CREATE INDEX sim_plans_state ON sim_plans (state, id)",
    "CREATE INDEX sim_plans_outcome ON sim_plans (outcome, id)",
    "CREATE INDEX sim_plans_source ON sim_plans (source, id)",
    """CREATE TABLE sim_ticket_groups (
        plan_id INTEGER NOT NULL REFERENCES sim_plans (id) ON DELETE CASCADE,
        group_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        correlation_key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        ticket TEXT,
        ticket_number TEXT,
        last_status TEXT,
        status_values TEXT,
        unknown_status INTEGER NOT NULL,
        next_check_at TEXT,
        expires_at TEXT,
        detail TEXT NOT NULL,
        PRIMARY KEY (plan_id, group_id))""",
    "CREATE INDEX sim_ticket_groups_number ON sim_ticket_groups (ticket_number) WHERE ticket_number IS NOT NULL",
    """CREATE TABLE sim_audit (
        id INTEGER PRIMARY KEY,
        plan_id INTEGER NOT NULL REFERENCES sim_plans (id) ON DELETE CASCADE,
        group_id TEXT,
        correlation_key TEXT,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at TEXT NOT NULL,
        owner TEXT,
        detail TEXT NOT NULL)""",
    "CREATE INDEX sim_audit_plan ON sim_audit (plan_id, id)",
)

_INITIAL_POSTGRES = (
    """CREATE TABLE sim_plans (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_key text NOT NULL UNIQUE,
        source text NOT NULL,
        plan jsonb NOT NULL,
        state text NOT NULL,
        outcome text,
        detail text NOT NULL,
        received_at timestamptz NOT NULL,
        finished_at timestamptz,
        due_at timestamptz,
        lease_owner text,
        lease_until timestamptz,
        version integer NOT NULL)""",
    "CREATE INDEX sim_plans_due ON sim_plans (due_at, id) WHERE due_at IS NOT NULL",
    "CREATE INDEX sim_plans_state ON sim_plans (state, id)",
    "CREATE INDEX sim_plans_outcome ON sim_plans (outcome, id)",
    "CREATE INDEX sim_plans_source ON sim_plans (source, id)",
    """CREATE TABLE sim_ticket_groups (
        plan_id bigint NOT NULL REFERENCES sim_plans (id) ON DELETE CASCADE,
        group_id text NOT NULL,
        position integer NOT NULL,
        correlation_key text NOT NULL UNIQUE,
        state text NOT NULL,
        created_at timestamptz NOT NULL,
        attempt integer NOT NULL,
        ticket jsonb,
        ticket_number text,
        last_status text,
        status_values jsonb,
        unknown_status boolean NOT NULL,
        next_check_at timestamptz,
        expires_at timestamptz,
        detail text NOT NULL,
        PRIMARY KEY (plan_id, group_id))""",
    "CREATE INDEX sim_ticket_groups_number ON sim_ticket_groups (ticket_number) WHERE ticket_number IS NOT NULL",
    """CREATE TABLE sim_audit (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_id bigint NOT NULL REFERENCES sim_plans (id) ON DELETE CASCADE,
        group_id text,
        correlation_key text,
        from_state text,
        to_state text NOT NULL,
        at timestamptz NOT NULL,
        owner text,
        detail text NOT NULL)""",
    "CREATE INDEX sim_audit_plan ON sim_audit (plan_id, id)",
)

#: Every migration, oldest first.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "plans, ticket groups and audit trail", _INITIAL_SQLITE, _INITIAL_POSTGRES),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The version a fully migrated database has."""
    return migrations[-1].version if migrations else 0


def apply_migrations(
    execute: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
    *,
    dialect: Dialect,
    existing_tables: frozenset[str],
    now: datetime,
    location: str,
    encode_time: Callable[[datetime], Any],
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Bring the schema up to date, inside the caller's (write) transaction.

    Args:
        execute: runs one statement with ``?`` placeholders and returns its rows.
        dialect: which spelling of the statements to run.
        existing_tables: the names of the tables already in the database (or the PostgreSQL schema).
        now: recorded as the time each migration was applied.
        location: the store's path or masked URL, for error messages.
        encode_time: turns a datetime into the dialect's stored form.
        migrations: the migrations to apply (the default: every released one).

    Returns:
        The versions applied (empty when the schema was already current).

    Raises:
        StoreFormatError: the database holds tables of ours without our version table.
        StoreVersionError: the database's schema is newer than ``migrations`` know.
    """
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise ValueError(f"migrations must be numbered {expected}, got {[m.version for m in migrations]}")
    if "sim_schema_version" not in existing_tables:
        clashing = sorted(existing_tables & set(TABLES))
        if clashing:
            raise StoreFormatError(
                f"tables {', '.join(clashing)} exist without sim_schema_version; "
                "they were not made by sim-servicenow (use another database or schema)",
                location=location,
            )
        execute(_VERSION_TABLE[dialect], ())
        current = 0
    else:
        rows = execute("SELECT max(version) FROM sim_schema_version", ())
        current = int(rows[0][0] or 0)
    supported = latest_version(migrations)
    if current > supported:
        raise StoreVersionError(found=current, supported=supported, location=location)
    applied: list[int] = []
    for migration in migrations[current:]:
        for statement in migration.statements(dialect):
            execute(statement, ())
        execute(
            "INSERT INTO sim_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, encode_time(now)),
        )
        applied.append(migration.version)
    return applied
