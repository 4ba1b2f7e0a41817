"""FakeServiceNow: an in-process ServiceNow instance (Table, Service Catalog, Batch and OAuth APIs).

A WSGI application with lock-protected in-memory state. Serve it on loopback with
`serve` (``tls=True`` for clients that insist on ``https://``, such as
pysnc) or mount it on a `requests.Session` with `WSGIAdapter`.
Behaviour follows ServiceNow's REST API documentation; the assumptions it makes where the
documentation is silent are listed in ``docs/testing-servicenow.md``. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import hmac
import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ._faults import Fault, FaultKind, Faults, LoggedRequest, RequestLog
from ._server import DropConnection
from ._sn_catalog import Catalog
from ._sn_http import (
    JSON_CONTENT_TYPE,
    BadRequest,
    Request,
    Response,
    accepts_json,
    display_param,
    error_response,
    fields_param,
    int_param,
    json_response,
    link_header,
    no_resource,
    not_found,
    oauth_error,
    read_json,
    reason,
    unauthenticated,
)
from ._sn_query import Condition, parse_query
from ._sn_schema import FieldSpec, custom_table
from ._sn_store import OUTCOMES, SYSTEM, URL_FILTER, Caller, Outcome, Record, Store, StoreError

__all__ = ["DEFAULT_OAUTH_CLIENTS", "DEFAULT_USERS", "FakeServiceNow", "Outcome", "WorkPolicy"]

#: Users of a fake built without ``users=``: ``admin`` / ``admin``, as on a fresh developer instance.
DEFAULT_USERS: Mapping[str, str] = {"admin": "admin"}
#: OAuth clients of a fake built without ``oauth_clients=``.
DEFAULT_OAUTH_CLIENTS: Mapping[str, str] = {"sim-servicenow": "sim-servicenow-secret"}

#: The sys_id every instance gives its ``admin`` user.
ADMIN_SYS_ID = "6816f79cc0a8016401c5a33be04be441"
#: The sys_id the fake's ``X-RateLimit-Rule`` header names.
RATE_LIMIT_RULE_SYS_ID = "9fb2ad5b1b0bb0102c1d42a1b24bcb5a"
#: Requests per hour the fake's rate-limit answers claim (the documentation's example rule).
RATE_LIMIT_PER_HOUR = 100

_TABLE_PATH = re.compile(r"^/api/now/(?:(v\d+)/)?table/([^/]+)(?:/([^/]+))?/?$")
_BATCH_PATH = re.compile(r"^/api/now/(?:v\d+/)?batch/?$")
_CATALOG_PATH = re.compile(r"^/api/sn_sc/(?:v\d+/)?servicecatalog/(.*?)/?$")
_SECRET_FORM_FIELDS = frozenset({"password", "client_secret", "refresh_token", "assertion", "code", "token"})
_MASKED_HEADERS = frozenset({"authorization", "cookie", "x-sn-apikey", "authentication"})
_HIBERNATION_PAGE = (
    "<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head><body>"
    "<h1>Your instance is hibernating</h1>"
    "<p>Developer instances hibernate after a period of inactivity. "
    "Sign in to the developer portal to wake it up.</p></body></html>"
)
_GATEWAY_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
)


# -- work policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkPolicy:
    """Fulfilers the fake simulates: tickets are worked and closed on their own, on the fake's clock.

    Evaluated lazily on each request (and on `FakeServiceNow.tick`); no background thread.

    Attributes:
        close_after: seconds after creation at which a ticket is closed.
        outcomes: relative weights of the outcomes to close with, e.g. ``{"complete": 8, "rejected": 2}``;
            keys from ``complete``, ``incomplete``, ``cancelled``, ``rejected``, ``skipped``.
        start_after: seconds after creation at which work starts (approval given, work in progress);
            ``None`` leaves tickets untouched until they close.
        tables: the tables whose tickets are worked. A request (``sc_request``) with requested items
            is closed through its items when ``sc_req_item`` is worked too.
        seed: makes the outcome of each ticket reproducible (drawn from the seed and the ticket number).
    """

    close_after: float = 60.0
    outcomes: Mapping[str, float] = field(default_factory=lambda: {"complete": 1.0})
    start_after: float | None = None
    tables: tuple[str, ...] = ("sc_request", "sc_req_item", "incident", "change_request")
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; use {', '.join(OUTCOMES)}")
        if any(weight < 0 for weight in self.outcomes.values()) or sum(self.outcomes.values()) <= 0:
            raise ValueError("outcome weights must be non-negative and not all zero")
        if self.close_after < 0:
            raise ValueError(f"close_after must not be negative, got {self.close_after}")
        if self.start_after is not None and not 0 <= self.start_after <= self.close_after:
            raise ValueError(f"start_after must be within [0, close_after], got {self.start_after}")

    def outcome_for(self, ticket: str) -> Outcome:
        """The outcome of one ticket (by number or sys_id), the same every run for the same seed."""
        draw = random.Random(f"{self.seed}:{ticket}").random() * sum(self.outcomes.values())
        for outcome in OUTCOMES:
            weight = self.outcomes.get(outcome, 0.0)
            if draw < weight:
                return outcome
            draw -= weight
        return next(o for o in reversed(OUTCOMES) if self.outcomes.get(o, 0.0) > 0)


@dataclass(frozen=True)
class _DenyRule:
    table: str
    operation: str
    user: str | None
    records: frozenset[str] | None

    def denies(self, caller: Caller, table: str, operation: str, sys_id: str | None) -> bool:
        return (
            self.table == table
            and self.operation == operation
            and self.user in (None, caller.user_name)
            and (self.records is None or sys_id in self.records)
        )


@dataclass
class _Token:
    user_name: str
    client_id: str
    expires_at: float


# -- the fake -------------------------------------------------------------------------------------


class FakeServiceNow:
    """An in-process ServiceNow instance for tests: a WSGI app with inspectable, lock-protected state.

    Every keyword is optional; the defaults make a working instance with user ``admin`` / ``admin``
    and OAuth client ``sim-servicenow`` / ``sim-servicenow-secret``.

    Args:
        users: user name -> password for Basic auth and the OAuth password grant. Each becomes a
            ``sys_user`` record (``admin`` with the sys_id every instance gives it).
        oauth_clients: OAuth ``client_id`` -> ``client_secret`` accepted by ``/oauth_token.do``.
        token_lifetime: seconds an access token lives (ServiceNow's default: 1800).
        refresh_token_lifetime: seconds a refresh token lives (default: 100 days).
        client_credentials: whether the ``client_credentials`` grant is enabled; when off it is
            refused as on an instance without ``glide.oauth.inbound.client.credential.grant_type.enabled``.
        client_credentials_user: the OAuth application user whose rights client-credentials tokens
            carry (default: the first of ``users``).
        refresh_returns_refresh_token: whether a ``refresh_token`` grant echoes the (unchanged) refresh
            token in its answer; the documentation says both "only an access token" and "the current
            refresh token".
        clock: seconds since the epoch; timestamps, token expiry and the work policy use it, so tests can
            run on a controlled clock.
        seed: makes generated sys_ids reproducible.
        work_policy: tickets are worked and closed on their own (see `WorkPolicy`).
        invalid_query_returns_no_rows: behave as an instance with ``glide.invalid_query.returns_no_rows``:
            a query with an unknown field returns nothing instead of ignoring the condition.
        batch_item_limit: the Batch API services at most this many requests per call and lists the
            rest as ``unserviced_requests`` (as an instance does when it hits its time limit).
    """

    #: Users of a fake built without ``users=``.
    DEFAULT_USERS = DEFAULT_USERS
    #: OAuth clients of a fake built without ``oauth_clients=``.
    DEFAULT_OAUTH_CLIENTS = DEFAULT_OAUTH_CLIENTS
    #: The sys_id of the ``admin`` user.
    ADMIN_SYS_ID = ADMIN_SYS_ID

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        token_lifetime: float = 1800.0,
        refresh_token_lifetime: float = 100 * 86400.0,
        client_credentials: bool = True,
        client_credentials_user: str | None = None,
        refresh_returns_refresh_token: bool = True,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        work_policy: WorkPolicy | None = None,
        invalid_query_returns_no_rows: bool = False,
        batch_item_limit: int | None = None,
    ) -> None:
        self._initial_users = dict(DEFAULT_USERS if users is None else users)
        self._oauth_clients = dict(DEFAULT_OAUTH_CLIENTS if oauth_clients is None else oauth_clients)
        if token_lifetime <= 0 or refresh_token_lifetime <= 0:
            raise ValueError("token lifetimes must be positive")
        if client_credentials_user is not None and client_credentials_user not in self._initial_users:
            raise ValueError(f"client_credentials_user {client_credentials_user!r} is not one of users")
        self.token_lifetime = token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.client_credentials = client_credentials
        self.client_credentials_user = client_credentials_user
        self.refresh_returns_refresh_token = refresh_returns_refresh_token
        self.invalid_query_returns_no_rows = invalid_query_returns_no_rows
        self.batch_item_limit = batch_item_limit
        self._clock = clock
        self._seed = seed
        self._initial_policy = work_policy
        self._lock = threading.RLock()
        #: Fault rules; each request may be hit by one (see `Faults`).
        self.faults = Faults(seed)
        #: Every request received, with the status answered; ``Authorization`` and secrets masked.
        self.requests = RequestLog()
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._store = Store(self._clock, random.Random(self._seed))
        self._store.on_insert = self._schedule
        self._passwords: dict[str, str] = {}
        self._access_tokens: dict[str, _Token] = {}
        self._refresh_tokens: dict[str, _Token] = {}
        self._current_access: dict[tuple[str, str], str] = {}
        self._current_refresh: dict[tuple[str, str], str] = {}
        self._catalog = Catalog(self._store)
        self._acl_rules: list[_DenyRule] = []
        self._agenda: list[tuple[float, int, str, str, str]] = []
        self._agenda_seq = 0
        self._policy: WorkPolicy | None = None
        self._seed_choices()
        for user_name, password in self._initial_users.items():
            self._add_user(user_name, password, sys_id=ADMIN_SYS_ID if user_name == "admin" else None)
        self.work_policy = self._initial_policy

    def _seed_choices(self) -> None:
        for table in list(self._store.tables.values()):
            for spec in table.all_fields():
                for sequence, (value, label) in enumerate(spec.choices):
                    self._store.insert(
                        "sys_choice",
                        {
                            "name": table.name,
                            "element": spec.name,
                            "value": value,
                            "label": label,
                            "sequence": sequence,
                        },
                        SYSTEM,
                    )

    def __repr__(self) -> str:
        with self._lock:
            return f"FakeServiceNow(users={len(self._passwords)}, tables={len(self._store.tables)})"

    # -- configuration and seeding ---------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state right after construction: records, tokens, carts, faults and the log cleared."""
        with self._lock:
            self._fresh_state()
            self.faults.clear()
            self.requests.clear()

    def add_user(
        self,
        user_name: str,
        password: str | None = None,
        *,
        name: str | None = None,
        email: str | None = None,
        active: bool = True,
        sys_id: str | None = None,
        **fields: Any,
    ) -> str:
        """Add a ``sys_user``; with a ``password`` it can sign in. Returns its sys_id.

        Extra keywords set other ``sys_user`` fields (``title``, ``department`` ...).
        """
        with self._lock:
            if self._store.lookup("sys_user", "user_name", user_name):
                raise ValueError(f"user {user_name!r} already exists")
            return self._add_user(user_name, password, name=name, email=email, active=active, sys_id=sys_id, **fields)

    def _add_user(
        self,
        user_name: str,
        password: str | None,
        *,
        name: str | None = None,
        email: str | None = None,
        active: bool = True,
        sys_id: str | None = None,
        **fields: Any,
    ) -> str:
        full_name = name or ("System Administrator" if user_name == "admin" else _person_name(user_name))
        first, _, last = full_name.partition(" ")
        values: dict[str, Any] = {
            "user_name": user_name,
            "name": full_name,
            "first_name": first,
            "last_name": last,
            "email": email if email is not None else f"{user_name}@example.com",
            "active": active,
            **fields,
        }
        if sys_id:
            values["sys_id"] = sys_id
        _, record = self._store.insert("sys_user", values, SYSTEM)
        if password is not None:
            self._passwords[user_name] = password
        return record["sys_id"]

    def add_group(self, name: str, **fields: Any) -> str:
        """Add a ``sys_user_group`` (for ``assignment_group`` references); returns its sys_id."""
        with self._lock:
            _, record = self._store.insert("sys_user_group", {"name": name, **fields}, SYSTEM)
            return record["sys_id"]

    def add_table(
        self,
        name: str,
        fields: Iterable[str] = (),
        *,
        extends_task: bool = False,
        number_prefix: str | None = None,
        label: str | None = None,
        display_field: str | None = None,
    ) -> None:
        """Register a table so the Table API serves it.

        Args:
            name: the table name (``u_access_request``).
            fields: its columns besides the system fields (string columns).
            extends_task: make it a task table: task fields, state rules, the ``task`` view, numbering.
            number_prefix: numbers records ``<prefix>0010001``...; task tables default to ``TASK``.
            label: the display name of the table.
            display_field: the field shown as the display value of references to its records.
        """
        with self._lock:
            if self._store.has_table(name):
                raise ValueError(f"table {name!r} already exists")
            spec = custom_table(
                name,
                [FieldSpec(f) for f in fields],
                label=label,
                number_prefix=number_prefix,
                extends_task=extends_task,
                display_field=display_field,
            )
            self._store.add_table(spec)

    def add_catalog_item(
        self,
        name: str,
        variables: Sequence[str | Mapping[str, Any]] = (),
        sys_id: str | None = None,
        *,
        short_description: str | None = None,
        description: str = "",
        price: float = 0.0,
        active: bool = True,
    ) -> str:
        """Add a catalog item (``sc_cat_item``) with its variables; returns its sys_id.

        Each variable is a name (an optional single-line text) or a mapping with ``name`` and optionally
        ``label``, ``type`` (a ServiceNow friendly type such as ``single_line_text``, ``multi_line_text``,
        ``check_box``, ``select_box``, ``reference``, ``requested_for``), ``mandatory``, ``default``,
        ``read_only``, ``help_text``, ``order`` and ``sys_id``.
        """
        with self._lock:
            return self._store.add_catalog_item(
                name,
                variables,
                sys_id=sys_id,
                short_description=short_description,
                description=description,
                price=price,
                active=active,
            )

    def deny(
        self,
        table: str,
        operations: Iterable[Literal["read", "create", "write", "delete"]] = ("read", "create", "write", "delete"),
        *,
        user: str | None = None,
        records: Iterable[str] | None = None,
    ) -> None:
        """Simulate ACLs: ``user`` (default: everyone) may not perform ``operations`` on ``table``.

        With ``records`` (sys_ids) the rule covers those records only. Denied writes answer 403
        ``Operation Failed``. Denied reads hide records the way an instance does: ``sysparm_limit``
        applies before the ACLs, so a page comes back short (or empty) while ``X-Total-Count`` still
        counts every match; a hidden record by sys_id answers 404.
        """
        chosen = frozenset(records) if records is not None else None
        with self._lock:
            for operation in operations:
                if operation not in ("read", "create", "write", "delete"):
                    raise ValueError(f"unknown operation {operation!r}")
                self._acl_rules.append(_DenyRule(table, operation, user, chosen))

    def expire_tokens(self, *, refresh: bool = False) -> None:
        """Invalidate every access token (and, with ``refresh=True``, every refresh token)."""
        with self._lock:
            self._access_tokens.clear()
            self._current_access.clear()
            if refresh:
                self._refresh_tokens.clear()
                self._current_refresh.clear()

    @property
    def work_policy(self) -> WorkPolicy | None:
        """The `WorkPolicy` in force; set it to schedule every open ticket, ``None`` to stop."""
        return self._policy

    @work_policy.setter
    def work_policy(self, policy: WorkPolicy | None) -> None:
        with self._lock:
            self._policy = policy
            self._agenda = []
            if policy is not None:
                for sys_id, table in self._store.task_rows.items():
                    if self._store.rows[table][sys_id]["active"] == "true":
                        self._schedule(table, sys_id)

    def tick(self) -> int:
        """Run the work policy now (it also runs on every request); returns how many steps it took."""
        with self._lock:
            return self._run_agenda()

    # -- inspection ------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """The names of the tables the fake serves."""
        with self._lock:
            return sorted(self._store.tables)

    def records(self, table: str) -> list[dict[str, str]]:
        """Copies of every record of ``table`` as stored (strings; references are sys_ids).

        Requested items also carry their catalog variables as ``variables.<name>`` keys.
        """
        with self._lock:
            self._require_table(table)
            return [self._store.plain(concrete, record) for concrete, record in self._store.view_rows(table)]

    def get(self, table: str, ref: str) -> dict[str, str] | None:
        """A copy of one record of ``table`` by sys_id or ``number``; ``None`` if there is none."""
        with self._lock:
            self._require_table(table)
            found = self._store.find(table, ref)
            if found is None:
                hits = self._store.lookup(table, "number", ref)
                found = hits[0] if hits else None
            return None if found is None else self._store.plain(found[0], found[1])

    def journal(self, ref: str, element: str | None = None) -> list[dict[str, str]]:
        """The journal entries (``comments``, ``work_notes``) of a record, oldest first."""
        with self._lock:
            sys_id = self._store.locate_ticket(ref)[1]["sys_id"] if not self._any_record(ref) else ref
            return [
                dict(entry)
                for _, entry in self._store.lookup("sys_journal_field", "element_id", sys_id)
                if element is None or entry["element"] == element
            ]

    def variables(self, ref: str) -> dict[str, str]:
        """The catalog variables of a requested item (by sys_id or ``RITM`` number), by name."""
        with self._lock:
            table, record = self._store.locate_ticket(ref)
            if table != "sc_req_item":
                raise LookupError(f"{ref!r} is a {table} record, not a requested item")
            return {
                key.removeprefix("variables."): value
                for key, value in self._store.plain(table, record).items()
                if key.startswith("variables.")
            }

    def _any_record(self, sys_id: str) -> bool:
        return sys_id in self._store.seq

    def _require_table(self, table: str) -> None:
        if not self._store.has_table(table):
            raise LookupError(f"FakeServiceNow has no table {table!r}; add it with add_table()")

    # -- writes and lifecycle --------------------------------------------------------------------

    def insert(self, table: str, values: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, str]:
        """Insert a record as the system, with defaults, numbering and business rules; returns a copy."""
        with self._lock:
            self._require_table(table)
            concrete, record = self._store.insert(table, {**(values or {}), **fields}, SYSTEM)
            return self._store.plain(concrete, record)

    def update(self, table: str, ref: str, values: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, str]:
        """Update a record (by sys_id or number) as the system, with business rules and roll-ups."""
        with self._lock:
            self._require_table(table)
            found = self._store.find(table, ref) or next(iter(self._store.lookup(table, "number", ref)), None)
            if found is None:
                raise LookupError(f"no {table} record {ref!r}")
            result = self._store.update(table, found[1]["sys_id"], {**(values or {}), **fields}, SYSTEM)
            assert result is not None
            return self._store.plain(result[0], result[1])

    def delete(self, table: str, sys_id: str) -> bool:
        """Delete a record; ``False`` if there was none."""
        with self._lock:
            self._require_table(table)
            return self._store.delete(table, sys_id)

    def approve(self, ref: str) -> dict[str, str]:
        """Approve a ticket (sys_id or number).

        A request moves to ``in_process`` and its items to ``fulfillment``; approving an item approves its
        request too.
        """
        with self._lock:
            table, record = self._store.locate_ticket(ref)
            self._store.approve(table, record, SYSTEM)
            return self._store.plain(table, record)

    def reject(self, ref: str, *, close_notes: str | None = None) -> dict[str, str]:
        """Reject a ticket: approval ``rejected`` and closed (a request as ``closed_rejected``)."""
        return self.close(ref, "rejected", close_notes=close_notes)

    def start(self, ref: str) -> dict[str, str]:
        """Start work on a ticket: approve it if it waits for approval, then work in progress."""
        with self._lock:
            table, record = self._store.locate_ticket(ref)
            self._store.start(table, record, SYSTEM)
            return self._store.plain(table, record)

    def close(self, ref: str, outcome: Outcome = "complete", *, close_notes: str | None = None) -> dict[str, str]:
        """Close a ticket with an outcome, with roll-ups.

        Requested items: ``complete`` -> state 3 (stage ``complete``), ``incomplete`` -> 4,
        ``cancelled`` -> 4 with stage ``Request Cancelled``, ``rejected`` -> that plus approval
        ``rejected``, ``skipped`` -> 7. When the last item of a request closes, the request closes:
        ``closed_complete``, ``closed_incomplete``, ``closed_cancelled``, ``closed_rejected`` or
        ``closed_skipped`` with ``active`` false. Closing a request closes its open items. Incidents close
        as 7 (complete, skipped) or 8 (the others); changes as 3 or 4; other tasks as 3, 4 or 7.
        """
        with self._lock:
            table, record = self._store.locate_ticket(ref)
            if record["active"] != "true":
                raise ValueError(f"{ref!r} is already closed")
            self._store.close_ticket(table, record, outcome, SYSTEM, close_notes=close_notes)
            return self._store.plain(table, record)

    def advance(self, ref: str) -> dict[str, str]:
        """One step along the happy path; returns the record after the step.

        The steps: approval, work in progress, (for incidents: resolved,) closed complete; changes walk
        their state model (New, Assess, Authorize, Scheduled, Implement, Review, Closed).
        """
        with self._lock:
            table, record = self._store.locate_ticket(ref)
            if record["active"] != "true":
                raise ValueError(f"{ref!r} is already closed")
            if record["approval"] == "requested":
                self._store.approve(table, record, SYSTEM)
            elif table == "incident" and record["state"] in ("2", "3"):
                self._store.update(table, record["sys_id"], {"state": "6"}, SYSTEM)
            elif table == "change_request" and record["state"] not in ("0",):
                following = {"-5": "-4", "-4": "-3", "-3": "-2", "-2": "-1", "-1": "0"}
                self._store.update(table, record["sys_id"], {"state": following.get(record["state"], "0")}, SYSTEM)
            elif record["state"] in ("-5", "1") or (
                table == "sc_request" and record["request_state"] == "in_process" and self._items_waiting(record)
            ):
                self._store.start(table, record, SYSTEM)
            else:
                self._store.close_ticket(table, record, "complete", SYSTEM)
            return self._store.plain(table, record)

    def _items_waiting(self, request: Record) -> bool:
        return any(
            item["active"] == "true" and item["state"] in ("-5", "1")
            for _, item in self._store.lookup("sc_req_item", "request", request["sys_id"])
        )

    # -- work policy -----------------------------------------------------------------------------

    def _schedule(self, table: str, sys_id: str) -> None:
        policy = self._policy
        if policy is None or table not in policy.tables:
            return
        created = self._store.created_at[sys_id]
        if policy.start_after is not None:
            self._push(created + policy.start_after, "start", table, sys_id)
        self._push(created + policy.close_after, "close", table, sys_id)

    def _push(self, due: float, action: str, table: str, sys_id: str) -> None:
        self._agenda_seq += 1
        heapq.heappush(self._agenda, (due, self._agenda_seq, action, table, sys_id))

    def _run_agenda(self) -> int:
        policy = self._policy
        if policy is None:
            return 0
        now = self._clock()
        steps = 0
        while self._agenda and self._agenda[0][0] <= now:
            _, _, action, table, sys_id = heapq.heappop(self._agenda)
            found = self._store.find(table, sys_id)
            if found is None or found[1]["active"] != "true":
                continue
            record = found[1]
            worked_through_items = table == "sc_request" and "sc_req_item" in policy.tables
            if worked_through_items and self._store.lookup("sc_req_item", "request", sys_id):
                continue
            if action == "start":
                if record["state"] in ("-5", "1") or record["approval"] == "requested":
                    self._store.start(table, record, SYSTEM)
            else:
                outcome = policy.outcome_for(record.get("number") or sys_id)
                self._store.close_ticket(table, record, outcome, SYSTEM)
            steps += 1
        return steps

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = self._read(environ)
        fault = self.faults.pick(request.method, request.path)
        if fault is not None and fault.kind is FaultKind.LATENCY:
            time.sleep(fault.delay)
        if fault is not None and fault.kind is FaultKind.DROP and not fault.after:
            self._log(request, 0, fault)
            raise DropConnection(f"{request.method} {request.path}")
        response = self._fault_response(request, fault) if fault is not None else None
        with self._lock:
            try:
                self._run_agenda()
                if response is None:
                    response = self._dispatch(request)
            except Exception as exc:
                # A bug in the fake: answer the way an instance answers the unexpected, with the cause.
                response = error_response(500, "Internal server error", f"FakeServiceNow failed: {exc!r}")
        if fault is not None and fault.kind is FaultKind.DROP:
            self._log(request, 0, fault)
            raise DropConnection(f"{request.method} {request.path}")
        self._log(request, response.status, fault)
        if request.method == "HEAD":
            response.body = b""
        start_response(f"{response.status} {reason(response.status)}", response.headers)
        return [response.body]

    def _read(self, environ: Mapping[str, Any]) -> Request:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        override = headers.get("x-http-method-override")
        if override:
            method = override.upper()
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        host = headers.get("host") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        query = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        return Request(method, str(environ.get("PATH_INFO", "/")) or "/", query, headers, body, f"{scheme}://{host}")

    def _log(self, request: Request, status: int, fault: Fault | None) -> None:
        headers = {
            name: (value.split(" ", 1)[0] + " ***" if " " in value else "***") if name in _MASKED_HEADERS else value
            for name, value in request.headers.items()
        }
        body = request.body
        if request.path == "/oauth_token.do" and body:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            body = urlencode([(k, "***" if k in _SECRET_FORM_FIELDS else v) for k, v in pairs], safe="*").encode()
        query: dict[str, list[str]] = {}
        for key, value in request.query:
            query.setdefault(key, []).append("***" if key in _SECRET_FORM_FIELDS else value)
        self.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=query,
                headers=headers,
                body=body,
                status=status,
                at=self._clock(),
                fault=fault.kind.value if fault is not None else None,
            )
        )

    # -- faults ----------------------------------------------------------------------------------

    def _fault_response(self, request: Request, fault: Fault) -> Response | None:
        """The answer a fault gives instead of the real one; ``None`` when the request proceeds."""
        kind = fault.kind
        oauth = request.path in ("/oauth_token.do", "/oauth_revoke_token.do")
        if kind is FaultKind.ERROR:
            status = fault.status
            if oauth and status < 500:
                return json_response(status, {"error_description": "access_denied", "error": "server_error"})
            if status in (502, 503, 504):
                # Gateways and the maintenance page answer in HTML, not in the REST envelope.
                page = _GATEWAY_PAGE.format(status=status, reason=reason(status))
                return Response(status, page.encode(), [("Content-Type", "text/html;charset=UTF-8")])
            return error_response(status, reason(status), "Fault injected by FakeServiceNow")
        if kind is FaultKind.RATE_LIMIT:
            retry_after = max(0, math.ceil(fault.retry_after))
            api = "Table API" if "/table/" in request.path else "REST API"
            reset = int(self._clock()) + retry_after
            return error_response(
                429,
                "Rate limit exceeded",
                f"Rate limit of {RATE_LIMIT_PER_HOUR} requests per hour for {api} exceeded",
                [
                    ("Retry-After", str(retry_after)),
                    ("X-RateLimit-Limit", str(RATE_LIMIT_PER_HOUR)),
                    ("X-RateLimit-Reset", str(reset)),
                    ("X-RateLimit-Rule", RATE_LIMIT_RULE_SYS_ID),
                ],
            )
        if kind is FaultKind.SEMAPHORE:
            return error_response(429, "Too Many Requests", "The API_INT semaphore pool and its queue are full")
        if kind is FaultKind.HTML:
            return Response(200, _HIBERNATION_PAGE.encode(), [("Content-Type", "text/html;charset=UTF-8")])
        if kind is FaultKind.EXPIRE_TOKEN:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                with self._lock:
                    self._access_tokens.pop(token.strip(), None)
            return oauth_error() if oauth else unauthenticated()
        return None

    # -- routing ---------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        if request.path == "/oauth_token.do":
            return self._token_endpoint(request)
        if request.path == "/oauth_revoke_token.do":
            return self._revoke_endpoint(request)
        if not request.path.startswith("/api/"):
            return no_resource()
        request.caller = self._authenticate(request)
        if request.caller is None:
            return unauthenticated()
        return self._route(request)

    def _route(self, request: Request) -> Response:
        """An authenticated API request (also each request inside a batch)."""
        try:
            accept = request.headers.get("accept", "")
            if accept and not accepts_json(accept):
                return error_response(406, "Not Acceptable", f"This fake answers in JSON only, not {accept}")
            table_match = _TABLE_PATH.match(request.path)
            if table_match:
                version, table, sys_id = table_match.groups()
                return self._table(request, version, table, sys_id)
            if _BATCH_PATH.match(request.path):
                return self._batch(request)
            catalog_match = _CATALOG_PATH.match(request.path)
            if catalog_match:
                return self._catalog.handle(request, catalog_match.group(1))
            return no_resource()
        except BadRequest as exc:
            return exc.response
        except StoreError as exc:
            return error_response(exc.status, exc.message, exc.detail)

    def _allowed(self, caller: Caller, table: str, operation: str, sys_id: str | None = None) -> bool:
        return not any(rule.denies(caller, table, operation, sys_id) for rule in self._acl_rules)

    # -- authentication --------------------------------------------------------------------------

    def _user_can_sign_in(self, user_name: str) -> Caller | None:
        hits = self._store.lookup("sys_user", "user_name", user_name)
        if not hits:
            return None
        record = hits[0][1]
        if record["active"] != "true" or record["locked_out"] == "true":
            return None
        return Caller(user_name, record["sys_id"])

    def _check_password(self, user_name: str, password: str) -> Caller | None:
        expected = self._passwords.get(user_name)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        return self._user_can_sign_in(user_name)

    def _authenticate(self, request: Request) -> Caller | None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                user_name, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return self._check_password(user_name, password)
        if scheme.lower() == "bearer":
            token = self._access_tokens.get(credentials)
            if token is None or token.expires_at <= self._clock():
                return None
            return self._user_can_sign_in(token.user_name)
        return None

    def _token_endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            return oauth_error()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return oauth_error()
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and not client_secret:
            try:
                client_id, _, client_secret = base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return oauth_error()
        expected = self._oauth_clients.get(client_id)
        if expected is None or not hmac.compare_digest(expected.encode(), client_secret.encode()):
            return oauth_error()
        grant = form.get("grant_type", "")
        now = self._clock()
        if grant == "password":
            caller = self._check_password(form.get("username", ""), form.get("password", ""))
            if caller is None:
                return oauth_error()
            return self._issue(client_id, caller.user_name, now, reuse=True, with_refresh=True)
        if grant == "refresh_token":
            refresh = self._refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.client_id != client_id or refresh.expires_at <= now:
                return oauth_error()
            if self._user_can_sign_in(refresh.user_name) is None:
                return oauth_error()
            return self._issue(
                client_id, refresh.user_name, now, reuse=False, with_refresh=self.refresh_returns_refresh_token
            )
        if grant == "client_credentials":
            user_name = self.client_credentials_user or next(iter(self._initial_users), None)
            if not self.client_credentials or user_name is None or self._user_can_sign_in(user_name) is None:
                return oauth_error()
            return self._issue(client_id, user_name, now, reuse=False, with_refresh=False)
        return oauth_error()

    def _issue(self, client_id: str, user_name: str, now: float, *, reuse: bool, with_refresh: bool) -> Response:
        key = (client_id, user_name)
        access = self._current_access.get(key) if reuse else None
        token = self._access_tokens.get(access) if access else None
        if token is None or token.expires_at <= now:
            # "Access requests made within the expiration time of the access token always return
            # the current access token" (password grant); otherwise a new one.
            access = secrets.token_urlsafe(64)
            token = _Token(user_name, client_id, now + self.token_lifetime)
            self._access_tokens[access] = token
            self._current_access[key] = access
        assert access is not None
        payload: dict[str, Any] = {
            "access_token": access,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": max(1, int(token.expires_at - now)),
        }
        if with_refresh:
            refresh = self._current_refresh.get(key)
            current = self._refresh_tokens.get(refresh) if refresh else None
            if current is None or current.expires_at <= now:
                refresh = secrets.token_urlsafe(64)
                self._refresh_tokens[refresh] = _Token(user_name, client_id, now + self.refresh_token_lifetime)
                self._current_refresh[key] = refresh
            payload["refresh_token"] = refresh
        return json_response(200, payload, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def _revoke_endpoint(self, request: Request) -> Response:
        token = request.param("token")
        if token is None and request.body:
            token = dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("token")
        if token:
            self._access_tokens.pop(token, None)
            revoked = self._refresh_tokens.pop(token, None)
            if revoked is not None:
                self._current_refresh.pop((revoked.client_id, revoked.user_name), None)
        return Response(200, b"", [("Content-Type", JSON_CONTENT_TYPE)])

    # -- Table API -------------------------------------------------------------------------------

    def _table(self, request: Request, version: str | None, table: str, sys_id: str | None) -> Response:
        caller = request.caller
        assert caller is not None
        if not self._store.has_table(table):
            return error_response(400, f"Invalid table {table}")
        method = request.method
        if method in ("GET", "HEAD"):
            if sys_id is None:
                return self._list(request, version, table, caller)
            found = self._store.find(table, sys_id)
            if found is None or not self._allowed(caller, table, "read", sys_id):
                return not_found()
            return json_response(200, {"result": self._render(request, table, found[1])})
        if method == "POST" and sys_id is None:
            if not self._allowed(caller, table, "create"):
                return error_response(
                    403, "Operation Failed", "ACL Exception Insert Failed due to security constraints"
                )
            values = self._record_body(request)
            _, record = self._store.insert(
                table, values, caller, input_display=request.flag("sysparm_input_display_value")
            )
            location = f"{request.base_url}{request.path.rstrip('/')}/{record['sys_id']}"
            return self._write_response(request, 201, table, record, [("Location", location)])
        if method in ("PUT", "PATCH") and sys_id is not None:
            if self._store.find(table, sys_id) is None:
                return not_found()
            if not self._allowed(caller, table, "write", sys_id):
                return error_response(
                    403, "Operation Failed", "ACL Exception Update Failed due to security constraints"
                )
            values = self._record_body(request)
            updated = self._store.update(
                table, sys_id, values, caller, input_display=request.flag("sysparm_input_display_value")
            )
            assert updated is not None
            return self._write_response(request, 200, table, updated[1])
        if method == "DELETE" and sys_id is not None:
            if self._store.find(table, sys_id) is None:
                return not_found()
            if not self._allowed(caller, table, "delete", sys_id):
                return error_response(
                    403, "Operation Failed", "ACL Exception Delete Failed due to security constraints"
                )
            self._store.delete(table, sys_id)
            return Response(204)
        return error_response(405, "Method not Supported", f"{method} is not supported for {request.path}")

    def _record_body(self, request: Request) -> Mapping[str, Any]:
        body = read_json(request)
        if isinstance(body, list):
            # "If you pass multiple records, only the first record is processed."
            body = body[0] if body else {}
        if body is None:
            return {}
        if not isinstance(body, Mapping):
            raise BadRequest(
                error_response(400, "Exception while reading request", "The payload must be a JSON object.")
            )
        return body

    def _write_response(
        self, request: Request, status: int, table: str, record: Record, headers: Sequence[tuple[str, str]] = ()
    ) -> Response:
        if request.headers.get("x-no-response-body", "").lower() == "true":
            return Response(status, b"", [("Content-Type", JSON_CONTENT_TYPE), *headers])
        return json_response(status, {"result": self._render(request, table, record)}, headers)

    def _render(self, request: Request, view: str, record: Record) -> dict[str, Any]:
        compiled = self._store.compile_fields(view, fields_param(request))
        return self._store.render(
            record,
            compiled,
            display=display_param(request),
            exclude_links=request.flag("sysparm_exclude_reference_link"),
            base_url=request.base_url,
        )

    def _list(self, request: Request, version: str | None, view: str, caller: Caller) -> Response:
        query = parse_query(request.param("sysparm_query") or "")
        extra = [
            Condition(name, URL_FILTER, value)
            for name, value in request.query
            if not name.startswith("sysparm_")
            and self._store.compile_path(view, name, variables_by="sys_id") is not None
        ]
        limit = int_param(request, "sysparm_limit", 10000)
        offset = int_param(request, "sysparm_offset", 0)
        ids = self._store.select(
            view, query, extra, caller=caller, invalid_returns_no_rows=self.invalid_query_returns_no_rows
        )
        window = ids[offset : offset + limit]
        # "This limit is applied before ACL evaluation": hidden records leave the page short.
        page_ids = [sys_id for sys_id in window if self._allowed(caller, view, "read", sys_id)]
        if version == "v1" and not page_ids:
            return error_response(
                404, "No Record found", "Records matching query not found. Check query parameter or offset parameter"
            )
        compiled = self._store.compile_fields(view, fields_param(request))
        display = display_param(request)
        exclude_links = request.flag("sysparm_exclude_reference_link")
        result = []
        for sys_id in page_ids:
            found = self._store.find(view, sys_id)
            assert found is not None
            result.append(
                self._store.render(
                    found[1], compiled, display=display, exclude_links=exclude_links, base_url=request.base_url
                )
            )
        headers: list[tuple[str, str]] = []
        no_count = request.flag("sysparm_no_count")
        if not no_count:
            headers.append(("X-Total-Count", str(len(ids))))
        if not request.flag("sysparm_suppress_pagination_header"):
            link = link_header(
                request, offset, limit, len(ids), full_page=len(window) == limit, known_total=not no_count
            )
            if link:
                headers.append(("Link", link))
        return json_response(200, {"result": result}, headers)

    # -- Batch API -------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, "Method not Supported", f"{request.method} is not supported for {request.path}")
        body = read_json(request)
        items = body.get("rest_requests") if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            return error_response(400, "Invalid request", "rest_requests is required and must be an array")
        serviced: list[dict[str, Any]] = []
        unserviced: list[str] = []
        for position, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("id") or not item.get("method") or not item.get("url"):
                return error_response(400, "Invalid request", f"rest_requests[{position}] needs id, method and url")
            item_id = str(item["id"])
            if self.batch_item_limit is not None and position >= self.batch_item_limit:
                unserviced.append(item_id)
                continue
            started = time.perf_counter()
            try:
                inner = self._batch_request(request, item)
            except BadRequest as exc:
                response = exc.response
            else:
                if _BATCH_PATH.match(inner.path):
                    response = error_response(400, "Invalid request", "Batch requests cannot be nested")
                else:
                    response = self._route(inner)
            entry: dict[str, Any] = {
                "id": item_id,
                "body": base64.b64encode(response.body).decode("ascii"),
                "status_code": response.status,
                "status_text": reason(response.status),
                "headers": []
                if item.get("exclude_response_headers")
                else [{"name": name, "value": value} for name, value in response.headers],
                "execution_time": int((time.perf_counter() - started) * 1000),
            }
            if response.status >= 400:
                entry["error_message"] = reason(response.status)
            serviced.append(entry)
        batch_id = body.get("batch_request_id") if isinstance(body, Mapping) else None
        return json_response(
            200,
            {
                "batch_request_id": "" if batch_id is None else str(batch_id),
                "serviced_requests": serviced,
                "unserviced_requests": unserviced,
            },
        )

    def _batch_request(self, outer: Request, item: Mapping[str, Any]) -> Request:
        url = urlsplit(str(item["url"]))
        headers = {
            str(h.get("name", "")).lower(): str(h.get("value", ""))
            for h in item.get("headers") or []
            if isinstance(h, Mapping)
        }
        encoded = item.get("body")
        try:
            body = base64.b64decode(str(encoded), validate=True) if encoded else b""
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(error_response(400, "Invalid request", "body is not base64")) from exc
        query = parse_qsl(url.query, keep_blank_values=True)
        method = str(item["method"]).upper()
        return Request(method, unquote(url.path), query, headers, body, outer.base_url, outer.caller)


def _person_name(user_name: str) -> str:
    """``abel.tuter`` -> ``Abel Tuter``."""
    return " ".join(part.capitalize() for part in re.split(r"[._\-\s]+", user_name) if part) or user_name
