"""A worker process for the SQLite multi-process tests: ``python _worker.py COMMAND PATH OWNER [GO_FILE]``.

- ``lease``: waits for GO_FILE, leases batches of 3 until nothing is due, prints the leased keys as JSON.
- ``churn``: forever records plans and moves them (and plans abandoned by killed workers) through their life,
  in real time with short leases; prints ``ready`` once the store is open. The test kills it with SIGKILL.
- ``drain``: like churn without recording new plans; exits when every plan is DONE.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone

import attrs

from sim_servicenow.engine import (
    GroupState,
    LeaseLostError,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    SqliteStore,
    StaleRecordError,
    TicketGroupRecord,
)

DUE = datetime(2030, 1, 1, tzinfo=timezone.utc)
LEASE = timedelta(milliseconds=300)


def lease(path: str, owner: str, go_file: str) -> None:
    store = SqliteStore(path)
    print("ready", flush=True)
    while True:
        try:
            with open(go_file):
                break
        except FileNotFoundError:
            time.sleep(0.002)
    keys: list[str] = []
    while batch := store.lease_due(owner, now=DUE, limit=3, lease_for=timedelta(hours=1)):
        keys += [record.plan_key for record in batch]
        time.sleep(0.001)  # the work a real worker would do between leases
    print(json.dumps(keys), flush=True)


def advance(store: SqliteStore, owner: str, record: PlanRecord) -> None:
    """One step of a plan's life: a state change of the plan or of one group, as the engine makes them."""
    now = datetime.now(timezone.utc)
    if record.state is PlanState.RECEIVED:
        groups = [
            TicketGroupRecord(
                group_id=g, correlation_key=f"{record.plan_key}/{g}", state=GroupState.RECEIVED, created_at=now
            )
            for g in ("a", "b")
        ]
        record = attrs.evolve(record, state=PlanState.ACTIVE, groups=groups, due_at=now)
        store.update(owner, record, now=now, detail="split")
        return
    if record.state is PlanState.REPORTING:
        store.update(owner, attrs.evolve(record, state=PlanState.DONE), now=now, detail="reported")
        return
    for group in record.groups:
        following = {
            GroupState.RECEIVED: GroupState.CREATING,
            GroupState.CREATING: GroupState.TICKETED,
            GroupState.TICKETED: GroupState.COMMITTED,
        }.get(group.state)
        if following is not None:
            moved = attrs.evolve(
                group, state=following, ticket={"n": group.attempt}, ticket_number=f"T-{group.correlation_key}"
            )
            store.update(owner, record.with_group(moved), now=now, detail=f"{group.group_id} {following.value}")
            return
    report = attrs.evolve(record, state=PlanState.REPORTING, outcome=PlanOutcome.COMMITTED)
    store.update(owner, report, now=now, detail="all committed")


def churn(path: str, owner: str, *, record_new: bool) -> None:
    store = SqliteStore(path)
    print("ready", flush=True)
    serial = 0
    while True:
        now = datetime.now(timezone.utc)
        if record_new:
            store.add_many(
                [NewPlan(plan_key=f"{owner}-{serial}-{i}", plan={"serial": serial}) for i in range(3)], now=now
            )
            serial += 1
        leased = store.lease_due(owner, now=now, limit=10, lease_for=LEASE)
        if not record_new and not leased:
            if store.counts().plans[PlanState.DONE] == store.counts().total_plans:
                return
            time.sleep(0.05)  # abandoned plans wait for their lease to expire
        for record in leased:
            current = record
            while current.state is not PlanState.DONE:
                try:
                    advance(store, owner, current)
                except (LeaseLostError, StaleRecordError):
                    break
                fetched = store.get(current.plan_key)
                assert fetched is not None
                current = fetched
            store.release(owner, [record.plan_key])


if __name__ == "__main__":
    command, path, owner, *rest = sys.argv[1:]
    if command == "lease":
        lease(path, owner, rest[0])
    else:
        churn(path, owner, record_new=command == "churn")
