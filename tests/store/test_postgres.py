"""PostgreSQL specifics: SKIP LOCKED across connections, password masking, schemas, reconnecting."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sim_servicenow import ConfigError
from sim_servicenow.engine import NewPlan, PostgresStore, StoreError, StoreFormatError, open_store

pytestmark = pytest.mark.postgres

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)
SECRET = "s3cr3t-Pa55"


def test_leasing_skips_rows_another_transaction_has_locked_instead_of_waiting(postgres_dsn: str) -> None:
    # lock_timeout turns a wait (a lease without SKIP LOCKED) into an error instead of a hang.
    store = PostgresStore(
        make_conninfo(postgres_dsn, options=conninfo_to_dict(postgres_dsn)["options"] + " -c lock_timeout=2s")
    )
    store.add_many([NewPlan(plan_key=f"p{i}", plan={}) for i in range(5)], now=T0)
    with psycopg.connect(postgres_dsn) as other:
        other.execute("SELECT id FROM sim_plans WHERE plan_key IN ('p0', 'p3') FOR UPDATE")  # another worker, mid-lease

        started = time.monotonic()
        leased = store.lease_due("w1", now=T0, limit=10, lease_for=LEASE)
        elapsed = time.monotonic() - started

        other.rollback()
    assert [r.plan_key for r in leased] == ["p1", "p2", "p4"]
    assert elapsed < 1.5
    assert [r.plan_key for r in store.lease_due("w2", now=T0, limit=10, lease_for=LEASE)] == ["p0", "p3"]
    store.close()


def test_workers_on_separate_connections_each_lease_distinct_plans(postgres_dsn: str) -> None:
    stores = [PostgresStore(postgres_dsn) for _ in range(6)]
    stores[0].add_many([NewPlan(plan_key=f"p{i:03}", plan={}) for i in range(600)], now=T0)
    start = threading.Barrier(len(stores))
    leased: list[list[str]] = [[] for _ in stores]

    def work(index: int) -> None:
        start.wait()
        while batch := stores[index].lease_due(f"w{index}", now=T0, limit=4, lease_for=LEASE):
            leased[index] += [r.plan_key for r in batch]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in stores:
        store.close()

    every = sorted(key for keys in leased for key in keys)
    assert every == [f"p{i:03}" for i in range(600)]
    assert sum(1 for keys in leased if keys) > 1


def _texts(error: BaseException) -> str:
    """Everything an error shows: its message, repr and those of its causes and contexts."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None:
        seen += [str(current), repr(current), *(str(p) for p in getattr(current, "problems", ()))]
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://sim:{SECRET}@127.0.0.1:9/sim",
        f"postgres://sim:{SECRET}@127.0.0.1:9/sim?sslmode=disable",
        f"host=127.0.0.1 port=9 user=sim password={SECRET} dbname=sim",
        f"postgresql://sim@127.0.0.1:9/sim?password={SECRET}",
    ],
)
def test_a_dsn_password_never_shows_in_errors_or_logs(dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(StoreError, match="PostgreSQL connection failed: connection to server") as refused:
        PostgresStore(dsn, connect_timeout=2)
    with pytest.raises(StoreError) as via_url:
        open_store(dsn) if "://" in dsn else PostgresStore(dsn, connect_timeout=2)

    assert "***" in str(refused.value)
    for error in (refused.value, via_url.value):
        assert SECRET not in _texts(error)
    assert SECRET not in caplog.text


@pytest.mark.parametrize("dsn", [f"postgresql://sim:{SECRET}@127.0.0.1/sim?bogus=1", f"password={SECRET} nonsense"])
def test_an_unparsable_dsn_is_a_config_error_without_the_password(dsn: str) -> None:
    with pytest.raises(ConfigError, match="invalid PostgreSQL DSN") as refused:
        PostgresStore(dsn)
    assert SECRET not in _texts(refused.value)


def test_a_working_store_shows_its_dsn_masked(postgres_dsn: str) -> None:
    with PostgresStore(make_conninfo(postgres_dsn, password=SECRET)) as store:  # trust auth ignores it
        assert store.add("p1", {}, now=T0)
        assert SECRET not in repr(store)
        assert SECRET not in store.location
        assert "password=***" in store.location


def test_tables_of_another_application_with_our_names_are_refused(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as raw:
        raw.execute("CREATE TABLE sim_plans (id integer)")

    with pytest.raises(StoreFormatError, match="sim_plans exist without sim_schema_version"):
        PostgresStore(postgres_dsn)


def test_other_tables_in_the_schema_are_fine(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as raw:
        raw.execute("CREATE TABLE customers (id integer)")

    with PostgresStore(postgres_dsn) as store:
        assert store.add("p1", {}, now=T0)


def test_a_search_path_without_an_existing_schema_is_explained(postgres_server_dsn: str) -> None:
    dsn = make_conninfo(postgres_server_dsn, options="-c search_path=no_such_schema")
    with pytest.raises(StoreError, match="search_path names no existing schema"):
        PostgresStore(dsn)


def test_times_come_back_in_utc_whatever_the_server_time_zone(postgres_dsn: str) -> None:
    options = conninfo_to_dict(postgres_dsn)["options"]
    with PostgresStore(make_conninfo(postgres_dsn, options=f"{options} -c TimeZone=Asia/Tokyo")) as store:
        store.add("p1", {}, now=datetime(2030, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=-4))))
        record = store.get("p1")

    assert record is not None
    assert record.received_at == datetime(2030, 6, 1, 13, 30, tzinfo=timezone.utc)
    assert record.received_at.tzinfo is timezone.utc


def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(postgres_dsn: str) -> None:
    name = f"sim-test-{uuid.uuid4().hex[:12]}"
    store = PostgresStore(make_conninfo(postgres_dsn, application_name=name))
    store.add("p1", {}, now=T0)
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()
    assert killed == [(True,)]

    with pytest.raises(StoreError, match="PostgreSQL connection failed"):
        store.get("p1")
    record = store.get("p1")

    assert record is not None
    store.close()
