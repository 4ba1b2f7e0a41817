"""Persistent stores (SQLite, PostgreSQL): re-opening, schema versions and migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from sim_servicenow.engine import GroupState, PlanState, StoreFormatError, StoreVersionError, TicketGroupRecord
from sim_servicenow.engine._migrations import MIGRATIONS, Migration, apply_migrations, latest_version

if TYPE_CHECKING:
    from conftest import Persistent

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_reopening_keeps_everything_and_migrates_only_once(persistent: Persistent) -> None:
    first = persistent.open()
    first.add("p1", {"n": 1}, source="idn", now=T0)
    record = first.lease_due("w1", now=T0, limit=1, lease_for=timedelta(minutes=5))[0]
    group = TicketGroupRecord(
        group_id="g1", correlation_key="p1/g1", state=GroupState.TICKETED, created_at=T0, ticket={"sys_id": "a"}
    )
    record = first.update("w1", attrs.evolve(record, state=PlanState.ACTIVE).with_group(group), now=T0, detail="x")
    trail = first.audit("p1")
    first.close()

    second = persistent.open()
    third = persistent.open()  # opening an up-to-date database changes nothing

    assert second.get("p1") == record
    assert third.audit("p1") == trail
    assert persistent.execute("SELECT version FROM sim_schema_version ORDER BY version") == [
        (m.version,) for m in MIGRATIONS
    ]


def test_a_database_from_a_newer_version_is_refused(persistent: Persistent) -> None:
    persistent.open().close()
    newer = latest_version() + 1
    persistent.execute(
        "INSERT INTO sim_schema_version (version, description, applied_at)"  # noqa: S608 - a number we made
        f" VALUES ({newer}, 'from the future', CURRENT_TIMESTAMP)"
    )

    with pytest.raises(StoreVersionError, match="upgrade sim-servicenow") as refused:
        persistent.open()

    assert (refused.value.found, refused.value.supported) == (newer, latest_version())
    assert "password" not in str(refused.value)


def test_our_tables_without_a_version_table_are_refused(persistent: Persistent) -> None:
    persistent.open().close()
    persistent.execute("DROP TABLE sim_schema_version")

    with pytest.raises(StoreFormatError, match="exist without sim_schema_version"):
        persistent.open()


class _Raw:
    """Runs ``apply_migrations`` on a bare connection, the way the stores do, in one transaction."""

    def __init__(self, backend: Persistent) -> None:
        self.backend = backend

    def migrate(self, migrations: Sequence[Migration]) -> list[int]:
        if self.backend.kind == "sqlite":
            connection = sqlite3.connect(self.backend.target, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    tables = frozenset(r[0] for r in connection.execute("SELECT name FROM sqlite_master"))
                    applied = apply_migrations(
                        lambda sql, params: connection.execute(sql, params).fetchall(),
                        dialect="sqlite",
                        existing_tables=tables,
                        now=T0,
                        location="test",
                        encode_time=lambda t: t.isoformat(),
                        migrations=migrations,
                    )
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
                return applied
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(self.backend.target, autocommit=True) as connection, connection.transaction():
            cursor = connection.cursor()

            def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                cursor.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
                return cursor.fetchall() if cursor.description is not None else []

            tables = frozenset(
                r[0] for r in execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", ())
            )
            return apply_migrations(
                execute,
                dialect="postgres",
                existing_tables=tables,
                now=T0,
                location="test",
                encode_time=lambda t: t,
                migrations=migrations,
            )


def test_migrations_apply_in_order_and_a_failing_one_leaves_nothing_behind(persistent: Persistent) -> None:
    raw = _Raw(persistent)
    add_note = Migration(
        2,
        "a note per plan",
        ("ALTER TABLE sim_plans ADD COLUMN note TEXT",),
        ("ALTER TABLE sim_plans ADD COLUMN note text",),
    )
    broken = Migration(
        3,
        "half done",
        ("CREATE TABLE sim_half (x INTEGER)", "THIS IS NOT SQL"),
        ("CREATE TABLE sim_half (x integer)", "THIS IS NOT SQL"),
    )

    assert raw.migrate([*MIGRATIONS]) == [1]
    assert raw.migrate([*MIGRATIONS, add_note]) == [2]
    assert raw.migrate([*MIGRATIONS, add_note]) == []
    with pytest.raises(Exception, match=r"THIS|syntax"):
        raw.migrate([*MIGRATIONS, add_note, broken])

    assert persistent.execute("SELECT version FROM sim_schema_version ORDER BY version") == [(1,), (2,)]
    with pytest.raises(Exception, match="sim_half"):
        persistent.execute("SELECT * FROM sim_half")
    with pytest.raises(StoreVersionError):
        persistent.open()  # this code knows version 1 only
    with pytest.raises(ValueError, match="numbered"):
        raw.migrate([add_note])
