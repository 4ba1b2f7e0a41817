"""``sim-servicenow run`` as an operating system process: killed at random moments, stopped by SIGTERM, and given
a state file that is not its own.

The fakes are served by the test process on loopback; the command reads a TOML configuration whose secrets come
from its environment, and keeps its state in a SQLite file (WAL) that every restart reopens.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from sim_servicenow.engine import GroupState, PlanState, SqliteStore
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, FaultKind, WorkPolicy, serve

from ._cli import IDN_SECRET_ENV, SN_PASSWORD_ENV, CliProcess, run_cli, write_config
from ._soak import add_fault_mix

ENV = {SN_PASSWORD_ENV: "admin", IDN_SECRET_ENV: FakeIdentityNow.DEFAULT_CLIENT_SECRET}
VARIABLES = ["sim_correlation_id", "short_description", "description"]


@attrs.define
class Site:
    """Both fakes served, a configuration file for them, the state file, the seeded work items."""

    sn: FakeServiceNow
    idn: FakeIdentityNow
    config: Path
    store: Path
    work_items: list[str]

    def run(self, *extra: str) -> CliProcess:
        return CliProcess(["run", "--config", str(self.config), "--interval", "0.05", *extra], ENV)

    def store_counts(self) -> Counter[PlanState]:
        with SqliteStore(self.store) as store:
            return Counter(store.counts().plans)

    def assert_promise_kept(self) -> None:
        """Every plan DONE, one ticket per group (none unknown to the store), each work item told once."""
        with SqliteStore(self.store) as store:
            records = list(store.iter_plans())
        assert len(records) == len(self.work_items)
        assert {r.plan_key for r in records if r.state is not PlanState.DONE} == set()
        keys = Counter(r["correlation_id"] for r in self.sn.records("sc_request"))
        assert [k for k, n in keys.items() if n > 1] == []
        assert set(keys) == {g.correlation_key for r in records for g in r.groups}
        told = {w: len(self.idn.completions(w)) + len(self.idn.forwards(w)) for w in self.work_items}
        assert [w for w, n in told.items() if n != 1] == []


SiteFactory = Callable[..., Site]


@pytest.fixture
def site_factory(tmp_path: Path) -> Iterator[SiteFactory]:
    """Builds a Site: both fakes served (until the test ends), ``plans`` pending work items on two sources."""
    with contextlib.ExitStack() as stack:

        def build(plans: int, *, close_after: float = 1.5, seed: int = 1) -> Site:
            desk_policy = WorkPolicy(close_after=close_after, outcomes={"complete": 3, "incomplete": 1}, seed=seed)
            sn = FakeServiceNow(seed=seed, work_policy=desk_policy)
            idn = FakeIdentityNow(seed=seed)
            badge, laptop = idn.add_source("Badge System"), idn.add_source("Laptop Fleet")
            badge_item, laptop_item = sn.add_catalog_item("Badge", VARIABLES), sn.add_catalog_item("Laptop", VARIABLES)
            desk = idn.add_identity("provisioning.desk")["id"]
            work_items = [
                idn.add_manual_work_item((badge if n % 2 else laptop)["id"], "Create", f"user{n:04d}", {"n": str(n)})[
                    "id"
                ]
                for n in range(plans)
            ]
            sn_served = stack.enter_context(serve(sn))
            idn_served = stack.enter_context(serve(idn))
            store = tmp_path / "state.db"
            config = write_config(
                tmp_path / "integration.toml",
                servicenow=sn_served,
                identitynow=idn_served,
                sources=[(badge["id"], badge["name"], badge_item), (laptop["id"], laptop["name"], laptop_item)],
                store=store,
                forward_failed_to=desk,
            )
            return Site(sn, idn, config, store, work_items)

        yield build


def _integrity(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def _kill_at_random_moments(site: Site, kills: int, rng: random.Random, drain_for: float) -> list[int]:
    """Start, kill with SIGKILL after a random moment, restart, ... then drain; returns the leases each kill left."""
    stranded = []
    for n in range(kills):
        worker_id = f"killed-{n}"
        worker = site.run("--worker-id", worker_id)
        try:
            worker.wait_ready()
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            worker.kill()
        # Killed mid-write or not, the file is a consistent database the next start can open.
        assert _integrity(site.store) == "ok"
        # The dead worker's leases would expire after the engine's lease time (5 minutes); expire them now rather
        # than wait, as a worker that outlived them would.
        with SqliteStore(site.store) as store:
            held = [r.plan_key for r in store.iter_plans() if r.lease_owner == worker_id]
            store.release(worker_id, held)
        stranded.append(len(held))
    drain = site.run()
    try:
        drain.wait_ready()
        deadline = time.monotonic() + drain_for
        while site.store_counts()[PlanState.DONE] < len(site.work_items):
            assert time.monotonic() < deadline, f"not drained in {drain_for} s: {site.store_counts()}"
            time.sleep(0.25)
    finally:
        drain.kill()
    return stranded


def test_sigkill_of_the_run_command_at_random_moments_loses_and_duplicates_nothing(site_factory: SiteFactory) -> None:
    site = site_factory(150)
    stranded = _kill_at_random_moments(site, kills=12, rng=random.Random(91), drain_for=60)
    print(f"\nSIGKILL x{len(stranded)}: plans leased by the killed worker each time: {stranded}")
    site.assert_promise_kept()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_of_the_run_command_under_faults(site_factory: SiteFactory) -> None:
    site = site_factory(600, seed=2)
    add_fault_mix(site.sn.faults)
    add_fault_mix(site.idn.faults)
    stranded = _kill_at_random_moments(site, kills=40, rng=random.Random(92), drain_for=900)
    print(f"\nSIGKILL x{len(stranded)} under faults: plans leased by the killed worker each time: {stranded}")
    site.assert_promise_kept()


def test_sigterm_stops_within_seconds_and_the_next_start_finishes_the_rest(site_factory: SiteFactory) -> None:
    site = site_factory(300, close_after=0.5)
    # Every order takes a while, so a batch of 300 plans is far from done when the signal comes.
    site.sn.faults.add(FaultKind.LATENCY, delay=0.1, method="POST", path="/api/sn_sc/")
    worker = site.run()
    try:
        worker.wait_ready()
        deadline = time.monotonic() + 30
        while len(site.sn.records("sc_request")) < 8:
            assert time.monotonic() < deadline, worker.output
            time.sleep(0.02)
        worker.signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = worker.wait(timeout=15)
        stopped_in = time.monotonic() - signalled
    finally:
        worker.kill()
    assert code == 0, worker.output
    assert stopped_in < 3.0, f"took {stopped_in:.1f} s to stop"
    assert "SIGTERM" in worker.output or "Terminated" in worker.output
    assert "Traceback" not in worker.output

    # Stopped, not crashed: nothing half-way. Every ticket that exists is recorded against its group, and no group
    # is left between "creating" and "ticketed" for the next start to look up.
    with SqliteStore(site.store) as store:
        groups = [g for r in store.iter_plans() for g in r.groups]
        unfinished = store.counts().plans[PlanState.DONE] < len(site.work_items)
    assert unfinished, "the whole run finished before the signal; the test proves nothing"
    assert [g.correlation_key for g in groups if g.state is GroupState.CREATING] == []
    tickets = {r["correlation_id"] for r in site.sn.records("sc_request")}
    assert tickets == {g.correlation_key for g in groups if g.ticket is not None}

    site.sn.faults.clear()
    restarted = site.run()
    try:
        restarted.wait_ready()
        deadline = time.monotonic() + 60
        while site.store_counts()[PlanState.DONE] < len(site.work_items):
            assert time.monotonic() < deadline, restarted.output[-2000:]
            time.sleep(0.25)
        restarted.signal(signal.SIGTERM)
        assert restarted.wait(timeout=15) == 0
    finally:
        restarted.kill()
    site.assert_promise_kept()


@pytest.mark.parametrize("damage", ["not-sqlite", "foreign", "truncated"])
def test_a_corrupted_or_foreign_state_file_is_a_clear_error_and_left_alone(
    site_factory: SiteFactory, damage: str
) -> None:
    site = site_factory(3)
    if damage == "not-sqlite":
        site.store.write_bytes(b"these are somebody's notes, not a database\n" * 100)
    elif damage == "foreign":
        with sqlite3.connect(site.store) as foreign:
            foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
            foreign.execute("INSERT INTO invoices (amount) VALUES (12.5)")
        foreign.close()
    else:
        # A real store whose pages were cut short (a disk that filled up, a copy interrupted).
        with SqliteStore(site.store):
            pass
        site.store.write_bytes(site.store.read_bytes()[:1500])
    before = site.store.read_bytes()

    for _ in range(2):  # a service manager restarting it gets the same answer, not a different crash
        started = time.monotonic()
        result = run_cli(["run", "--config", str(site.config), "--once"], ENV, timeout=60)
        assert time.monotonic() - started < 20
        # The configuration exit code: a service manager told not to restart on it (RestartPreventExitStatus=2)
        # stops instead of looping.
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert str(site.store) in errors[0]
        assert "state store" in errors[0]
        assert "Traceback" not in result.stderr
        assert site.store.read_bytes() == before
    assert site.sn.records("sc_request") == []
    assert all(not site.idn.completions(w) for w in site.work_items)
