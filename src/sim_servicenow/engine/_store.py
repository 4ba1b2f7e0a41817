"""The state store: what the engine persists, the protocol every store implements, and ``open_store``.

A store keeps one `PlanRecord` per provisioning plan, with the plan's ticket groups, and an audit trail
of every state transition. Workers *lease* due plans for a while; only the lease holder may move a
plan, and every move is one transaction that also appends its audit rows. The backends (memory, SQLite,
PostgreSQL) share the rules below, so the engine cannot tell them apart.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import attrs

from .._errors import ConfigError, SimServiceNowError, ValidationProblem

__all__ = [
    "AuditEntry",
    "CheckedGroup",
    "CheckedPlan",
    "GroupState",
    "LeaseLostError",
    "NewPlan",
    "PlanOutcome",
    "PlanRecord",
    "PlanState",
    "StaleRecordError",
    "StateStore",
    "StoreCounts",
    "StoreError",
    "StoreFormatError",
    "StoreVersionError",
    "TicketGroupRecord",
    "mask_store_url",
    "open_store",
]


# --------------------------------------------------------------------------------------------------- states


class PlanState(str, enum.Enum):
    """Where a plan is in its life (see the engine's state machine)."""

    RECEIVED = "received"
    """Recorded, not yet split into ticket groups."""
    ACTIVE = "active"
    """Its ticket groups are being created or tracked."""
    REPORTING = "reporting"
    """Every group is final; the outcome is being reported to the plan's source."""
    DONE = "done"
    """Terminal: the outcome was reported (or there was nothing to do)."""


class GroupState(str, enum.Enum):
    """Where one ticket group is in its life."""

    RECEIVED = "received"
    """Known, no ticket yet."""
    CREATING = "creating"
    """Written *before* the ticket is created: on restart, look the correlation key up before creating again."""
    TICKETED = "ticketed"
    """The ticket exists; its status is checked when ``next_check_at`` comes."""
    COMMITTED = "committed"
    """Final: the ticket closed successfully."""
    FAILED = "failed"
    """Final: the ticket closed unsuccessfully, could not be created, or ran out of retries."""
    EXPIRED = "expired"
    """Final: the ticket stayed open past the maximum tracking time."""

    @property
    def is_final(self) -> bool:
        """Whether the group can no longer change state."""
        return self in _FINAL_GROUP_STATES


_FINAL_GROUP_STATES = frozenset({GroupState.COMMITTED, GroupState.FAILED, GroupState.EXPIRED})


class PlanOutcome(str, enum.Enum):
    """How a plan ended; set when it enters REPORTING (or DONE directly)."""

    COMMITTED = "committed"
    FAILED = "failed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    """Nothing to do: the plan had no requests for the integration's managed sources."""


# --------------------------------------------------------------------------------------------------- errors


class StoreError(SimServiceNowError):
    """The state store failed: the database is unreachable, locked for too long, full or read-only.

    Attributes:
        location: where the store lives (a path, or a URL with any password masked), when known.
    """

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location


class StoreFormatError(StoreError):
    """The database is not a sim-servicenow state store: not SQLite, corrupted, or another application's."""


class StoreVersionError(StoreError):
    """The database was written by a newer sim-servicenow whose schema this version does not know.

    Attributes:
        found: the schema version in the database.
        supported: the newest schema version this code knows.
    """

    def __init__(self, *, found: int, supported: int, location: str | None = None) -> None:
        super().__init__(
            f"schema version {found} is newer than the newest this sim-servicenow knows ({supported}); "
            "upgrade sim-servicenow",
            location=location,
        )
        self.found = found
        self.supported = supported


class LeaseLostError(StoreError):
    """The caller does not hold the plan's lease: it expired and another worker took the plan over.

    Attributes:
        plan_key: the plan.
        owner: the worker that tried to move it.
        holder: the worker holding the lease now (``None`` if nobody does, or the plan is unknown).
    """

    def __init__(self, *, plan_key: str, owner: str, holder: str | None, location: str | None = None) -> None:
        who = f"held by {holder!r}" if holder else "not held"
        super().__init__(f"plan {plan_key!r} is not leased by {owner!r} (lease {who})", location=location)
        self.plan_key = plan_key
        self.owner = owner
        self.holder = holder


class StaleRecordError(StoreError):
    """The caller moved a plan from an out-of-date copy: re-read it with ``get`` and decide again.

    Attributes:
        plan_key: the plan.
        expected: the version of the caller's copy.
        found: the version in the store.
    """

    def __init__(self, *, plan_key: str, expected: int, found: int, location: str | None = None) -> None:
        super().__init__(
            f"plan {plan_key!r} changed since it was read (version {expected}, store has {found})", location=location
        )
        self.plan_key = plan_key
        self.expected = expected
        self.found = found


# --------------------------------------------------------------------------------------------------- records


def utc(value: datetime) -> datetime:
    """``value`` as a timezone-aware UTC datetime; a naive datetime is refused (its zone would be a guess)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware datetime (UTC)")
    return value.astimezone(timezone.utc)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _non_empty(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


@attrs.frozen
class TicketGroupRecord:
    """One ticket group of a plan: the requests that become one ticket, and where that ticket is.

    Attributes:
        group_id: the group's id within its plan (stable across retries).
        correlation_key: the key written into the ticket so ServiceNow can answer "does it exist?";
            unique across the store. A retry gives the group a new key (the attempt is part of it).
        state: where the group is.
        created_at: when the group was first recorded.
        attempt: 1 for the first ticket, incremented by each retry.
        ticket: the ticket reference as the ticketing system gave it (table, sys_id, number, item ids ...);
            JSON-serialisable, opaque to the store.
        ticket_number: the human-facing ticket id (``REQ0010001``, a Jira key), indexed for lookups.
        last_status: the provisioning status the last check mapped to (``Queued``, ``Committed`` ...).
        status_values: the raw status values the last check read, as JSON-serialisable data.
        unknown_status: whether the last check found a value the status map does not know.
        next_check_at: when the ticket's status should next be checked.
        expires_at: when the group expires; ``None`` for never (or once an overdue ticket was reported).
        detail: free text about the group's last move (an error message, a note).
    """

    group_id: str = attrs.field(validator=_non_empty)
    correlation_key: str = attrs.field(validator=_non_empty)
    state: GroupState = attrs.field(converter=GroupState)
    created_at: datetime = attrs.field(converter=utc)
    attempt: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    ticket: Mapping[str, Any] | None = None
    ticket_number: str | None = None
    last_status: str | None = None
    status_values: Mapping[str, Any] | None = None
    unknown_status: bool = False
    next_check_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    expires_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    detail: str = ""


def _as_tuple(groups: Iterable[TicketGroupRecord]) -> tuple[TicketGroupRecord, ...]:
    return tuple(groups)


def _unique_groups(
    _instance: PlanRecord, _attribute: attrs.Attribute[tuple[TicketGroupRecord, ...]], groups: tuple[Any, ...]
) -> None:
    for group in groups:
        if not isinstance(group, TicketGroupRecord):
            raise TypeError(f"groups must hold TicketGroupRecord, got {type(group).__name__}")
    for what, values in (
        ("group id", [g.group_id for g in groups]),
        ("correlation key", [g.correlation_key for g in groups]),
    ):
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"duplicate {what} {value!r} in one plan")
            seen.add(value)


@attrs.frozen
class PlanRecord:
    """A plan as the store keeps it: the plan itself, its state and lease, and its ticket groups.

    Change a record with `attrs.evolve` (or `with_group`) and hand it to
    `StateStore.update`; the store owns ``source``, ``received_at``, the lease fields and ``version``.

    Attributes:
        plan_key: unique key of the plan (the work item id, or the caller's key for submitted plans).
        plan: the plan as JSON-serialisable data (the engine serialises its ``ProvisioningPlan``).
        state: where the plan is.
        received_at: when the plan was first recorded.
        source: the name of what the plan came from (free text, for filtering and reports).
        outcome: how the plan ended; set from REPORTING on, required in DONE.
        detail: free text about the plan's last move.
        due_at: when the plan next needs work; ``None`` once DONE.
        finished_at: when the plan became DONE.
        lease_owner: the worker holding the plan's lease, if any.
        lease_until: when that lease expires; an expired lease stays with its owner until another worker
            takes the plan over.
        version: incremented by every update; an update from an older copy is refused.
        groups: the plan's ticket groups, in the order they were added.
    """

    plan_key: str = attrs.field(validator=_non_empty)
    plan: Mapping[str, Any]
    state: PlanState = attrs.field(converter=PlanState)
    received_at: datetime = attrs.field(converter=utc)
    source: str = ""
    outcome: PlanOutcome | None = attrs.field(default=None, converter=attrs.converters.optional(PlanOutcome))
    detail: str = ""
    due_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    finished_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    lease_owner: str | None = None
    lease_until: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    version: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    groups: tuple[TicketGroupRecord, ...] = attrs.field(default=(), converter=_as_tuple, validator=_unique_groups)

    def group(self, group_id: str) -> TicketGroupRecord:
        """The group with ``group_id``; `KeyError` if the plan has none."""
        for group in self.groups:
            if group.group_id == group_id:
                return group
        raise KeyError(f"plan {self.plan_key!r} has no group {group_id!r}")

    def with_group(self, group: TicketGroupRecord) -> PlanRecord:
        """A copy with ``group`` replacing the group of the same id, or added after the others."""
        groups = list(self.groups)
        for index, existing in enumerate(groups):
            if existing.group_id == group.group_id:
                groups[index] = group
                break
        else:
            groups.append(group)
        return attrs.evolve(self, groups=tuple(groups))


@attrs.frozen
class NewPlan:
    """A plan to record with `StateStore.add_many`.

    Attributes:
        plan_key: unique key of the plan.
        plan: the plan as JSON-serialisable data.
        source: the name of what the plan came from.
        due_at: when it first needs work; ``None`` for "now".
    """

    plan_key: str = attrs.field(validator=_non_empty)
    plan: Mapping[str, Any]
    source: str = ""
    due_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)


@attrs.frozen
class CheckedGroup:
    """A status check of one ticket that moved no state: what was read, and when to look again.

    Attributes:
        group_id: the ticket group.
        last_status: the provisioning status the check mapped to (``Queued``).
        status_values: the raw status values read.
        unknown_status: whether a value was not in the status map.
        next_check_at: when to check the ticket again.
        detail: a short description of what was read.
    """

    group_id: str
    last_status: str
    status_values: Mapping[str, Any]
    unknown_status: bool
    next_check_at: datetime = attrs.field(converter=utc)
    detail: str = ""


def _checked_groups(groups: Iterable[CheckedGroup]) -> tuple[CheckedGroup, ...]:
    return tuple(groups)


@attrs.frozen
class CheckedPlan:
    """The quiet status checks of one leased plan, for `StateStore.record_checks`.

    Attributes:
        plan_key: the plan.
        due_at: when the plan next needs work.
        groups: the checked groups (each in state TICKETED).
    """

    plan_key: str
    due_at: datetime = attrs.field(converter=utc)
    groups: tuple[CheckedGroup, ...] = attrs.field(default=(), converter=_checked_groups)


@attrs.frozen
class AuditEntry:
    """One state transition, of a plan (``group_id`` is ``None``) or of one of its ticket groups.

    Attributes:
        plan_key: the plan.
        group_id: the group that moved, or ``None`` for the plan itself.
        correlation_key: the group's correlation key at the time, or ``None`` for the plan.
        from_state: the state before; ``None`` when the plan or group was first recorded. Equal to
            ``to_state`` for a note recorded without a move.
        to_state: the state after.
        at: when (the ``now`` the caller passed).
        owner: the worker that made the move (``None`` for plans recorded by ``add``).
        detail: what the caller said about the move.
    """

    plan_key: str
    group_id: str | None
    correlation_key: str | None
    from_state: PlanState | GroupState | None
    to_state: PlanState | GroupState
    at: datetime = attrs.field(converter=utc)
    owner: str | None = None
    detail: str = ""


@attrs.frozen
class StoreCounts:
    """How many plans and groups are in each state; every state is present, with 0 if none.

    Attributes:
        plans: plans by state.
        outcomes: plans by outcome (plans without an outcome are not counted here).
        groups: ticket groups by state.
    """

    plans: Mapping[PlanState, int]
    outcomes: Mapping[PlanOutcome, int]
    groups: Mapping[GroupState, int]

    @property
    def total_plans(self) -> int:
        """Number of plans in the store."""
        return sum(self.plans.values())

    @classmethod
    def from_rows(
        cls,
        plans: Iterable[tuple[str, int]],
        outcomes: Iterable[tuple[str | None, int]],
        groups: Iterable[tuple[str, int]],
    ) -> StoreCounts:
        """Counts from ``(value, count)`` rows, filling in zeros for absent states."""
        plan_counts = dict.fromkeys(PlanState, 0)
        outcome_counts = dict.fromkeys(PlanOutcome, 0)
        group_counts = dict.fromkeys(GroupState, 0)
        for value, count in plans:
            plan_counts[PlanState(value)] += count
        for outcome, count in outcomes:
            if outcome is not None:
                outcome_counts[PlanOutcome(outcome)] += count
        for value, count in groups:
            group_counts[GroupState(value)] += count
        return cls(plans=plan_counts, outcomes=outcome_counts, groups=group_counts)


# --------------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class StateStore(Protocol):
    """Where the engine keeps plans, ticket groups, leases and the audit trail.

    Every method is one transaction. Times are timezone-aware; stores return them in UTC. Methods that change
    anything take ``now`` from the caller, so the engine can run on a fake or accelerated clock.

    Leases are per plan. `lease_due` gives a worker the due plans nobody holds (or whose lease expired),
    each to exactly one worker; `update` refuses a worker that no longer holds the plan. Worker names
    (``owner``) must be unique per running worker.
    """

    def add(
        self, plan_key: str, plan: Mapping[str, Any], *, source: str = "", now: datetime, due_at: datetime | None = None
    ) -> bool:
        """Record a new plan in state RECEIVED, due at ``due_at`` (default: ``now``).

        Returns:
            ``True`` if the plan was recorded, ``False`` if its key was already known (nothing changes).
        """
        ...

    def add_many(self, plans: Iterable[NewPlan], *, now: datetime) -> list[bool]:
        """Record several plans at once (in transactions of a few hundred); one ``add`` result per plan."""
        ...

    def get(self, plan_key: str) -> PlanRecord | None:
        """The plan with ``plan_key``, or ``None``."""
        ...

    def find_by_correlation_key(self, correlation_key: str) -> PlanRecord | None:
        """The plan with a ticket group whose current correlation key is ``correlation_key``, or ``None``."""
        ...

    def find_by_ticket_number(self, ticket_number: str) -> PlanRecord | None:
        """The plan with a ticket group whose ticket number is ``ticket_number`` (the newest such), or ``None``."""
        ...

    def iter_plans(
        self,
        *,
        state: PlanState | None = None,
        outcome: PlanOutcome | None = None,
        source: str | None = None,
        page_size: int = 200,
    ) -> Iterator[PlanRecord]:
        """Every plan matching the filters, in the order they were recorded, read ``page_size`` at a time.

        Only one page is in memory at a time. Pages are read in separate transactions: plans recorded
        while iterating are included, and a plan may have moved between pages.
        """
        ...

    def audit(self, plan_key: str) -> tuple[AuditEntry, ...]:
        """The plan's audit trail, oldest first (empty for an unknown plan)."""
        ...

    def counts(self) -> StoreCounts:
        """How many plans and groups are in each state."""
        ...

    def lease_due(self, owner: str, *, now: datetime, limit: int, lease_for: timedelta) -> list[PlanRecord]:
        """Lease up to ``limit`` plans due at ``now`` whose lease is free or expired, earliest due first.

        The lease lasts until ``now + lease_for``. Each due plan goes to exactly one worker, however many
        lease at the same time.
        """
        ...

    def renew(self, owner: str, plan_keys: Iterable[str], *, now: datetime, lease_for: timedelta) -> frozenset[str]:
        """Extend ``owner``'s leases on ``plan_keys`` to ``now + lease_for``.

        Returns:
            The keys still held (and now renewed); a key missing from it was taken over by another worker.
        """
        ...

    def release(self, owner: str, plan_keys: Iterable[str]) -> None:
        """Give up ``owner``'s leases on ``plan_keys`` (keys it does not hold are ignored)."""
        ...

    def update(self, owner: str, record: PlanRecord, *, now: datetime, detail: str = "") -> PlanRecord:
        """Move a leased plan to ``record`` in one transaction, with its audit rows; return the stored record.

        ``record`` is a changed copy of the plan as the caller last read it (``version`` must match). The
        store writes what changed: the plan's state, outcome, detail, due time and data, changed groups and
        new groups (groups cannot be removed). Every state change of the plan or a group appends an
        `AuditEntry` with ``detail`` (the groups' moves first, then the plan's); an update that changes no
        state records a non-empty ``detail`` as a note. Moving a plan to DONE clears ``due_at`` and sets
        ``finished_at`` (default ``now``). The version goes up by one unless nothing changed.

        Raises:
            LeaseLostError: ``owner`` does not hold the plan's lease (or the plan is unknown).
            StaleRecordError: ``record.version`` is not the stored version.
            ValueError: the move breaks the state machine (DONE or a final group state is left, a state
                goes back to RECEIVED, a group is dropped, DONE without an outcome).
            StoreError: a correlation key is already used by another plan, or the store failed.
        """
        ...

    def record_checks(self, owner: str, plans: Sequence[CheckedPlan], *, now: datetime) -> frozenset[str]:
        """Record many status checks that moved no state, in one transaction: the engine's polling fast path.

        For each plan ``owner`` still leases, every listed group in state TICKETED gets its status fields and
        next check time, the plan its due time, and the version goes up by one. No audit row is written: no
        state changed. Plans ``owner`` no longer leases are left alone.

        Returns:
            The keys of the plans written.
        """
        ...

    def close(self) -> None:
        """Release the store's connections. Closing twice is harmless; other calls then fail."""
        ...


# --------------------------------------------------------------------------------------------------- helpers


def dump_json(value: Any, what: str) -> str:
    """Compact JSON text of ``value``; ``ValueError`` naming ``what`` if it is not plain JSON data."""
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from exc


def load_json(text: str) -> Any:
    """The data in JSON ``text``."""
    return json.loads(text)


def check_lease_args(owner: str, limit: int, lease_for: timedelta) -> None:
    """Refuse an empty owner, a non-positive limit or lease time."""
    if not owner:
        raise ValueError("owner must not be empty")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if lease_for <= timedelta(0):
        raise ValueError(f"lease_for must be positive, got {lease_for}")


def check_page_size(page_size: int) -> None:
    """Refuse a page size below 1."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")


def new_plan_record(new: NewPlan, now: datetime) -> PlanRecord:
    """The record ``add`` stores for ``new``."""
    return PlanRecord(
        plan_key=new.plan_key,
        plan=new.plan,
        state=PlanState.RECEIVED,
        received_at=now,
        source=new.source,
        due_at=new.due_at or now,
    )


def received_entry(plan_key: str, now: datetime) -> AuditEntry:
    """The audit row of a newly recorded plan."""
    return AuditEntry(
        plan_key=plan_key, group_id=None, correlation_key=None, from_state=None, to_state=PlanState.RECEIVED, at=now
    )


@attrs.frozen
class PlannedUpdate:
    """What `StateStore.update` must write, worked out once for every backend.

    Attributes:
        record: the record as it will be stored (version bumped, store-owned fields kept).
        modified: whether anything but the audit trail changes (the version goes up).
        inserted: groups to add.
        changed: groups to rewrite.
        entries: audit rows to append, in order.
    """

    record: PlanRecord
    modified: bool
    inserted: tuple[TicketGroupRecord, ...]
    changed: tuple[TicketGroupRecord, ...]
    entries: tuple[AuditEntry, ...]


def plan_update(
    current: PlanRecord | None, proposed: PlanRecord, *, owner: str, now: datetime, detail: str
) -> PlannedUpdate:
    """Check ``proposed`` against ``current`` (read in the same transaction) and work out the writes.

    Raises:
        LeaseLostError: ``owner`` does not hold ``current``'s lease, or ``current`` is ``None``.
        StaleRecordError: the versions differ.
        ValueError: the move breaks the state machine.
    """
    if current is None or current.lease_owner != owner:
        raise LeaseLostError(
            plan_key=proposed.plan_key, owner=owner, holder=current.lease_owner if current is not None else None
        )
    if current.version != proposed.version:
        raise StaleRecordError(plan_key=proposed.plan_key, expected=proposed.version, found=current.version)
    key = current.plan_key
    if current.state is PlanState.DONE:
        raise ValueError(f"plan {key!r} is DONE, which is final")
    if proposed.state is PlanState.RECEIVED and current.state is not PlanState.RECEIVED:
        raise ValueError(f"plan {key!r} cannot go back from {current.state.name} to RECEIVED")
    due_at, finished_at = proposed.due_at, proposed.finished_at
    if proposed.state is PlanState.DONE:
        if proposed.outcome is None:
            raise ValueError(f"plan {key!r} cannot be DONE without an outcome")
        due_at, finished_at = None, finished_at or now

    current_groups = {group.group_id: group for group in current.groups}
    proposed_ids = {group.group_id for group in proposed.groups}
    dropped = [group_id for group_id in current_groups if group_id not in proposed_ids]
    if dropped:
        raise ValueError(f"plan {key!r}: groups cannot be removed ({', '.join(map(repr, dropped))})")
    ordered = [*current.groups, *(g for g in proposed.groups if g.group_id not in current_groups)]
    proposed_by_id = {group.group_id: group for group in proposed.groups}

    inserted: list[TicketGroupRecord] = []
    changed: list[TicketGroupRecord] = []
    entries: list[AuditEntry] = []
    for group in (proposed_by_id[g.group_id] for g in ordered):
        before = current_groups.get(group.group_id)
        if before is None:
            inserted.append(group)
            entries.append(_entry(key, group, None, group.state, now, owner, detail))
            continue
        # created_at belongs to the store once the group exists.
        after = proposed_by_id[group.group_id] = attrs.evolve(group, created_at=before.created_at)
        if after == before:
            continue
        if after.state is not before.state:
            if before.state.is_final:
                raise ValueError(f"plan {key!r}: group {after.group_id!r} is {before.state.name}, which is final")
            if after.state is GroupState.RECEIVED:
                raise ValueError(
                    f"plan {key!r}: group {after.group_id!r} cannot go back from {before.state.name} to RECEIVED"
                )
            entries.append(_entry(key, after, before.state, after.state, now, owner, detail))
        changed.append(after)

    groups = tuple(proposed_by_id[g.group_id] for g in ordered)
    row_changed = (
        proposed.state is not current.state
        or proposed.outcome is not current.outcome
        or proposed.detail != current.detail
        or due_at != current.due_at
        or finished_at != current.finished_at
        or proposed.plan != current.plan
    )
    if proposed.state is not current.state:
        entries.append(_entry(key, None, current.state, proposed.state, now, owner, detail))
    elif detail and not entries:  # a note: nothing moved, but the caller has something to record
        entries.append(_entry(key, None, current.state, current.state, now, owner, detail))
    modified = row_changed or bool(inserted) or bool(changed)
    record = attrs.evolve(
        current,
        plan=proposed.plan,
        state=proposed.state,
        outcome=proposed.outcome,
        detail=proposed.detail,
        due_at=due_at,
        finished_at=finished_at,
        version=current.version + 1 if modified else current.version,
        groups=groups,
    )
    return PlannedUpdate(
        record=record,
        modified=modified,
        inserted=tuple(inserted),
        changed=tuple(changed),
        entries=tuple(entries),
    )


def _entry(
    plan_key: str,
    group: TicketGroupRecord | None,
    before: PlanState | GroupState | None,
    after: PlanState | GroupState,
    now: datetime,
    owner: str,
    detail: str,
) -> AuditEntry:
    return AuditEntry(
        plan_key=plan_key,
        group_id=None if group is None else group.group_id,
        correlation_key=None if group is None else group.correlation_key,
        from_state=before,
        to_state=after,
        at=now,
        owner=owner,
        detail=detail,
    )


def state_of(value: str, group_id: str | None) -> PlanState | GroupState:
    """An audit state read back from storage: a plan state when ``group_id`` is ``None``, else a group state."""
    return PlanState(value) if group_id is None else GroupState(value)


def chunked(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``size`` (SQL parameter lists stay bounded)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------------- URLs

_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)


def mask_store_url(url: str) -> str:
    """``url`` (a store URL or a PostgreSQL DSN, URL or ``key=value`` form) with any password replaced by ``***``."""
    masked = _KEYWORD_PASSWORD.sub(r"\1***", url)
    scheme, sep, rest = masked.partition("://")
    if not sep:
        return masked
    authority, slash, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        authority = f"{user}:***@{hosts}"
    return f"{scheme}://{authority}{slash}{tail}"


def passwords_in(url: str) -> tuple[str, ...]:
    """The password(s) spelled in ``url`` (raw and percent-decoded), to scrub from messages."""
    found: list[str] = []
    for match in _KEYWORD_PASSWORD.finditer(url):
        found.append(match.group(2).strip("'"))
    if "://" in url:
        authority = url.partition("://")[2].partition("/")[0]
        userinfo, at, _ = authority.rpartition("@")
        if at and ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    found += [unquote(p) for p in found]
    return tuple(sorted({p for p in found if p and p != "***"}, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


_SCHEMES = "sqlite:///path, memory:// or postgresql://..."


def open_store(url: str) -> StateStore:
    """Open the store a URL names.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: `SqliteStore` (the default);
    - ``memory://``: `MemoryStore` (tests, demos; nothing survives the process);
    - ``postgresql://...`` or ``postgres://...``: `PostgresStore` (needs the ``postgres`` extra).

    Raises:
        ConfigError: the URL is not one of these.
        StoreError: the store could not be opened (see the store classes).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise _url_error(url, f"not a store URL; expected {_SCHEMES}")
    if scheme == "memory":
        if rest.strip("/"):
            raise _url_error(url, "memory:// takes no path")
        from ._store_memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        parts = urlsplit(url)
        if parts.netloc or not rest.startswith("/"):
            raise _url_error(url, "expected sqlite:///relative/path or sqlite:////absolute/path (three slashes)")
        if parts.query or parts.fragment:
            raise _url_error(url, "sqlite URLs take no query or fragment")
        path = unquote(parts.path)[1:]
        if not path or path == ":memory:":
            raise _url_error(url, "give a file path (for an in-memory store use memory://)")
        from ._store_sqlite import SqliteStore

        return SqliteStore(path)
    if scheme in {"postgresql", "postgres"}:
        from ._store_postgres import PostgresStore

        return PostgresStore(url)
    raise _url_error(url, f"unknown store scheme {scheme!r}; expected {_SCHEMES}")


def _url_error(url: str, message: str) -> ConfigError:
    return ConfigError("invalid store URL", [ValidationProblem("store", f"{message} (got {mask_store_url(url)!r})")])
