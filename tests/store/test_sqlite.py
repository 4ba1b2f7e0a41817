"""SQLite specifics: several processes on one file, kill -9 mid-write, foreign and corrupted files."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sim_servicenow.engine import (
    GroupState,
    NewPlan,
    PlanState,
    SqliteStore,
    StoreError,
    StoreFormatError,
)
from sim_servicenow.engine._store_sqlite import APPLICATION_ID

WORKER = str(Path(__file__).with_name("_worker.py"))
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _spawn(*args: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    line = worker.stdout.readline().strip()
    assert line == "ready", f"worker did not start: {line!r} {worker.stderr.read() if worker.stderr else ''}"
    return worker


def test_the_file_is_in_wal_mode_marked_as_ours_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()

    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert [row[0] for row in raw.execute("SELECT version FROM sim_schema_version")] == [1]
    finally:
        raw.close()


def test_several_processes_lease_each_plan_exactly_once(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    with SqliteStore(path) as store:
        store.add_many([NewPlan(plan_key=f"p{i:04}", plan={}) for i in range(600)], now=T0)
    go = tmp_path / "go"
    workers = [_spawn("lease", path, f"w{i}", str(go)) for i in range(4)]
    go.touch()  # all workers are open and waiting: start them together

    leased: dict[str, list[str]] = {}
    for index, worker in enumerate(workers):
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        leased[f"w{index}"] = json.loads(out)

    every = [key for keys in leased.values() for key in keys]
    assert sorted(every) == [f"p{i:04}" for i in range(600)]  # nothing twice, nothing missed
    assert sum(1 for keys in leased.values() if keys) > 1  # they really competed


def _check_consistent(path: str) -> int:
    """Every plan's and group's state is the last state its audit trail records; returns the number of plans."""
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        raw.close()
    with SqliteStore(path) as store:
        plans = 0
        for record in store.iter_plans(page_size=50):
            plans += 1
            trail = store.audit(record.plan_key)
            plan_moves = [e for e in trail if e.group_id is None]
            assert plan_moves[-1].to_state is record.state, record.plan_key
            for group in record.groups:
                moves = [e for e in trail if e.group_id == group.group_id]
                assert (moves[-1].to_state, moves[-1].correlation_key) == (group.state, group.correlation_key)
            if record.state is PlanState.DONE:
                assert record.due_at is None
                assert all(g.state is GroupState.COMMITTED for g in record.groups)
        assert store.counts().total_plans == plans
        return plans


def test_kill_9_during_writes_leaves_a_consistent_store_that_the_next_worker_finishes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    SqliteStore(path).close()
    rng = random.Random(6)
    for round_ in range(6):
        worker = _spawn("churn", path, f"w{round_}")
        time.sleep(rng.uniform(0.05, 0.4))
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        _check_consistent(path)

    drain = _spawn("drain", path, "drainer")
    _out, err = drain.communicate(timeout=60)
    assert drain.returncode == 0, err
    plans = _check_consistent(path)
    with SqliteStore(path) as store:
        assert plans > 0
        assert store.counts().plans[PlanState.DONE] == plans


def test_a_file_that_is_not_sqlite_is_refused_naming_it_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = random.Random(1).randbytes(8192)
    path.write_bytes(content)

    with pytest.raises(StoreFormatError, match="not a sim-servicenow state store") as refused:
        SqliteStore(path)

    assert str(path) in str(refused.value)
    assert refused.value.location == str(path)
    assert path.read_bytes() == content


def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    raw.commit()
    raw.close()
    content = path.read_bytes()

    with pytest.raises(StoreFormatError, match=r"another application's tables \(customers\)"):
        SqliteStore(path)

    assert path.read_bytes() == content  # not switched to WAL, not migrated
    assert not Path(f"{path}-wal").exists()


def test_a_database_with_another_application_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 1234")
    raw.commit()
    raw.close()

    with pytest.raises(StoreFormatError, match="belongs to another application"):
        SqliteStore(path)


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    with SqliteStore(path) as store:
        assert store.add("p1", {}, now=T0)


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_corrupted_store_gives_a_clear_error_not_a_crash(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        store.add_many([NewPlan(plan_key=f"p{i}", plan={"payload": "x" * 200}) for i in range(300)], now=T0)
    data = bytearray(path.read_bytes())
    page = 4096
    garbage = random.Random(2).randbytes(len(data))
    if damage == "header":
        data[:100] = garbage[:100]
    else:
        data[page:] = garbage[page:]  # everything but the first page
    path.write_bytes(bytes(data))

    def open_and_read() -> None:
        with SqliteStore(path) as store:
            list(store.iter_plans())
            store.counts()

    with pytest.raises(StoreFormatError, match="is not an SQLite database or is corrupted") as refused:
        open_and_read()

    assert refused.value.location == str(path)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist") as refused:
        SqliteStore(tmp_path / "nowhere" / "state.db")
    assert str(tmp_path / "nowhere") in str(refused.value)


def test_a_directory_is_not_a_store_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="SQLite failed") as refused:
        SqliteStore(tmp_path)
    assert refused.value.location == str(tmp_path)


def test_a_writer_blocked_past_the_busy_timeout_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"database is locked: another writer held it for more than 0\.2 s"):
            store.add("p1", {}, now=T0)
        assert time.monotonic() - started < 5
        assert store.get("p1") is None  # readers are not blocked by the writer (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.add("p1", {}, now=T0)
    store.close()


def test_a_relative_path_is_pinned_when_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = SqliteStore("state.db")
    monkeypatch.chdir(tmp_path / "b")

    store.add("p1", {}, now=T0)
    store.close()

    assert store.path == str(tmp_path / "a" / "state.db")
    assert not (tmp_path / "b" / "state.db").exists()


@pytest.mark.parametrize("path", ["", ":memory:", "file:x.db?mode=memory"])
def test_in_memory_sqlite_is_not_a_store_path(path: str) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        SqliteStore(path)


def test_leases_honour_the_callers_clock_not_the_wall_clock(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "state.db") as store:
        store.add("p1", {}, now=T0, due_at=T0 + timedelta(days=365))
        assert store.lease_due("w1", now=T0 + timedelta(days=364), limit=1, lease_for=timedelta(seconds=1)) == []
        assert len(store.lease_due("w1", now=T0 + timedelta(days=365), limit=1, lease_for=timedelta(seconds=1))) == 1


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_short_lived_threads_do_not_leave_connections_behind(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)

    def open_files() -> int:
        return sum(1 for fd in Path("/proc/self/fd").iterdir() if os.path.realpath(fd) == str(path))

    for i in range(20):  # as the engine does: a fresh pool of worker threads every cycle
        thread = threading.Thread(target=store.add, args=(f"p{i}", {}), kwargs={"now": T0})
        thread.start()
        thread.join()

    assert store.counts().total_plans == 20
    assert open_files() == 1
    store.close()
    assert open_files() == 0
