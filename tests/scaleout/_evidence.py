"""Proof that no plan was handled by two workers at once, from what the run left behind.

Three records, none written by the code under test for the purpose:

- the **lease history**: a trigger on ``sim_plans`` (installed by the test in the test's schema) logs every change
  of a plan's ``lease_owner`` / ``lease_until``, in commit order per plan (the row lock orders them);
- the **audit trail**: every move of a plan or group, with the worker that made it and its clock's ``now``;
- the fakes' **request logs**: every outward effect (a catalog order, the REQ's correlation id, a work item
  completed or forwarded), with the worker that sent it (the ``X-Sim-Worker`` header) and when it was served.

A lease granted at ``now`` lasts until ``lease_until = now + lease_for``; a renewal at ``now`` sets the same.
So each history row with an owner says: that worker held the plan over ``[lease_until - lease_for,
lease_until]``, and — since only the holder can be the owner — nobody else did until the next row with another
owner. The checks:

1. **takeover only after expiry**: when the owner changes from one worker to another without a release between,
   the new lease started at or after the old one's end (the store's promise, checked from its own rows);
2. **every action under a live lease**: each action of a worker on a plan — audit entry or outward request — lies
   within one of that worker's lease intervals on that plan, cut short where another worker's lease began.

Since the cut intervals of different workers never overlap, (2) means no two workers ever acted on one plan
during the same stretch of time. All times are the workers' and the fakes' wall clocks, on one machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from sim_servicenow.engine import AuditEntry
from sim_servicenow.testing import LoggedRequest

__all__ = [
    "Action",
    "LeaseRow",
    "audit_actions",
    "idn_actions",
    "install_lease_log",
    "lease_violations",
    "read_lease_log",
    "sn_actions",
]

#: Microsecond rounding of stored times.
_SLACK = 1e-6


@attrs.frozen
class LeaseRow:
    """One change of a plan's lease: ``owner`` holds it until ``until`` (both ``None``: released).

    Attributes:
        plan_key: the plan.
        owner: the lease owner after the change.
        until: the lease's end after the change, epoch seconds.
    """

    plan_key: str
    owner: str | None
    until: float | None


@attrs.frozen
class Action:
    """Something a worker did to a plan at a moment.

    Attributes:
        plan_key: the plan.
        owner: the worker.
        at: when, epoch seconds.
        what: a description for the failure message.
    """

    plan_key: str
    owner: str
    at: float
    what: str


def _intervals(rows: Sequence[LeaseRow], lease_for: float) -> tuple[list[tuple[str, float, float]], list[str]]:
    """Each owner's lease intervals, cut where another worker's lease began; and takeovers before expiry."""
    granted: list[tuple[str, float, float]] = []
    early: list[str] = []
    holder: tuple[str, float] | None = None
    for row in rows:
        if row.owner is None or row.until is None:
            holder = None
            continue
        start = row.until - lease_for
        if holder is not None and holder[0] != row.owner and start < holder[1] - _SLACK:
            early.append(
                f"{row.plan_key}: {row.owner} took the lease at {start:.6f}, before {holder[0]}'s ended at "
                f"{holder[1]:.6f}"
            )
        granted.append((row.owner, start, row.until))
        holder = (row.owner, row.until)
    cut: list[tuple[str, float, float]] = []
    for index, (owner, start, end) in enumerate(granted):
        successor = next((s for o, s, _e in granted[index + 1 :] if o != owner), None)
        cut.append((owner, start, end if successor is None else min(end, successor)))
    return cut, early


def lease_violations(
    history: Mapping[str, Sequence[LeaseRow]], actions: Iterable[Action], *, lease_for: float
) -> list[str]:
    """Every breach of the two rules in the module docstring, one line each (empty: none)."""
    problems: list[str] = []
    intervals: dict[str, list[tuple[str, float, float]]] = {}
    for plan_key, rows in history.items():
        intervals[plan_key], early = _intervals(rows, lease_for)
        problems += early
    for action in actions:
        held = [
            (start, end)
            for owner, start, end in intervals.get(action.plan_key, [])
            if owner == action.owner and start - _SLACK <= action.at <= end + _SLACK
        ]
        if not held:
            mine = [(round(s, 3), round(e, 3)) for o, s, e in intervals.get(action.plan_key, []) if o == action.owner]
            problems.append(
                f"{action.plan_key}: {action.owner} {action.what} at {action.at:.6f} without a live lease "
                f"(its leases, cut at takeovers: {mine})"
            )
    return problems


# ------------------------------------------------------------------------------------------------ collecting

_LEASE_LOG = """
CREATE TABLE scaleout_lease_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id bigint NOT NULL,
    owner text,
    lease_until timestamptz
);
CREATE FUNCTION scaleout_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scaleout_lease_log (plan_id, owner, lease_until) VALUES (NEW.id, NEW.lease_owner, NEW.lease_until);
    RETURN NULL;
END $$;
CREATE TRIGGER scaleout_lease_log AFTER UPDATE OF lease_owner, lease_until ON sim_plans FOR EACH ROW
    WHEN (OLD.lease_owner IS DISTINCT FROM NEW.lease_owner OR OLD.lease_until IS DISTINCT FROM NEW.lease_until)
    EXECUTE FUNCTION scaleout_log_lease();
"""


def install_lease_log(dsn: str) -> None:
    """Log every lease change of the store in ``dsn``'s schema (the store's tables must exist already)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(_LEASE_LOG)


def read_lease_log(dsn: str) -> dict[str, list[LeaseRow]]:
    """The lease history of every plan, in commit order."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT p.plan_key, l.owner, l.lease_until FROM scaleout_lease_log l"
            " JOIN sim_plans p ON p.id = l.plan_id ORDER BY l.id"
        ).fetchall()
    history: dict[str, list[LeaseRow]] = {}
    for plan_key, owner, until in rows:
        history.setdefault(plan_key, []).append(LeaseRow(plan_key, owner, None if until is None else until.timestamp()))
    return history


def audit_actions(trails: Mapping[str, Iterable[AuditEntry]]) -> list[Action]:
    """The moves of every plan's audit trail (entries without an owner — plans recorded by ``add`` — left out)."""
    return [
        Action(plan_key, entry.owner, entry.at.timestamp(), f"moved to {entry.to_state.value}")
        for plan_key, entries in trails.items()
        for entry in entries
        if entry.owner is not None
    ]


_WORK_ITEM_PATH = re.compile(r"/work-items/(?:v\d+/)?(?P<id>[^/]+)(?P<forward>/forward)?/?$")


def idn_actions(requests: Iterable[LoggedRequest], *, header: str) -> list[Action]:
    """Work items completed or forwarded (``POST /v3/work-items/{id}[/forward]``), by the worker that asked."""
    actions: list[Action] = []
    for request in requests:
        match = _WORK_ITEM_PATH.search(request.path)
        worker = request.headers.get(header.lower())
        if request.method != "POST" or match is None or worker is None:
            continue
        what = "forwarded the work item" if match["forward"] else "completed the work item"
        actions.append(Action(match["id"], worker, request.at, what))
    return actions


def sn_actions(
    requests: Iterable[LoggedRequest], plan_of_key: Mapping[str, str], *, header: str, variable: str
) -> list[Action]:
    """Tickets ordered and REQs given their correlation id, by the worker that asked; ``plan_of_key`` maps keys.

    Raises:
        AssertionError: a request names a correlation key no plan ever had.
    """
    actions: list[Action] = []
    for request in requests:
        worker = request.headers.get(header.lower())
        if request.method not in ("POST", "PATCH", "PUT") or worker is None or not request.body:
            continue
        try:
            body = json.loads(request.body)
        except ValueError:
            continue
        if not isinstance(body, dict):
            continue
        variables = body.get("variables")
        if isinstance(variables, dict) and variable in variables:
            key, what = str(variables[variable]), "ordered a ticket"
        elif "correlation_id" in body:
            key, what = str(body["correlation_id"]), "set the REQ's correlation id"
        else:
            continue
        plan_key = plan_of_key.get(key)
        if plan_key is None:
            raise AssertionError(f"{worker} sent {request.method} {request.path} for unknown key {key!r}")
        actions.append(Action(plan_key, worker, request.at, f"{what} ({key})"))
    return actions
