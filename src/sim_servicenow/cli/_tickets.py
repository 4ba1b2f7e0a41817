"""``sim-servicenow tickets``: the plans a state store tracks, their tickets and states."""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .._errors import ConfigError, ValidationProblem
from ..engine import AuditEntry, PlanOutcome, PlanRecord, PlanState, StateStore, mask_store_url, open_store
from ._exit import ExitCode
from ._load import load_config
from ._output import emit_json, print_table, shorten

__all__ = ["plan_json", "run_tickets"]


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _identity(plan: Mapping[str, Any]) -> str:
    identity = plan.get("identity")
    if isinstance(identity, Mapping):
        for key in ("name", "displayName", "id"):
            if identity.get(key):
                return str(identity[key])
    return "-"


def plan_json(record: PlanRecord, audit: tuple[AuditEntry, ...] | None = None) -> dict[str, Any]:
    """A tracked plan as JSON-ready data (``tickets --json``); the plan's own data is left out, but its identity."""
    data: dict[str, Any] = {
        "plan_key": record.plan_key,
        "identity": _identity(record.plan),
        "source": record.source,
        "state": record.state.value,
        "outcome": record.outcome.value if record.outcome else None,
        "received_at": _iso(record.received_at),
        "finished_at": _iso(record.finished_at),
        "due_at": _iso(record.due_at),
        "detail": record.detail,
        "tickets": [
            {
                "group_id": group.group_id,
                "correlation_key": group.correlation_key,
                "state": group.state.value,
                "number": group.ticket_number,
                "attempt": group.attempt,
                "last_status": group.last_status,
                "status_values": dict(group.status_values or {}),
                "unknown_status": group.unknown_status,
                "next_check_at": _iso(group.next_check_at),
                "expires_at": _iso(group.expires_at),
                "detail": group.detail,
            }
            for group in record.groups
        ],
    }
    if audit is not None:
        data["audit"] = [
            {
                "at": _iso(entry.at),
                "group_id": entry.group_id,
                "from": entry.from_state.value if entry.from_state is not None else None,
                "to": entry.to_state.value,
                "owner": entry.owner,
                "detail": entry.detail,
            }
            for entry in audit
        ]
    return data


def _open(args: argparse.Namespace) -> StateStore:
    url = args.store or load_config(args.config).store_url
    if url.partition("://")[0].lower() == "sqlite":
        # Reading must not create an empty store where the user mistyped a path.
        path = Path(unquote(urlsplit(url).path)[1:])
        if not path.exists():
            raise ConfigError("no state store", [ValidationProblem("--store", f"{path} does not exist")])
    if url.partition("://")[0].lower() == "memory":
        raise ConfigError("no state store", [ValidationProblem("--store", "memory:// lives only inside a process")])
    return open_store(url)


def _ticket_cells(record: PlanRecord) -> tuple[str, str]:
    numbers = ", ".join(group.ticket_number or "-" for group in record.groups) or "-"
    states = ", ".join(
        f"{group.state.value}" + (f" ({group.last_status})" if group.last_status and not group.state.is_final else "")
        for group in record.groups
    )
    return numbers, states or "-"


def _show_one(store: StateStore, record: PlanRecord, as_json: bool) -> None:
    audit = store.audit(record.plan_key)
    if as_json:
        emit_json(plan_json(record, audit))
        return
    outcome = f", outcome {record.outcome.value}" if record.outcome else ""
    print(f"Plan {record.plan_key} for {_identity(record.plan)} (from {record.source or '-'})")
    print(f"  state {record.state.value}{outcome}; received {_time(record.received_at)} UTC", end="")
    print(f", finished {_time(record.finished_at)} UTC" if record.finished_at else "")
    if record.detail:
        print(f"  {record.detail}")
    for group in record.groups:
        print(f"  ticket {group.ticket_number or '(none yet)'}: {group.state.value}, attempt {group.attempt}")
        print(f"    correlation key {group.correlation_key}")
        if group.status_values:
            values = ", ".join(f"{key}={value}" for key, value in group.status_values.items())
            print(f"    last status {group.last_status}: {values}")
        if group.next_check_at and not group.state.is_final:
            print(f"    next check {_time(group.next_check_at)} UTC; expires {_time(group.expires_at)} UTC")
        if group.detail:
            print(f"    {group.detail}")
    print()
    rows = [
        (
            _time(entry.at),
            entry.group_id or "plan",
            f"{entry.from_state.value if entry.from_state else '-'} -> {entry.to_state.value}",
            entry.owner or "-",
            shorten(entry.detail, 70),
        )
        for entry in audit
    ]
    print_table(("When (UTC)", "What", "Move", "Worker", "Detail"), rows, title="Audit trail", wrap=(4,))


def run_tickets(args: argparse.Namespace) -> ExitCode:
    """List tracked plans, or show one."""
    store = _open(args)
    try:
        if args.plan or args.ticket:
            record = store.get(args.plan) if args.plan else store.find_by_ticket_number(args.ticket)
            if record is None:
                what = f"plan {args.plan!r}" if args.plan else f"ticket {args.ticket!r}"
                where = mask_store_url(args.store) if args.store else f"the store of {args.config}"
                print(f"error: no {what} in {where}", file=sys.stderr)
                return ExitCode.FAILED
            _show_one(store, record, args.json)
            return ExitCode.OK
        matches = store.iter_plans(
            state=PlanState(args.state) if args.state else None,
            outcome=PlanOutcome(args.outcome) if args.outcome else None,
            source=args.source,
        )
        # The store reads oldest first; keep the most recent `limit` without holding every plan.
        latest: collections.deque[PlanRecord] = collections.deque(maxlen=args.limit or None)
        total = 0
        for record in matches:
            latest.append(record)
            total += 1
        if args.json:
            emit_json([plan_json(record) for record in latest])
            return ExitCode.OK
        rows = []
        for record in latest:
            numbers, states = _ticket_cells(record)
            rows.append(
                (
                    record.plan_key,
                    _identity(record.plan),
                    record.state.value,
                    record.outcome.value if record.outcome else "-",
                    numbers,
                    states,
                    _time(record.received_at),
                )
            )
        headers = ("Plan", "Identity", "State", "Outcome", "Ticket", "Ticket state", "Received (UTC)")
        print_table(headers, rows, wrap=(5,))
        shown = f"the {len(latest)} most recent of {total}" if len(latest) < total else f"{total}"
        counts = store.counts()
        by_state = ", ".join(f"{count} {state.value}" for state, count in counts.plans.items() if count)
        print(f"\n{shown} matching plan(s); in the store: {by_state or 'nothing'}")
        return ExitCode.OK
    finally:
        store.close()
