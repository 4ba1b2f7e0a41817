"""A state store in process memory, for tests and demos: same rules as the SQL stores, nothing persisted."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ._store import (
    AuditEntry,
    CheckedPlan,
    GroupState,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    StoreCounts,
    StoreError,
    TicketGroupRecord,
    check_lease_args,
    check_page_size,
    dump_json,
    load_json,
    new_plan_record,
    plan_update,
    received_entry,
    utc,
)
from ._store_sql import BatchedAdds

__all__ = ["MemoryStore"]


def _copy(value: Any, what: str) -> Any:
    # A JSON round trip: refuses what the SQL stores would refuse, and shares nothing with the caller.
    return None if value is None else load_json(dump_json(value, what))


def _detached(record: PlanRecord) -> PlanRecord:
    return attrs.evolve(
        record,
        plan=_copy(record.plan, f"plan {record.plan_key!r}"),
        groups=tuple(
            attrs.evolve(
                group,
                ticket=_copy(group.ticket, f"ticket group {group.group_id!r}: ticket"),
                status_values=_copy(group.status_values, f"ticket group {group.group_id!r}: status_values"),
            )
            for group in record.groups
        ),
    )


class MemoryStore(BatchedAdds):
    """A `StateStore` in memory: for tests of code that drives the engine, and for demos.

    It follows every rule of the SQL stores (leases, versions, the audit trail, JSON-only data, unique
    correlation keys) behind one lock, and keeps nothing when the process ends. ``open_store("memory://")``
    makes one.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._plans: dict[str, PlanRecord] = {}
        self._ids: dict[str, int] = {}
        self._keys: list[str] = []  # by id - 1: the order plans were recorded in
        self._due: list[tuple[datetime, int, str]] = []  # sorted: the lease order
        self._correlation: dict[str, str] = {}
        self._audit: dict[str, list[AuditEntry]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._plans)} plans)"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        """``memory://``."""
        return "memory://"

    def close(self) -> None:
        """Forget nothing, but refuse further calls (as the other stores do once closed)."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the state store is closed", location=self.location)

    # ---------------------------------------------------------------------------------------- reading

    def get(self, plan_key: str) -> PlanRecord | None:
        """The plan with ``plan_key``, or ``None``."""
        with self._lock:
            self._check_open()
            record = self._plans.get(plan_key)
            return None if record is None else _detached(record)

    def find_by_correlation_key(self, correlation_key: str) -> PlanRecord | None:
        """The plan with a ticket group whose current correlation key is ``correlation_key``, or ``None``."""
        with self._lock:
            self._check_open()
            plan_key = self._correlation.get(correlation_key)
            return None if plan_key is None else _detached(self._plans[plan_key])

    def find_by_ticket_number(self, ticket_number: str) -> PlanRecord | None:
        """The plan with a ticket group whose ticket number is ``ticket_number`` (the newest such), or ``None``."""
        with self._lock:
            self._check_open()
            for plan_key in reversed(self._keys):
                record = self._plans[plan_key]
                if any(group.ticket_number == ticket_number for group in record.groups):
                    return _detached(record)
            return None

    def iter_plans(
        self,
        *,
        state: PlanState | None = None,
        outcome: PlanOutcome | None = None,
        source: str | None = None,
        page_size: int = 200,
    ) -> Iterator[PlanRecord]:
        """Every plan matching the filters, in the order they were recorded, ``page_size`` at a time."""
        check_page_size(page_size)
        state = None if state is None else PlanState(state)
        outcome = None if outcome is None else PlanOutcome(outcome)
        position = 0
        while True:
            page: list[PlanRecord] = []
            with self._lock:
                self._check_open()
                while position < len(self._keys) and len(page) < page_size:
                    record = self._plans[self._keys[position]]
                    position += 1
                    if (
                        (state is None or record.state is state)
                        and (outcome is None or record.outcome is outcome)
                        and (source is None or record.source == source)
                    ):
                        page.append(_detached(record))
            yield from page
            if len(page) < page_size:
                return

    def audit(self, plan_key: str) -> tuple[AuditEntry, ...]:
        """The plan's audit trail, oldest first (empty for an unknown plan)."""
        with self._lock:
            self._check_open()
            return tuple(self._audit.get(plan_key, ()))

    def counts(self) -> StoreCounts:
        """How many plans and groups are in each state."""
        with self._lock:
            self._check_open()
            records = list(self._plans.values())
        return StoreCounts.from_rows(
            [(r.state.value, 1) for r in records],
            [(None if r.outcome is None else r.outcome.value, 1) for r in records],
            [(g.state.value, 1) for r in records for g in r.groups],
        )

    # ---------------------------------------------------------------------------------------- writing

    def _add_batch(self, batch: Sequence[NewPlan], now: datetime) -> list[bool]:
        records = [_detached(new_plan_record(new, now)) for new in batch]
        added: list[bool] = []
        with self._lock:
            self._check_open()
            for record in records:
                if record.plan_key in self._plans:
                    added.append(False)
                    continue
                self._keys.append(record.plan_key)
                self._ids[record.plan_key] = len(self._keys)
                self._plans[record.plan_key] = record
                self._index_due(record.plan_key, None, record.due_at)
                self._audit[record.plan_key] = [received_entry(record.plan_key, now)]
                added.append(True)
        return added

    def _index_due(self, plan_key: str, before: datetime | None, after: datetime | None) -> None:
        plan_id = self._ids[plan_key]
        if before is not None:
            index = bisect.bisect_left(self._due, (before, plan_id, plan_key))
            del self._due[index]
        if after is not None:
            bisect.insort(self._due, (after, plan_id, plan_key))

    def lease_due(self, owner: str, *, now: datetime, limit: int, lease_for: timedelta) -> list[PlanRecord]:
        """Lease up to ``limit`` due plans whose lease is free or expired, earliest due first."""
        check_lease_args(owner, limit, lease_for)
        now = utc(now)
        leased: list[PlanRecord] = []
        with self._lock:
            self._check_open()
            for due_at, _plan_id, plan_key in self._due:
                if due_at > now or len(leased) == limit:
                    break
                record = self._plans[plan_key]
                if record.lease_until is None or record.lease_until <= now:
                    record = attrs.evolve(record, lease_owner=owner, lease_until=now + lease_for)
                    self._plans[plan_key] = record
                    leased.append(_detached(record))
        return leased

    def renew(self, owner: str, plan_keys: Iterable[str], *, now: datetime, lease_for: timedelta) -> frozenset[str]:
        """Extend ``owner``'s leases on ``plan_keys``; return the keys still held."""
        check_lease_args(owner, 1, lease_for)
        until = utc(now) + lease_for
        held: set[str] = set()
        with self._lock:
            self._check_open()
            for plan_key in plan_keys:
                record = self._plans.get(plan_key)
                if record is not None and record.lease_owner == owner:
                    self._plans[plan_key] = attrs.evolve(record, lease_until=until)
                    held.add(plan_key)
        return frozenset(held)

    def release(self, owner: str, plan_keys: Iterable[str]) -> None:
        """Give up ``owner``'s leases on ``plan_keys``."""
        with self._lock:
            self._check_open()
            for plan_key in plan_keys:
                record = self._plans.get(plan_key)
                if record is not None and record.lease_owner == owner:
                    self._plans[plan_key] = attrs.evolve(record, lease_owner=None, lease_until=None)

    def record_checks(self, owner: str, plans: Sequence[CheckedPlan], *, now: datetime) -> frozenset[str]:
        """Record quiet status checks of leased plans at once (see `StateStore`)."""
        utc(now)
        written: set[str] = set()
        with self._lock:
            self._check_open()
            for checked in plans:
                record = self._plans.get(checked.plan_key)
                if record is None or record.lease_owner != owner:
                    continue
                changes = {group.group_id: group for group in checked.groups}
                groups = tuple(
                    attrs.evolve(
                        group,
                        last_status=change.last_status,
                        status_values=_copy(change.status_values, f"ticket group {group.group_id!r}: status_values"),
                        unknown_status=change.unknown_status,
                        next_check_at=change.next_check_at,
                        detail=change.detail,
                    )
                    if (change := changes.get(group.group_id)) is not None and group.state is GroupState.TICKETED
                    else group
                    for group in record.groups
                )
                new = attrs.evolve(record, groups=groups, due_at=checked.due_at, version=record.version + 1)
                if record.due_at != new.due_at:
                    self._index_due(new.plan_key, record.due_at, new.due_at)
                self._plans[new.plan_key] = new
                written.add(new.plan_key)
        return frozenset(written)

    def update(self, owner: str, record: PlanRecord, *, now: datetime, detail: str = "") -> PlanRecord:
        """Move a leased plan to ``record`` with its audit rows (see `StateStore`)."""
        now = utc(now)
        with self._lock:
            self._check_open()
            current = self._plans.get(record.plan_key)
            planned = plan_update(current, record, owner=owner, now=now, detail=detail)
            new = _detached(planned.record)
            self._claim_correlation_keys(current, new, [*planned.inserted, *planned.changed])
            if current is not None and current.due_at != new.due_at:
                self._index_due(new.plan_key, current.due_at, new.due_at)
            self._plans[new.plan_key] = new
            self._audit[new.plan_key].extend(planned.entries)
            return _detached(new)

    def _claim_correlation_keys(
        self, before: PlanRecord | None, after: PlanRecord, groups: Sequence[TicketGroupRecord]
    ) -> None:
        for group in groups:
            holder = self._correlation.get(group.correlation_key)
            if holder is not None and holder != after.plan_key:
                raise StoreError(
                    f"a correlation key is already used by another ticket group ({group.correlation_key!r})",
                    location=self.location,
                )
        for group in before.groups if before is not None else ():
            self._correlation.pop(group.correlation_key, None)
        for group in after.groups:
            self._correlation[group.correlation_key] = after.plan_key
