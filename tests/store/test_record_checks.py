"""record_checks: the polling fast path writes quiet checks of many leased plans in one go, on every store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs

from sim_servicenow.engine import CheckedGroup, CheckedPlan, GroupState, PlanState, StateStore, TicketGroupRecord

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _ticketed(store: StateStore, key: str, owner: str = "w1") -> None:
    store.add(key, {"key": key}, now=T0)
    [record] = [
        r for r in store.lease_due(owner, now=T0, limit=100, lease_for=timedelta(minutes=5)) if r.plan_key == key
    ]
    group = TicketGroupRecord(
        group_id="g",
        correlation_key=f"{key}/g",
        state=GroupState.TICKETED,
        created_at=T0,
        ticket={"system": "servicenow", "kind": "incident", "id": "1", "number": "INC1"},
        ticket_number=f"INC-{key}",
        next_check_at=T0,
    )
    store.update(owner, attrs.evolve(record, state=PlanState.ACTIVE, groups=(group,), due_at=T0), now=T0)


def _check(key: str, minutes: int) -> CheckedPlan:
    later = T0 + timedelta(minutes=minutes)
    group = CheckedGroup("g", "Queued", {"state": "2"}, False, later, "INC state=2")
    return CheckedPlan(key, later, (group,))


def test_quiet_checks_are_written_without_audit_rows(store: StateStore) -> None:
    for key in ("a", "b"):
        _ticketed(store, key)
    before = {key: store.get(key) for key in ("a", "b")}
    audits = {key: store.audit(key) for key in ("a", "b")}
    written = store.record_checks("w1", [_check("a", 30), _check("b", 45)], now=T0)
    assert written == {"a", "b"}
    for key, minutes in (("a", 30), ("b", 45)):
        record = store.get(key)
        assert record is not None
        old = before[key]
        assert old is not None
        assert record.version == old.version + 1
        assert record.due_at == T0 + timedelta(minutes=minutes)
        [group] = record.groups
        assert (group.state, group.last_status, group.status_values) == (GroupState.TICKETED, "Queued", {"state": "2"})
        assert group.next_check_at == T0 + timedelta(minutes=minutes)
        assert group.detail == "INC state=2"
        assert store.audit(key) == audits[key]  # nothing changed state: no audit row


def test_plans_leased_by_another_worker_are_left_alone(store: StateStore) -> None:
    _ticketed(store, "mine", owner="w1")
    _ticketed(store, "theirs", owner="w2")
    written = store.record_checks("w1", [_check("mine", 30), _check("theirs", 30)], now=T0)
    assert written == {"mine"}
    theirs = store.get("theirs")
    assert theirs is not None
    assert theirs.groups[0].last_status is None
    assert theirs.due_at == T0


def test_the_plan_is_not_due_before_its_next_check(store: StateStore) -> None:
    _ticketed(store, "a")
    store.record_checks("w1", [_check("a", 30)], now=T0)
    store.release("w1", ["a"])
    assert store.lease_due("w2", now=T0 + timedelta(minutes=29), limit=10, lease_for=timedelta(minutes=1)) == []
    [due] = store.lease_due("w2", now=T0 + timedelta(minutes=30), limit=10, lease_for=timedelta(minutes=1))
    assert due.plan_key == "a"
