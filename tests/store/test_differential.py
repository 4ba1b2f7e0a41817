"""Random sequences of operations give the same results on MemoryStore and SqliteStore.

The contract tests pin chosen cases; this explores the space between them: legal and illegal moves, stale
copies, lost leases, retries and time passing, checking after every step that both stores hold the same
plans, groups, leases and audit trails and answered every call the same way.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sim_servicenow.engine import (
    GroupState,
    MemoryStore,
    PlanOutcome,
    PlanRecord,
    PlanState,
    SqliteStore,
    StateStore,
    StoreError,
    TicketGroupRecord,
)

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
KEYS = ["a", "b", "c", "d"]
_NEXT = {GroupState.RECEIVED: GroupState.CREATING, GroupState.CREATING: GroupState.TICKETED}


def _open_group(record: PlanRecord) -> TicketGroupRecord | None:
    return next((g for g in record.groups if not g.state.is_final), None)


def _add_group(record: PlanRecord, now: datetime) -> PlanRecord:
    group_id = f"g{len(record.groups)}"
    group = TicketGroupRecord(
        group_id=group_id, correlation_key=f"{record.plan_key}/{group_id}", state=GroupState.RECEIVED, created_at=now
    )
    return attrs.evolve(record, state=PlanState.ACTIVE).with_group(group)


def _advance(record: PlanRecord, now: datetime) -> PlanRecord:
    group = _open_group(record)
    if group is None:
        return record
    following = _NEXT.get(group.state, GroupState.COMMITTED)
    ticket = {"number": f"T{group.attempt}"} if following is GroupState.TICKETED else group.ticket
    return record.with_group(
        attrs.evolve(group, state=following, ticket=ticket, ticket_number=f"{record.plan_key}-T{group.attempt}")
    )


def _retry(record: PlanRecord, now: datetime) -> PlanRecord:
    group = _open_group(record)
    if group is None:
        return record
    attempt = group.attempt + 1
    key = f"{record.plan_key}/{group.group_id}#{attempt}"
    return record.with_group(attrs.evolve(group, state=GroupState.CREATING, attempt=attempt, correlation_key=key))


def _fail(record: PlanRecord, now: datetime) -> PlanRecord:
    group = _open_group(record)
    if group is None:
        return record
    return record.with_group(attrs.evolve(group, state=GroupState.FAILED, detail="refused", next_check_at=now))


def _reopen_final(record: PlanRecord, now: datetime) -> PlanRecord:
    final = next((g for g in record.groups if g.state.is_final), None)
    return record if final is None else record.with_group(attrs.evolve(final, state=GroupState.TICKETED))


CHANGES: dict[str, Callable[[PlanRecord, datetime], PlanRecord]] = {
    "add group": _add_group,
    "advance group": _advance,
    "retry group": _retry,
    "fail group": _fail,
    "reopen final group": _reopen_final,
    "report": lambda r, now: attrs.evolve(r, state=PlanState.REPORTING, outcome=PlanOutcome.COMMITTED),
    "done": lambda r, now: attrs.evolve(r, state=PlanState.DONE, outcome=PlanOutcome.FAILED),
    "done without outcome": lambda r, now: attrs.evolve(r, state=PlanState.DONE, outcome=None),
    "back to received": lambda r, now: attrs.evolve(r, state=PlanState.RECEIVED),
    "drop groups": lambda r, now: attrs.evolve(r, groups=()),
    "reschedule": lambda r, now: attrs.evolve(r, due_at=now + timedelta(minutes=7)),
    "stale copy": lambda r, now: attrs.evolve(r, version=max(1, r.version - 1), detail="stale"),
    "same": lambda r, now: r,
}


class StoresAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="sim-store-diff-"))
        self.memory: StateStore = MemoryStore()
        self.sqlite: StateStore = SqliteStore(self.directory / "state.db")
        self.now = T0

    def teardown(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def both(self, call: Callable[[StateStore], Any]) -> Any:
        outcomes = []
        for store in (self.memory, self.sqlite):
            try:
                outcomes.append(("returned", call(store)))
            except (StoreError, ValueError) as exc:
                outcomes.append(("raised", type(exc)))
        assert outcomes[0] == outcomes[1]
        return outcomes[0][1]

    @initialize(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
    def some_plans_leased(self, keys: list[str]) -> None:
        for key in keys:
            self.add(key, due_in=0)
        self.lease("w1", limit=len(keys), minutes=5)

    @rule(minutes=st.integers(0, 8))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(key=st.sampled_from(KEYS), due_in=st.integers(-3, 6))
    def add(self, key: str, due_in: int) -> None:
        self.both(lambda s: s.add(key, {"key": key}, now=self.now, due_at=self.now + timedelta(minutes=due_in)))

    @rule(owner=st.sampled_from(["w1", "w2"]), limit=st.integers(1, 3), minutes=st.integers(1, 6))
    def lease(self, owner: str, limit: int, minutes: int) -> None:
        self.both(lambda s: s.lease_due(owner, now=self.now, limit=limit, lease_for=timedelta(minutes=minutes)))

    @rule(owner=st.sampled_from(["w1", "w2"]), keys=st.lists(st.sampled_from(KEYS), max_size=3))
    def renew(self, owner: str, keys: list[str]) -> None:
        self.both(lambda s: s.renew(owner, keys, now=self.now, lease_for=timedelta(minutes=4)))

    @rule(owner=st.sampled_from(["w1", "w2"]), keys=st.lists(st.sampled_from(KEYS), max_size=3))
    def release(self, owner: str, keys: list[str]) -> None:
        self.both(lambda s: s.release(owner, keys))

    @rule(
        owner=st.sampled_from(["holder", "holder", "w1", "w2"]),
        key=st.sampled_from(KEYS),
        change=st.sampled_from(sorted(CHANGES)),
        detail=st.sampled_from(["", "note"]),
    )
    def update(self, owner: str, key: str, change: str, detail: str) -> None:
        record = self.memory.get(key)
        if record is None:
            return
        proposed = CHANGES[change](record, self.now)
        if owner == "holder":
            owner = record.lease_owner or "w1"
        outcome = self.both(lambda s: s.update(owner, proposed, now=self.now, detail=detail))
        event(f"update: {outcome.__name__ if isinstance(outcome, type) else 'applied'}")

    @invariant()
    def same_contents(self) -> None:
        assert list(self.memory.iter_plans(page_size=3)) == list(self.sqlite.iter_plans(page_size=3))
        for key in KEYS:
            assert self.memory.audit(key) == self.sqlite.audit(key)
            assert self.memory.find_by_correlation_key(f"{key}/g0") == self.sqlite.find_by_correlation_key(f"{key}/g0")
            assert self.memory.find_by_ticket_number(f"{key}-T1") == self.sqlite.find_by_ticket_number(f"{key}-T1")
        assert self.memory.counts() == self.sqlite.counts()


StoresAgree.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_memory_and_sqlite_stores_agree = StoresAgree.TestCase
