"""Four engine workers on one PostgreSQL, one of them killed mid-run: nothing lost, nothing doubled, no overlap.

Every worker is a separate process built from the same configuration (``store_url`` = the test's database),
polling the same IdentityNow work items and sharing the plans through leases. One is killed with SIGKILL while it
holds leases; the others take its plans over once the leases expire. At the end:

- every plan is DONE, recorded once, with exactly one ticket per ticket group and its work item told once;
- the killed worker's unfinished plans were finished by the others;
- no plan was handled by two workers at once — from the lease history, the audit trail and the fakes' request
  logs (see ``_evidence.py``);
- the work was shared: every worker that lived created tickets and finished plans.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from sim_servicenow.engine import PlanState, PostgresStore

from ._evidence import audit_actions, idn_actions, install_lease_log, lease_violations, read_lease_log, sn_actions
from ._fleet import CORRELATION_VARIABLE, WORKER_HEADER, Fleet, Scenario, WorkerSettings

pytestmark = pytest.mark.postgres

WORKERS = 4
VICTIM = "w2"
SETTINGS = WorkerSettings(lease_for=3.0, batch_size=50, concurrency=4, cycle_interval=0.2)


def _held_by(dsn: str, owner: str) -> set[str]:
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT plan_key FROM sim_plans WHERE lease_owner = %s AND state <> 'done'", (owner,)
        ).fetchall()
    return {row[0] for row in rows}


def _kill_while_holding(fleet: Fleet, store: PostgresStore, victim: str, *, after_done: int) -> tuple[float, set[str]]:
    """Wait until ``after_done`` plans are DONE and ``victim`` holds leases; SIGKILL it. Returns when, and its plans."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if store.counts().plans[PlanState.DONE] >= after_done and _held_by(fleet.dsn, victim):
            fleet.workers[victim].kill()
            killed_at = time.time()
            # Read after the kill: a dead worker's leases stay exactly as they were.
            return killed_at, _held_by(fleet.dsn, victim)
        time.sleep(0.01)
    raise AssertionError(f"{victim} never held a lease after {after_done} plans were done")


def run_fleet_and_kill_one(dsn: str, workdir: Path, plans: int, *, timeout: float) -> None:
    with PostgresStore(dsn) as store:
        install_lease_log(dsn)
        with Fleet(Scenario(plans), dsn, workdir, SETTINGS) as fleet:
            go_file = workdir / "go"  # all start at once, so none takes every plan before the others are up
            fleet.start_many(WORKERS, go_file=go_file)
            go_file.touch()
            killed_at, orphaned = _kill_while_holding(fleet, store, VICTIM, after_done=plans // 5)
            fleet.wait_done(store, timeout=timeout)
            records = {record.plan_key: record for record in store.iter_plans()}
            trails = {key: store.audit(key) for key in records}
            history = read_lease_log(dsn)
            sn_requests, idn_requests = list(fleet.sn.requests), list(fleet.idn.requests)
            tickets = fleet.sn.records("sc_request")
            told = {wid: len(fleet.idn.completions(wid)) + len(fleet.idn.forwards(wid)) for wid in fleet.work_items}

    # Every plan ended, recorded once although four workers polled the same work items.
    assert len(records) == plans
    assert {r.state for r in records.values()} == {PlanState.DONE}
    received = Counter(
        key for key, trail in trails.items() for e in trail if e.from_state is None and e.group_id is None
    )
    assert [key for key in records if received[key] != 1] == []

    # Exactly one ticket per ticket group, and each work item completed or forwarded exactly once.
    keys = Counter(ticket["correlation_id"] for ticket in tickets)
    assert [key for key, n in keys.items() if n > 1] == []
    assert set(keys) == {g.correlation_key for r in records.values() for g in r.groups}
    assert len(tickets) == plans
    assert [wid for wid, n in told.items() if n != 1] == []

    # The killed worker held unfinished plans; others finished every one of them after the kill.
    assert orphaned, "the victim held no lease when killed: the takeover was not exercised"
    for key in orphaned:
        finishers = {e.owner for e in trails[key] if e.at.timestamp() > killed_at}
        assert finishers, key
        assert VICTIM not in finishers, (key, finishers)

    # No plan handled by two workers at once: every move and every outward effect under a live, exclusive lease.
    plan_of_key = {e.correlation_key: key for key, trail in trails.items() for e in trail if e.correlation_key}
    actions = [
        *audit_actions(trails),
        *sn_actions(sn_requests, plan_of_key, header=WORKER_HEADER, variable=CORRELATION_VARIABLE),
        *idn_actions(idn_requests, header=WORKER_HEADER),
    ]
    assert sum(a.what.startswith("ordered") for a in actions) == plans  # the evidence covers every order
    assert lease_violations(history, actions, lease_for=SETTINGS.lease_for) == []

    # The work was shared: every surviving worker ordered tickets and reported plans.
    ordered_by = Counter(a.owner for a in actions if a.what.startswith("ordered"))
    reported_by = Counter(a.owner for a in actions if "work item" in a.what)
    survivors = {f"w{n}" for n in range(1, WORKERS + 1)} - {VICTIM}
    assert survivors <= set(ordered_by), ordered_by
    assert survivors <= set(reported_by), reported_by


def test_four_workers_one_killed_every_plan_ends_once(postgres_dsn: str, tmp_path: Path) -> None:
    run_fleet_and_kill_one(postgres_dsn, tmp_path, 400, timeout=90)


@pytest.mark.slow
def test_four_workers_one_killed_with_2000_plans(postgres_dsn: str, tmp_path: Path) -> None:
    run_fleet_and_kill_one(postgres_dsn, tmp_path, 2000, timeout=240)
