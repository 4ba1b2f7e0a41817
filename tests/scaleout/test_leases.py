"""A worker keeps its leases while it works: a step slower than ``lease_for`` does not hand the plan to another.

Two engines share one PostgreSQL store. Worker ``slow`` leases the only plan and orders its ticket, but ServiceNow
takes longer to answer than the lease lasts. Worker ``eager`` runs a cycle meanwhile. Were the lease left to
expire, ``eager`` would take the plan over, find no ticket for its correlation key yet (the order is still in
flight) and order a second one. The engine renews the leases of the batch in hand, so ``eager`` finds nothing due.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from sim_servicenow.engine import CycleReport, IntegrationEngine, PlanState, PostgresStore
from sim_servicenow.http import RetryPolicy, Timeout
from sim_servicenow.testing import FaultKind

from ._evidence import audit_actions, install_lease_log, lease_violations, read_lease_log, sn_actions
from ._fleet import CORRELATION_VARIABLE, WORKER_HEADER, Fleet, Scenario

pytestmark = pytest.mark.postgres

LEASE = timedelta(seconds=1)
ORDER_DELAY = 2.5  # seconds ServiceNow takes to answer the order: longer than the lease


def _engine(fleet: Fleet, worker_id: str) -> IntegrationEngine:
    session = requests.Session()
    session.headers[WORKER_HEADER] = worker_id  # the fake's request log then says who ordered
    engine = IntegrationEngine.from_config(
        fleet.config,
        servicenow_session=session,
        retry=RetryPolicy.never(),
        worker_id=worker_id,
        lease_for=LEASE,
        batch_size=10,
    )
    engine.ticketing.client.http.timeout = Timeout(connect=2, read=10)  # type: ignore[attr-defined]
    return engine


def test_a_step_slower_than_the_lease_keeps_the_plan_with_its_worker(postgres_dsn: str, tmp_path: Path) -> None:
    with PostgresStore(postgres_dsn) as store:
        install_lease_log(postgres_dsn)
        with Fleet(Scenario(plans=1, close_after=None), postgres_dsn, tmp_path) as fleet:
            fleet.sn.faults.add(FaultKind.LATENCY, delay=ORDER_DELAY, times=1, method="POST", path="/api/sn_sc/")
            slow, eager = _engine(fleet, "slow"), _engine(fleet, "eager")
            reports: list[CycleReport] = []
            cycle = threading.Thread(target=lambda: reports.append(slow.run_once()))
            cycle.start()
            time.sleep(LEASE.total_seconds() * 1.5)  # the order is in flight, the first lease has run out
            eager_report = eager.run_once()
            cycle.join(timeout=30)
            tickets = fleet.sn.records("sc_request")
            (record,) = store.iter_plans()
            trail = store.audit(record.plan_key)
            history = read_lease_log(postgres_dsn)
            sn_requests = list(fleet.sn.requests)
            slow.store.close()
            eager.store.close()

    assert fleet.sn.faults.counts[FaultKind.LATENCY.value] == 1  # the order really was slower than the lease
    assert len(tickets) == 1, [t["number"] for t in tickets]
    assert (reports[0].created, eager_report.created) == (1, 0)
    assert record.state is PlanState.ACTIVE
    assert {e.owner for e in trail} == {None, "slow"}
    plan_of_key = {e.correlation_key: record.plan_key for e in trail if e.correlation_key}
    orders = sn_actions(sn_requests, plan_of_key, header=WORKER_HEADER, variable=CORRELATION_VARIABLE)
    assert [a.owner for a in orders if a.what.startswith("ordered")] == ["slow"]
    actions = [*audit_actions({record.plan_key: trail}), *orders]
    assert lease_violations(history, actions, lease_for=LEASE.total_seconds()) == []
