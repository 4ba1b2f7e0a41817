"""The StateStore contract: every backend (memory, SQLite, PostgreSQL) must pass every test here."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.engine import (
    AuditEntry,
    GroupState,
    LeaseLostError,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    StaleRecordError,
    StateStore,
    StoreError,
    TicketGroupRecord,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def group(
    group_id: str, plan_key: str = "p1", state: GroupState = GroupState.RECEIVED, **changes: Any
) -> TicketGroupRecord:
    changes.setdefault("correlation_key", f"{plan_key}/{group_id}")
    return TicketGroupRecord(group_id=group_id, state=state, created_at=T0, **changes)


def lease_one(store: StateStore, plan_key: str, owner: str = "w1", now: datetime = T0) -> PlanRecord:
    leased = {record.plan_key: record for record in store.lease_due(owner, now=now, limit=1000, lease_for=LEASE)}
    return leased[plan_key]


def entry(
    to_state: PlanState | GroupState,
    from_state: PlanState | GroupState | None,
    *,
    group_id: str | None = None,
    correlation_key: str | None = None,
    at_: datetime = T0,
    owner: str | None = "w1",
    detail: str = "",
    plan_key: str = "p1",
) -> AuditEntry:
    return AuditEntry(
        plan_key=plan_key,
        group_id=group_id,
        correlation_key=correlation_key,
        from_state=from_state,
        to_state=to_state,
        at=at_,
        owner=owner,
        detail=detail,
    )


# ------------------------------------------------------------------------------------------- recording plans


def test_add_records_a_received_plan_due_now(store: StateStore) -> None:
    assert store.add("p1", {"id": "p1", "requests": [{"op": "Create"}]}, source="idn", now=T0) is True

    assert store.get("p1") == PlanRecord(
        plan_key="p1",
        plan={"id": "p1", "requests": [{"op": "Create"}]},
        state=PlanState.RECEIVED,
        received_at=T0,
        source="idn",
        due_at=T0,
        version=1,
    )
    assert store.audit("p1") == (entry(PlanState.RECEIVED, None, owner=None),)


def test_adding_a_known_key_changes_nothing_and_says_so(store: StateStore) -> None:
    store.add("p1", {"v": 1}, source="first", now=T0)

    assert store.add("p1", {"v": 2}, source="second", now=at(1), due_at=at(9)) is False

    record = store.get("p1")
    assert record is not None
    assert (record.plan, record.source, record.received_at, record.due_at) == ({"v": 1}, "first", T0, T0)
    assert len(store.audit("p1")) == 1


def test_add_many_reports_each_plan_across_batches(store: StateStore) -> None:
    store.add("known", {}, now=T0)
    plans = [NewPlan(plan_key=f"p{i}", plan={"i": i}, due_at=at(i)) for i in range(1100)]
    plans[700] = NewPlan(plan_key="known", plan={})
    plans.append(NewPlan(plan_key="p3", plan={"again": True}))  # a duplicate inside the same call

    results = store.add_many(plans, now=T0)

    assert len(results) == len(plans)
    assert [i for i, added in enumerate(results) if not added] == [700, 1100]
    assert store.counts().total_plans == 1100
    p5 = store.get("p5")
    assert p5 is not None
    assert (p5.plan, p5.due_at) == ({"i": 5}, at(5))


def test_unknown_keys_read_as_nothing(store: StateStore) -> None:
    assert store.get("nope") is None
    assert store.audit("nope") == ()
    assert store.find_by_correlation_key("nope/g") is None
    assert store.find_by_ticket_number("REQ404") is None


# ------------------------------------------------------------------------------------------- leases


def test_lease_due_takes_due_unleased_plans_earliest_first_up_to_the_limit(store: StateStore) -> None:
    store.add("late", {}, now=T0, due_at=at(3))
    store.add("early", {}, now=T0, due_at=at(1))
    store.add("future", {}, now=T0, due_at=at(10))
    store.add("now", {}, now=T0)

    first = store.lease_due("w1", now=at(5), limit=2, lease_for=LEASE)
    second = store.lease_due("w2", now=at(5), limit=10, lease_for=LEASE)

    assert [r.plan_key for r in first] == ["now", "early"]
    assert all(r.lease_owner == "w1" and r.lease_until == at(10) for r in first)
    assert [(r.plan_key, r.lease_owner) for r in second] == [("late", "w2")]
    assert store.lease_due("w3", now=at(5), limit=10, lease_for=LEASE) == []
    future = store.get("future")
    assert future is not None
    assert future.lease_owner is None


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_refused(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    mine = lease_one(store, "p1", "w1", T0)

    assert store.lease_due("w2", now=at(4.99), limit=10, lease_for=LEASE) == []
    taken = store.lease_due("w2", now=at(5), limit=10, lease_for=LEASE)  # lease_until == now: expired

    assert [(r.plan_key, r.lease_owner, r.lease_until) for r in taken] == [("p1", "w2", at(10))]
    with pytest.raises(LeaseLostError) as lost:
        store.update("w1", attrs.evolve(mine, state=PlanState.ACTIVE), now=at(5))
    assert (lost.value.plan_key, lost.value.owner, lost.value.holder) == ("p1", "w1", "w2")
    assert store.renew("w1", ["p1"], now=at(5), lease_for=LEASE) == frozenset()
    moved = store.update("w2", attrs.evolve(taken[0], state=PlanState.ACTIVE), now=at(6))
    assert (moved.state, moved.version) == (PlanState.ACTIVE, 2)


def test_an_expired_lease_nobody_took_still_lets_its_holder_move_the_plan(store: StateStore) -> None:
    store.add("p1", {}, now=T0, due_at=at(100))
    record = lease_one(store, "p1", now=at(100))

    moved = store.update("w1", attrs.evolve(record, state=PlanState.ACTIVE), now=at(200))

    assert moved.state is PlanState.ACTIVE
    assert store.renew("w1", ["p1"], now=at(200), lease_for=LEASE) == frozenset({"p1"})


def test_only_the_lease_holder_may_move_a_plan(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    unleased = store.get("p1")
    assert unleased is not None

    with pytest.raises(LeaseLostError) as never_leased:
        store.update("w1", attrs.evolve(unleased, state=PlanState.ACTIVE), now=T0)
    lease_one(store, "p1", "w1")
    with pytest.raises(LeaseLostError) as other_worker:
        store.update("w2", attrs.evolve(unleased, state=PlanState.ACTIVE), now=T0)
    with pytest.raises(LeaseLostError) as unknown:
        store.update("w1", attrs.evolve(unleased, plan_key="ghost"), now=T0)

    assert never_leased.value.holder is None
    assert other_worker.value.holder == "w1"
    assert unknown.value.holder is None
    after = store.get("p1")
    assert after is not None
    assert (after.state, after.version) == (PlanState.RECEIVED, 1)
    assert len(store.audit("p1")) == 1


def test_an_update_from_a_stale_copy_is_refused(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    copy = lease_one(store, "p1")
    store.update("w1", attrs.evolve(copy, state=PlanState.ACTIVE), now=T0)

    with pytest.raises(StaleRecordError) as stale:
        store.update("w1", attrs.evolve(copy, detail="from the old copy"), now=T0)

    assert (stale.value.expected, stale.value.found) == (1, 2)
    record = store.get("p1")
    assert record is not None
    assert record.detail == ""


def test_renew_extends_held_leases_and_release_frees_them(store: StateStore) -> None:
    store.add_many([NewPlan(plan_key="a", plan={}), NewPlan(plan_key="b", plan={})], now=T0)
    store.lease_due("w1", now=T0, limit=10, lease_for=LEASE)

    assert store.renew("w1", ["a", "b", "unknown"], now=at(4), lease_for=LEASE) == frozenset({"a", "b"})
    assert store.lease_due("w2", now=at(6), limit=10, lease_for=LEASE) == []  # renewed to at(9)
    store.release("w1", ["a", "unknown"])
    store.release("w2", ["b"])  # not w2's: ignored

    a, b = store.get("a"), store.get("b")
    assert a is not None
    assert b is not None
    assert (a.lease_owner, a.lease_until) == (None, None)
    assert (b.lease_owner, b.lease_until) == ("w1", at(9))
    assert [r.plan_key for r in store.lease_due("w2", now=at(6), limit=10, lease_for=LEASE)] == ["a"]


def test_each_due_plan_is_leased_exactly_once_by_8_concurrent_workers(
    store_factory: Callable[[], StateStore],
) -> None:
    store_factory().add_many([NewPlan(plan_key=f"p{i:03}", plan={}, due_at=at(i % 7)) for i in range(300)], now=T0)
    workers = 8
    stores = [store_factory() for _ in range(workers)]
    start = threading.Barrier(workers)
    leased: dict[str, list[str]] = {f"w{i}": [] for i in range(workers)}
    failures: list[BaseException] = []

    def work(owner: str, store: StateStore) -> None:
        try:
            start.wait()
            while batch := store.lease_due(owner, now=at(10), limit=7, lease_for=LEASE):
                assert all(r.lease_owner == owner for r in batch)
                leased[owner] += [r.plan_key for r in batch]
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}", stores[i])) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    every = [key for keys in leased.values() for key in keys]
    assert len(every) == 300
    assert set(every) == {f"p{i:03}" for i in range(300)}


# ------------------------------------------------------------------------------------------- moving plans


def test_the_audit_trail_records_every_move_in_order(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    record = lease_one(store, "p1")

    record = store.update(
        "w1",
        attrs.evolve(record, state=PlanState.ACTIVE).with_group(group("g1")).with_group(group("g2")),
        now=at(1),
        detail="split into 2 groups",
    )
    record = store.update(
        "w1", record.with_group(attrs.evolve(record.group("g1"), state=GroupState.CREATING)), now=at(2)
    )
    record = store.update(
        "w1",
        record.with_group(
            attrs.evolve(
                record.group("g1"),
                state=GroupState.TICKETED,
                ticket={"table": "sc_request", "sys_id": "abc", "number": "REQ1"},
                ticket_number="REQ1",
                next_check_at=at(10),
            )
        ),
        now=at(3),
        detail="REQ1 created",
    )
    retry = attrs.evolve(record.group("g1"), state=GroupState.CREATING, attempt=2, correlation_key="p1/g1#2")
    record = store.update("w1", record.with_group(retry), now=at(4), detail="status Retry")
    record = store.update(
        "w1",
        record.with_group(attrs.evolve(record.group("g1"), state=GroupState.TICKETED, ticket_number="REQ2")).with_group(
            attrs.evolve(record.group("g2"), state=GroupState.FAILED, detail="template error")
        ),
        now=at(5),
    )
    record = store.update(
        "w1",
        attrs.evolve(
            record.with_group(attrs.evolve(record.group("g1"), state=GroupState.COMMITTED)),
            state=PlanState.REPORTING,
            outcome=PlanOutcome.FAILED,
        ),
        now=at(6),
        detail="closed complete",
    )
    record = store.update("w1", attrs.evolve(record, state=PlanState.DONE), now=at(7), detail="work item completed")

    g1, g2, g1_retry = "p1/g1", "p1/g2", "p1/g1#2"
    assert store.audit("p1") == (
        entry(PlanState.RECEIVED, None, owner=None),
        entry(GroupState.RECEIVED, None, group_id="g1", correlation_key=g1, at_=at(1), detail="split into 2 groups"),
        entry(GroupState.RECEIVED, None, group_id="g2", correlation_key=g2, at_=at(1), detail="split into 2 groups"),
        entry(PlanState.ACTIVE, PlanState.RECEIVED, at_=at(1), detail="split into 2 groups"),
        entry(GroupState.CREATING, GroupState.RECEIVED, group_id="g1", correlation_key=g1, at_=at(2)),
        entry(
            GroupState.TICKETED,
            GroupState.CREATING,
            group_id="g1",
            correlation_key=g1,
            at_=at(3),
            detail="REQ1 created",
        ),
        entry(
            GroupState.CREATING,
            GroupState.TICKETED,
            group_id="g1",
            correlation_key=g1_retry,
            at_=at(4),
            detail="status Retry",
        ),
        entry(GroupState.TICKETED, GroupState.CREATING, group_id="g1", correlation_key=g1_retry, at_=at(5)),
        entry(GroupState.FAILED, GroupState.RECEIVED, group_id="g2", correlation_key=g2, at_=at(5)),
        entry(
            GroupState.COMMITTED,
            GroupState.TICKETED,
            group_id="g1",
            correlation_key=g1_retry,
            at_=at(6),
            detail="closed complete",
        ),
        entry(PlanState.REPORTING, PlanState.ACTIVE, at_=at(6), detail="closed complete"),
        entry(PlanState.DONE, PlanState.REPORTING, at_=at(7), detail="work item completed"),
    )
    stored = store.get("p1")
    assert stored == record
    assert stored is not None
    assert stored.version == 8
    assert [(g.group_id, g.state, g.attempt, g.ticket_number) for g in stored.groups] == [
        ("g1", GroupState.COMMITTED, 2, "REQ2"),
        ("g2", GroupState.FAILED, 1, None),
    ]
    assert stored.group("g1").ticket == {"table": "sc_request", "sys_id": "abc", "number": "REQ1"}


def test_done_is_final_clears_due_time_and_records_the_finish(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    record = lease_one(store, "p1")

    done = store.update(
        "w1", attrs.evolve(record, state=PlanState.DONE, outcome=PlanOutcome.SKIPPED, due_at=at(5)), now=at(2)
    )

    assert (done.due_at, done.finished_at, done.outcome) == (None, at(2), PlanOutcome.SKIPPED)
    assert store.get("p1") == done
    assert store.lease_due("w2", now=at(1000), limit=10, lease_for=LEASE) == []
    with pytest.raises(ValueError, match="DONE, which is final"):
        store.update("w1", attrs.evolve(done, detail="again"), now=at(3))


def test_an_update_writes_only_changes_and_bumps_the_version_only_then(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    record = lease_one(store, "p1")

    same = store.update("w1", record, now=at(1))
    noted = store.update("w1", record, now=at(2), detail="overdue ticket reported")
    moved = store.update("w1", attrs.evolve(record, due_at=at(30), plan={"rule": "applied"}), now=at(3))

    assert (same.version, noted.version, moved.version) == (1, 1, 2)
    assert (moved.due_at, moved.plan) == (at(30), {"rule": "applied"})
    assert store.audit("p1")[1:] == (
        entry(PlanState.RECEIVED, PlanState.RECEIVED, at_=at(2), detail="overdue ticket reported"),
    )


def test_a_group_without_a_state_change_is_updated_without_an_audit_row(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    record = lease_one(store, "p1")
    record = store.update("w1", attrs.evolve(record, state=PlanState.ACTIVE).with_group(group("g1")), now=T0)
    checked = attrs.evolve(
        record.group("g1"),
        last_status="Queued",
        status_values={"state": "-5", "approval": "requested"},
        unknown_status=True,
        next_check_at=at(15),
        expires_at=at(60 * 24 * 30),
        created_at=at(999),  # the store owns created_at once the group exists
    )

    updated = store.update("w1", record.with_group(checked), now=at(1))

    stored = store.get("p1")
    assert stored == updated
    assert stored is not None
    assert stored.group("g1") == attrs.evolve(checked, created_at=T0)
    assert len(store.audit("p1")) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: attrs.evolve(r, state=PlanState.DONE), "without an outcome"),
        (lambda r: attrs.evolve(r, state=PlanState.RECEIVED), "back from ACTIVE to RECEIVED"),
        (lambda r: attrs.evolve(r, groups=()), "groups cannot be removed"),
        (lambda r: r.with_group(attrs.evolve(r.group("done"), state=GroupState.CREATING)), "COMMITTED, which is final"),
        (lambda r: r.with_group(attrs.evolve(r.group("open"), state=GroupState.RECEIVED)), "back from TICKETED"),
    ],
)
def test_moves_the_state_machine_forbids_are_refused_and_change_nothing(
    store: StateStore, change: Callable[[PlanRecord], PlanRecord], message: str
) -> None:
    store.add("p1", {}, now=T0)
    record = lease_one(store, "p1")
    record = store.update(
        "w1",
        attrs.evolve(record, state=PlanState.ACTIVE)
        .with_group(group("done", state=GroupState.COMMITTED))
        .with_group(group("open", state=GroupState.TICKETED)),
        now=T0,
    )
    trail = store.audit("p1")

    with pytest.raises(ValueError, match=message):
        store.update("w1", change(record), now=at(1))

    assert store.get("p1") == record
    assert store.audit("p1") == trail


def test_correlation_keys_are_unique_across_plans(store: StateStore) -> None:
    store.add_many([NewPlan(plan_key="p1", plan={}), NewPlan(plan_key="p2", plan={})], now=T0)
    first, second = store.lease_due("w1", now=T0, limit=10, lease_for=LEASE)
    store.update("w1", first.with_group(group("g", correlation_key="shared")), now=T0)

    with pytest.raises(StoreError, match="correlation key"):
        store.update("w1", second.with_group(group("g", plan_key="p2", correlation_key="shared")), now=T0)

    assert store.get("p2") == second
    found = store.find_by_correlation_key("shared")
    assert found is not None
    assert found.plan_key == "p1"


def test_plans_are_found_by_current_correlation_key_and_by_ticket_number(store: StateStore) -> None:
    store.add_many([NewPlan(plan_key="p1", plan={}), NewPlan(plan_key="p2", plan={})], now=T0)
    p1, p2 = store.lease_due("w1", now=T0, limit=10, lease_for=LEASE)
    p1 = store.update("w1", p1.with_group(group("g1", state=GroupState.TICKETED, ticket_number="REQ7")), now=T0)
    store.update(
        "w1", p2.with_group(group("g1", plan_key="p2", state=GroupState.TICKETED, ticket_number="INC9")), now=T0
    )
    retried = attrs.evolve(p1.group("g1"), state=GroupState.CREATING, attempt=2, correlation_key="p1/g1#2")
    store.update("w1", p1.with_group(retried), now=T0)

    def key(found: PlanRecord | None) -> str | None:
        return None if found is None else found.plan_key

    assert key(store.find_by_correlation_key("p1/g1#2")) == "p1"
    assert key(store.find_by_correlation_key("p1/g1")) is None  # the old attempt's key is free again
    assert key(store.find_by_correlation_key("p2/g1")) == "p2"
    assert key(store.find_by_ticket_number("REQ7")) == "p1"
    assert key(store.find_by_ticket_number("INC9")) == "p2"


# ------------------------------------------------------------------------------------------- reading


def _populate(store: StateStore) -> dict[str, tuple[str, PlanState, PlanOutcome | None]]:
    """23 plans of two sources in all kinds of states; returns key -> (source, state, outcome)."""
    store.add_many([NewPlan(plan_key=f"p{i:02}", plan={}, source="ab"[i % 2]) for i in range(23)], now=T0)
    expected: dict[str, tuple[str, PlanState, PlanOutcome | None]] = {}
    for record in store.lease_due("w1", now=T0, limit=100, lease_for=LEASE):
        i = int(record.plan_key[1:])
        state, outcome = [
            (PlanState.RECEIVED, None),
            (PlanState.ACTIVE, None),
            (PlanState.DONE, PlanOutcome.COMMITTED),
            (PlanState.DONE, PlanOutcome.FAILED),
        ][i % 4]
        if state is not PlanState.RECEIVED:
            store.update("w1", attrs.evolve(record, state=state, outcome=outcome), now=T0)
        expected[record.plan_key] = (record.source, state, outcome)
    return expected


def test_iter_plans_pages_through_everything_in_recording_order(store: StateStore) -> None:
    expected = _populate(store)

    for page_size in (1, 4, 23, 200):
        assert [r.plan_key for r in store.iter_plans(page_size=page_size)] == sorted(expected)
    with pytest.raises(ValueError, match="page_size"):
        next(store.iter_plans(page_size=0))


@pytest.mark.parametrize(
    "filters",
    [
        {"state": PlanState.DONE},
        {"state": PlanState.RECEIVED},
        {"outcome": PlanOutcome.FAILED},
        {"source": "a"},
        {"state": PlanState.DONE, "outcome": PlanOutcome.COMMITTED, "source": "b"},
        {"source": "nobody"},
    ],
)
def test_iter_plans_filters(store: StateStore, filters: dict[str, Any]) -> None:
    expected = _populate(store)
    wanted = [
        key
        for key, (source, state, outcome) in sorted(expected.items())
        if filters.get("state", state) is state
        and filters.get("outcome", outcome) is outcome
        and filters.get("source", source) == source
    ]

    found = list(store.iter_plans(page_size=3, **filters))

    assert [r.plan_key for r in found] == wanted
    assert all(r.groups == () for r in found)


def test_iter_plans_reads_a_page_at_a_time(store: StateStore) -> None:
    store.add_many([NewPlan(plan_key=f"p{i}", plan={}) for i in range(5)], now=T0)
    plans = store.iter_plans(page_size=2)
    first = [next(plans).plan_key for _ in range(2)]

    store.add("late", {}, now=T0)  # recorded after the first page was read

    assert first + [r.plan_key for r in plans] == ["p0", "p1", "p2", "p3", "p4", "late"]


def test_counts_cover_every_state(store: StateStore) -> None:
    expected = _populate(store)
    record = lease_one(store, "p01", now=at(10))  # ACTIVE
    store.update("w1", record.with_group(group("g1", plan_key="p01")).with_group(group("g2", plan_key="p01")), now=T0)

    counts = store.counts()

    assert counts.total_plans == 23
    assert counts.plans == {state: sum(1 for _, s, _ in expected.values() if s is state) for state in PlanState}
    assert counts.outcomes == {o: sum(1 for _, _, oc in expected.values() if oc is o) for o in PlanOutcome}
    assert counts.groups == {state: (2 if state is GroupState.RECEIVED else 0) for state in GroupState}


# ------------------------------------------------------------------------------------------- data


_keys = itertools.count()
_offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
_aware = st.builds(
    lambda naive, offset: naive.replace(tzinfo=timezone(offset)),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    _offsets,
)
# JSON as every backend keeps it: PostgreSQL's jsonb refuses NUL characters and has no -0.0 or huge floats.
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(received=_aware, due=_aware, check=_aware)
def test_datetimes_come_back_as_the_same_instants_in_utc(
    store: StateStore, received: datetime, due: datetime, check: datetime
) -> None:
    key = f"t{next(_keys)}"
    store.add(key, {}, now=received, due_at=due)
    now = max(received, due)
    record = lease_one(store, key, now=now)
    store.update("w1", record.with_group(group("g", plan_key=key, next_check_at=check, expires_at=due)), now=check)

    stored = store.get(key)
    assert stored is not None
    times = [stored.received_at, stored.due_at, stored.lease_until, stored.groups[0].next_check_at]
    times += [stored.groups[0].expires_at, store.audit(key)[-1].at]
    assert times == [received, due, now + LEASE, check, due, check]
    assert all(t is not None and t.tzinfo is timezone.utc for t in times)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.dictionaries(_text, _json, max_size=5), ticket=st.dictionaries(_text, _json, max_size=5))
def test_json_data_comes_back_equal(store: StateStore, plan: dict[str, Any], ticket: dict[str, Any]) -> None:
    key = f"j{next(_keys)}"
    store.add(key, plan, now=T0)
    record = lease_one(store, key)
    store.update("w1", record.with_group(group("g", plan_key=key, ticket=ticket, status_values=ticket)), now=T0)

    stored = store.get(key)
    assert stored is not None
    assert stored.plan == plan
    assert stored.groups[0].ticket == ticket
    assert stored.groups[0].status_values == ticket


@pytest.mark.parametrize("bad", [{"when": datetime(2030, 1, 1)}, {"x": float("nan")}, {"s": {1, 2}}])
def test_data_that_is_not_json_is_refused_before_anything_is_written(store: StateStore, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.add("p1", bad, now=T0)
    assert store.get("p1") is None
    store.add("p2", {}, now=T0)
    record = lease_one(store, "p2")
    with pytest.raises(ValueError, match="ticket group 'g': ticket"):
        store.update("w1", record.with_group(group("g", plan_key="p2", ticket=bad)), now=T0)
    assert store.get("p2") == record


def test_naive_times_are_refused(store: StateStore) -> None:
    naive = datetime(2030, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="naive datetime"):
        store.add("p1", {}, now=naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.lease_due("w1", now=naive, limit=1, lease_for=LEASE)
    assert store.get("p1") is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"owner": "", "limit": 1, "lease_for": LEASE}, "owner"),
        ({"owner": "w", "limit": 0, "lease_for": LEASE}, "limit"),
        ({"owner": "w", "limit": 1, "lease_for": timedelta(0)}, "lease_for"),
    ],
)
def test_lease_arguments_are_checked(store: StateStore, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.lease_due(now=T0, **arguments)


def test_a_closed_store_refuses_calls(store: StateStore) -> None:
    store.add("p1", {}, now=T0)
    store.close()
    store.close()  # harmless

    with pytest.raises(StoreError, match="closed"):
        store.get("p1")
    with pytest.raises(StoreError, match="closed"):
        store.add("p2", {}, now=T0)


def test_every_store_is_a_state_store(store: StateStore) -> None:
    assert isinstance(store, StateStore)
    assert store.counts().total_plans == 0
