"""What the SQLite and PostgreSQL stores share: the SQL of every operation, written once.

A backend supplies transactions (`SqlStore._transaction`), the stored form of times and JSON, and the
one statement that differs in substance: how due plans are leased (``BEGIN IMMEDIATE`` serialises SQLite
writers; PostgreSQL uses ``FOR UPDATE SKIP LOCKED``). Statements use ``?`` placeholders; `SqlTx`
translates them for drivers that want ``%s``.

Statements are assembled from constants and placeholder lists only (hence the ``noqa: S608``); values always
travel as parameters.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from ._migrations import Dialect
from ._store import (
    AuditEntry,
    CheckedPlan,
    NewPlan,
    PlanOutcome,
    PlanRecord,
    PlanState,
    StoreCounts,
    TicketGroupRecord,
    check_lease_args,
    check_page_size,
    chunked,
    new_plan_record,
    plan_update,
    state_of,
    utc,
)

__all__ = ["SqlStore", "SqlTx"]

logger = logging.getLogger("sim_servicenow.store")

_PLAN_COLUMNS = (
    "id, plan_key, plan, state, received_at, source, outcome, detail, due_at, finished_at, lease_owner, lease_until,"
    " version"
)
_GROUP_COLUMNS = (
    "plan_id, group_id, correlation_key, state, created_at, attempt, ticket, ticket_number, last_status,"
    " status_values, unknown_status, next_check_at, expires_at, detail"
)
_GROUP_INSERT = (
    f"INSERT INTO sim_ticket_groups ({_GROUP_COLUMNS}, position)"  # noqa: S608
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_GROUP_UPDATE = (
    "UPDATE sim_ticket_groups SET correlation_key = ?, state = ?, attempt = ?, ticket = ?, ticket_number = ?,"
    " last_status = ?, status_values = ?, unknown_status = ?, next_check_at = ?, expires_at = ?, detail = ?"
    " WHERE plan_id = ? AND group_id = ?"
)
_AUDIT_INSERT = (
    "INSERT INTO sim_audit (plan_id, group_id, correlation_key, from_state, to_state, at, owner, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_Store = TypeVar("_Store", bound="SqlStore")

#: Rows per batch of ``add_many``: one transaction each, so a writer never holds the lock for long.
ADD_BATCH = 500


class _Cursor(Protocol):
    @property
    def description(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...
    def fetchall(self) -> Sequence[Any]: ...


class SqlTx:
    """One open transaction: statements with ``?`` placeholders, rows back as tuples."""

    def __init__(self, execute: Any, *, placeholder: str = "?") -> None:
        self._execute = execute
        self._placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement and return its rows (none for a statement without a result)."""
        cursor: _Cursor = self._execute(self._sql(sql), tuple(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description is not None else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement and return how many rows it changed."""
        cursor: _Cursor = self._execute(self._sql(sql), tuple(params))
        return cursor.rowcount

    def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a statement once per parameter row, in this transaction."""
        statement = self._sql(sql)
        for params in rows:
            self._execute(statement, tuple(params))


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class BatchedAdds:
    """``add`` and ``add_many`` in terms of one ``_add_batch`` per `ADD_BATCH` plans, for every store."""

    def _add_batch(self, batch: Sequence[NewPlan], now: datetime) -> list[bool]:
        raise NotImplementedError

    def add(
        self, plan_key: str, plan: Mapping[str, Any], *, source: str = "", now: datetime, due_at: datetime | None = None
    ) -> bool:
        """Record a new plan in state RECEIVED; ``False`` if its key was already known."""
        return self.add_many([NewPlan(plan_key=plan_key, plan=plan, source=source, due_at=due_at)], now=now)[0]

    def add_many(self, plans: Iterable[NewPlan], *, now: datetime) -> list[bool]:
        """Record several plans, `ADD_BATCH` at a time; one ``add`` result per plan."""
        now = utc(now)
        results: list[bool] = []
        batch: list[NewPlan] = []
        for new in plans:
            batch.append(new)
            if len(batch) == ADD_BATCH:
                results += self._add_batch(batch, now)
                batch = []
        if batch:
            results += self._add_batch(batch, now)
        return results


class SqlStore(BatchedAdds, abc.ABC):
    """The `StateStore` operations in SQL; subclasses connect and spell the dialect's differences."""

    _dialect: Dialect
    #: appended to the statement that reads a plan before an update (``FOR UPDATE`` in PostgreSQL).
    _lock_clause = ""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the store lives, safe to show (a path, or a URL with its password masked)."""

    # ---------------------------------------------------------------------------------------- backend hooks

    @abc.abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[SqlTx]:
        """One transaction; a write transaction holds the write lock from its start (SQLite) or row locks."""

    @abc.abstractmethod
    def _encode_time(self, value: datetime) -> Any: ...

    @abc.abstractmethod
    def _decode_time(self, value: Any) -> datetime: ...

    @abc.abstractmethod
    def _encode_json(self, value: Any, what: str) -> Any: ...

    @abc.abstractmethod
    def _decode_json(self, value: Any) -> Any: ...

    @abc.abstractmethod
    def _lease_ids(self, tx: SqlTx, owner: str, now: Any, until: Any, limit: int) -> list[int]:
        """Lease up to ``limit`` due, unleased plans to ``owner``, earliest due first; return their ids."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the store's connections."""

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------- encoding

    def _time_or_none(self, value: datetime | None) -> Any:
        return None if value is None else self._encode_time(value)

    def _decoded_time_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self._decode_time(value)

    def _json_or_none(self, value: Any, what: str) -> Any:
        return None if value is None else self._encode_json(value, what)

    def _plan_from_row(self, row: Sequence[Any], groups: Sequence[TicketGroupRecord]) -> PlanRecord:
        (_id, key, plan, state, received, source, outcome, detail, due, finished, owner, until, version) = row
        return PlanRecord(
            plan_key=key,
            plan=self._decode_json(plan),
            state=state,
            received_at=self._decode_time(received),
            source=source,
            outcome=outcome,
            detail=detail,
            due_at=self._decoded_time_or_none(due),
            finished_at=self._decoded_time_or_none(finished),
            lease_owner=owner,
            lease_until=self._decoded_time_or_none(until),
            version=version,
            groups=groups,
        )

    def _group_from_row(self, row: Sequence[Any]) -> TicketGroupRecord:
        (_plan_id, group_id, key, state, created, attempt, ticket, number, status, values, unknown, check, expires,
         detail) = row  # fmt: skip
        return TicketGroupRecord(
            group_id=group_id,
            correlation_key=key,
            state=state,
            created_at=self._decode_time(created),
            attempt=attempt,
            ticket=None if ticket is None else self._decode_json(ticket),
            ticket_number=number,
            last_status=status,
            status_values=None if values is None else self._decode_json(values),
            unknown_status=bool(unknown),
            next_check_at=self._decoded_time_or_none(check),
            expires_at=self._decoded_time_or_none(expires),
            detail=detail,
        )

    def _group_values(self, group: TicketGroupRecord) -> tuple[Any, ...]:
        """The group's mutable columns, in `_GROUP_UPDATE` order (before the key columns)."""
        what = f"ticket group {group.group_id!r}"
        return (
            group.correlation_key,
            group.state.value,
            group.attempt,
            self._json_or_none(group.ticket, f"{what}: ticket"),
            group.ticket_number,
            group.last_status,
            self._json_or_none(group.status_values, f"{what}: status_values"),
            group.unknown_status,
            self._time_or_none(group.next_check_at),
            self._time_or_none(group.expires_at),
            group.detail,
        )

    def _audit_values(self, plan_id: int, entry: AuditEntry) -> tuple[Any, ...]:
        return (
            plan_id,
            entry.group_id,
            entry.correlation_key,
            None if entry.from_state is None else entry.from_state.value,
            entry.to_state.value,
            self._encode_time(entry.at),
            entry.owner,
            entry.detail,
        )

    # ---------------------------------------------------------------------------------------- reading

    def _select_plans(
        self, tx: SqlTx, where: str, params: Sequence[Any], *, suffix: str = ""
    ) -> list[tuple[int, PlanRecord]]:
        rows = tx.rows(f"SELECT {_PLAN_COLUMNS} FROM sim_plans WHERE {where}{suffix}", params)  # noqa: S608
        groups: dict[int, list[TicketGroupRecord]] = {row[0]: [] for row in rows}
        for ids in chunked(list(groups)):
            for group_row in tx.rows(
                f"SELECT {_GROUP_COLUMNS} FROM sim_ticket_groups WHERE plan_id IN ({_marks(len(ids))})"  # noqa: S608
                " ORDER BY plan_id, position",
                ids,
            ):
                groups[group_row[0]].append(self._group_from_row(group_row))
        return [(row[0], self._plan_from_row(row, groups[row[0]])) for row in rows]

    def _select_by_ids(self, tx: SqlTx, ids: Sequence[int]) -> list[tuple[int, PlanRecord]]:
        found: list[tuple[int, PlanRecord]] = []
        for chunk in chunked(ids):
            found += self._select_plans(tx, f"id IN ({_marks(len(chunk))})", chunk)
        return found

    def get(self, plan_key: str) -> PlanRecord | None:
        """The plan with ``plan_key``, or ``None``."""
        with self._transaction(write=False) as tx:
            found = self._select_plans(tx, "plan_key = ?", (plan_key,))
        return found[0][1] if found else None

    def _find_by_group(self, where: str, value: str) -> PlanRecord | None:
        with self._transaction(write=False) as tx:
            rows = tx.rows(
                f"SELECT plan_id FROM sim_ticket_groups WHERE {where} ORDER BY plan_id DESC LIMIT 1",  # noqa: S608
                (value,),
            )
            found = self._select_plans(tx, "id = ?", (rows[0][0],)) if rows else []
        return found[0][1] if found else None

    def find_by_correlation_key(self, correlation_key: str) -> PlanRecord | None:
        """The plan with a ticket group whose current correlation key is ``correlation_key``, or ``None``."""
        return self._find_by_group("correlation_key = ?", correlation_key)

    def find_by_ticket_number(self, ticket_number: str) -> PlanRecord | None:
        """The plan with a ticket group whose ticket number is ``ticket_number`` (the newest such), or ``None``."""
        return self._find_by_group("ticket_number = ?", ticket_number)

    def iter_plans(
        self,
        *,
        state: PlanState | None = None,
        outcome: PlanOutcome | None = None,
        source: str | None = None,
        page_size: int = 200,
    ) -> Iterator[PlanRecord]:
        """Every plan matching the filters, in the order they were recorded, read ``page_size`` at a time."""
        check_page_size(page_size)
        filters = ["id > ?"]
        params: list[Any] = []
        for column, value in (
            ("state", None if state is None else PlanState(state).value),
            ("outcome", None if outcome is None else PlanOutcome(outcome).value),
            ("source", source),
        ):
            if value is not None:
                filters.append(f"{column} = ?")
                params.append(value)
        where = " AND ".join(filters)
        last_id = 0
        while True:
            # Keyset paging: each page is its own short transaction, and finds its start through the index.
            with self._transaction(write=False) as tx:
                page = self._select_plans(tx, where, [last_id, *params], suffix=f" ORDER BY id LIMIT {int(page_size)}")
            for _plan_id, record in page:
                yield record
            if len(page) < page_size:
                return
            last_id = page[-1][0]

    def audit(self, plan_key: str) -> tuple[AuditEntry, ...]:
        """The plan's audit trail, oldest first (empty for an unknown plan)."""
        with self._transaction(write=False) as tx:
            rows = tx.rows(
                "SELECT p.plan_key, a.group_id, a.correlation_key, a.from_state, a.to_state, a.at, a.owner, a.detail"
                " FROM sim_audit a JOIN sim_plans p ON p.id = a.plan_id WHERE p.plan_key = ? ORDER BY a.id",
                (plan_key,),
            )
        return tuple(
            AuditEntry(
                plan_key=key,
                group_id=group_id,
                correlation_key=correlation_key,
                from_state=None if before is None else state_of(before, group_id),
                to_state=state_of(after, group_id),
                at=self._decode_time(at),
                owner=owner,
                detail=detail,
            )
            for key, group_id, correlation_key, before, after, at, owner, detail in rows
        )

    def counts(self) -> StoreCounts:
        """How many plans and groups are in each state."""
        with self._transaction(write=False) as tx:
            plans = tx.rows("SELECT state, count(*) FROM sim_plans GROUP BY state")
            outcomes = tx.rows("SELECT outcome, count(*) FROM sim_plans GROUP BY outcome")
            groups = tx.rows("SELECT state, count(*) FROM sim_ticket_groups GROUP BY state")
        return StoreCounts.from_rows(
            [(s, int(n)) for s, n in plans], [(o, int(n)) for o, n in outcomes], [(s, int(n)) for s, n in groups]
        )

    # ---------------------------------------------------------------------------------------- writing

    def _add_batch(self, batch: Sequence[NewPlan], now: datetime) -> list[bool]:
        encoded_now = self._encode_time(now)
        rows = []
        for new in batch:
            record = new_plan_record(new, now)
            rows.append(
                (
                    record.plan_key,
                    self._encode_json(record.plan, f"plan {record.plan_key!r}"),
                    record.state.value,
                    encoded_now,
                    record.source,
                    self._time_or_none(record.due_at),
                )
            )
        added: list[bool] = []
        with self._transaction(write=True) as tx:
            for key, plan, state, received, source, due in rows:
                inserted = tx.run(
                    "INSERT INTO sim_plans (plan_key, plan, state, received_at, source, detail, due_at, version)"
                    " VALUES (?, ?, ?, ?, ?, '', ?, 1) ON CONFLICT (plan_key) DO NOTHING",
                    (key, plan, state, received, source, due),
                )
                if inserted:
                    tx.run(
                        "INSERT INTO sim_audit (plan_id, to_state, at, detail)"
                        " SELECT id, ?, ?, '' FROM sim_plans WHERE plan_key = ?",
                        (state, encoded_now, key),
                    )
                added.append(bool(inserted))
        return added

    def lease_due(self, owner: str, *, now: datetime, limit: int, lease_for: timedelta) -> list[PlanRecord]:
        """Lease up to ``limit`` due plans whose lease is free or expired, earliest due first."""
        check_lease_args(owner, limit, lease_for)
        now = utc(now)
        with self._transaction(write=True) as tx:
            ids = self._lease_ids(tx, owner, self._encode_time(now), self._encode_time(now + lease_for), limit)
            found = self._select_by_ids(tx, ids) if ids else []
        if found:
            logger.debug("%s leased %d plan(s) until %s", owner, len(found), (now + lease_for).isoformat())
        order = {plan_id: index for index, plan_id in enumerate(ids)}
        return [record for _id, record in sorted(found, key=lambda pair: order[pair[0]])]

    def renew(self, owner: str, plan_keys: Iterable[str], *, now: datetime, lease_for: timedelta) -> frozenset[str]:
        """Extend ``owner``'s leases on ``plan_keys``; return the keys still held."""
        check_lease_args(owner, 1, lease_for)
        keys = list(dict.fromkeys(plan_keys))
        until = self._encode_time(utc(now) + lease_for)
        held: set[str] = set()
        with self._transaction(write=True) as tx:
            for chunk in chunked(keys):
                marks = _marks(len(chunk))
                tx.run(
                    f"UPDATE sim_plans SET lease_until = ? WHERE lease_owner = ? AND plan_key IN ({marks})",  # noqa: S608
                    (until, owner, *chunk),
                )
                rows = tx.rows(
                    f"SELECT plan_key FROM sim_plans WHERE lease_owner = ? AND plan_key IN ({marks})",  # noqa: S608
                    (owner, *chunk),
                )
                held.update(row[0] for row in rows)
        logger.debug("%s renewed %d of %d lease(s)", owner, len(held), len(keys))
        return frozenset(held)

    def release(self, owner: str, plan_keys: Iterable[str]) -> None:
        """Give up ``owner``'s leases on ``plan_keys``."""
        keys = list(dict.fromkeys(plan_keys))
        with self._transaction(write=True) as tx:
            for chunk in chunked(keys):
                tx.run(
                    "UPDATE sim_plans SET lease_owner = NULL, lease_until = NULL"  # noqa: S608
                    f" WHERE lease_owner = ? AND plan_key IN ({_marks(len(chunk))})",
                    (owner, *chunk),
                )

    def record_checks(self, owner: str, plans: Sequence[CheckedPlan], *, now: datetime) -> frozenset[str]:
        """Record quiet status checks of leased plans in one transaction (see `StateStore`)."""
        utc(now)
        wanted = {plan.plan_key: plan for plan in plans}
        written: set[str] = set()
        with self._transaction(write=True) as tx:
            ids: dict[str, int] = {}
            for chunk in chunked(list(wanted)):
                rows = tx.rows(
                    f"SELECT id, plan_key FROM sim_plans WHERE lease_owner = ? AND plan_key IN ({_marks(len(chunk))})"  # noqa: S608
                    + self._lock_clause,
                    (owner, *chunk),
                )
                ids.update((row[1], row[0]) for row in rows)
            plan_rows = [(self._encode_time(wanted[key].due_at), plan_id) for key, plan_id in ids.items()]
            group_rows = [
                (
                    group.last_status,
                    self._json_or_none(group.status_values, f"ticket group {group.group_id!r}: status_values"),
                    group.unknown_status,
                    self._encode_time(group.next_check_at),
                    group.detail,
                    plan_id,
                    group.group_id,
                )
                for key, plan_id in ids.items()
                for group in wanted[key].groups
            ]
            tx.run_many("UPDATE sim_plans SET due_at = ?, version = version + 1 WHERE id = ?", plan_rows)
            tx.run_many(
                "UPDATE sim_ticket_groups SET last_status = ?, status_values = ?, unknown_status = ?,"
                " next_check_at = ?, detail = ? WHERE plan_id = ? AND group_id = ? AND state = 'ticketed'",
                group_rows,
            )
            written.update(ids)
        return frozenset(written)

    def update(self, owner: str, record: PlanRecord, *, now: datetime, detail: str = "") -> PlanRecord:
        """Move a leased plan to ``record`` in one transaction, with its audit rows (see `StateStore`)."""
        now = utc(now)
        with self._transaction(write=True) as tx:
            found = self._select_plans(tx, "plan_key = ?", (record.plan_key,), suffix=self._lock_clause)
            plan_id, current = found[0] if found else (0, None)
            planned = plan_update(current, record, owner=owner, now=now, detail=detail)
            new = planned.record
            if planned.modified:
                tx.run(
                    "UPDATE sim_plans SET plan = ?, state = ?, outcome = ?, detail = ?, due_at = ?, finished_at = ?,"
                    " version = ? WHERE id = ?",
                    (
                        self._encode_json(new.plan, f"plan {new.plan_key!r}"),
                        new.state.value,
                        None if new.outcome is None else new.outcome.value,
                        new.detail,
                        self._time_or_none(new.due_at),
                        self._time_or_none(new.finished_at),
                        new.version,
                        plan_id,
                    ),
                )
            position = len(current.groups) if current is not None else 0
            for offset, group in enumerate(planned.inserted):
                tx.run(
                    _GROUP_INSERT,
                    (
                        plan_id,
                        group.group_id,
                        group.correlation_key,
                        group.state.value,
                        self._encode_time(group.created_at),
                        group.attempt,
                        *self._group_values(group)[3:],
                        position + offset,
                    ),
                )
            for group in planned.changed:
                tx.run(_GROUP_UPDATE, (*self._group_values(group), plan_id, group.group_id))
            for entry in planned.entries:
                tx.run(_AUDIT_INSERT, self._audit_values(plan_id, entry))
        return new
