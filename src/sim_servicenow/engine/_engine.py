"""IntegrationEngine: plans in, tickets out, statuses tracked, the source told — crash-safe.

The state machine is described in the docs (Concepts) and in ``design/ENGINE.md``. Every move of a plan or of
one of its ticket groups is one store transaction made under the plan's lease, and the store is written *before*
each outward effect: ``CREATING`` before a ticket is created, ``REPORTING`` before the source is told.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import requests

from .._errors import (
    ApiError,
    ConfigError,
    DecodeError,
    SimServiceNowError,
    TemplateError,
    TransportError,
    ValidationProblem,
)
from ..http import RetryPolicy
from ..mapping import (
    ExpiryAction,
    IntegrationConfig,
    ProvisioningPlan,
    ProvisioningStatus,
    StatusCheck,
    TicketGroup,
    TicketingSystemKind,
    plan_ticket_groups,
    render_ticket_payload,
)
from ._auth import identitynow_auth, jira_auth, servicenow_auth
from ._ports import PlanReport, PlanSource, TicketingSystem, TicketRef, TicketStatus, TicketSummary
from ._queue import QueueSource
from ._store import (
    CheckedGroup,
    CheckedPlan,
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

__all__ = ["CycleError", "CycleReport", "EngineHooks", "IntegrationEngine"]

logger = logging.getLogger("sim_servicenow.engine")

Clock = Callable[[], datetime]

#: Statuses that make an ApiError on create permanent: the ticketing system refused this payload.
_PERMANENT_CREATE_STATUSES = frozenset({400, 404, 405, 413, 415, 422})
#: How long to wait before retrying a step that failed for a passing reason (no response, 5xx, 429, 401).
_TRANSIENT_BACKOFF = timedelta(seconds=30)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def default_worker_id() -> str:
    """``host-pid-random``: unique per running worker, readable in the audit trail."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@attrs.frozen
class CycleError:
    """Something that went wrong in a cycle without stopping it.

    Attributes:
        stage: ``poll``, ``plan``, ``create``, ``status``, ``report`` or ``store``.
        message: what went wrong (one line, no secrets).
        plan_key: the plan concerned, if any.
        correlation_key: the ticket group concerned, if any.
        permanent: whether the step will not be retried (the group or plan was marked failed).
    """

    stage: str
    message: str
    plan_key: str | None = None
    correlation_key: str | None = None
    permanent: bool = False


_COUNTERS = (
    "polled",
    "received",
    "skipped",
    "created",
    "found",
    "checked",
    "committed",
    "failed",
    "expired",
    "retried",
    "overdue",
    "reported",
)


@attrs.define
class CycleReport:
    """What one `IntegrationEngine.run_once` did, stage by stage.

    Attributes:
        started_at: when the cycle started (engine clock).
        finished_at: when it ended.
        polled: plans the sources returned.
        received: plans recorded for the first time.
        skipped: plans with nothing for a managed source (reported as skipped).
        created: tickets created.
        found: tickets found by correlation key after an interruption (not created again).
        checked: tickets whose status was read.
        committed: ticket groups that ended committed.
        failed: ticket groups that ended failed.
        expired: ticket groups that ended expired.
        retried: tickets raised again after a Retry status.
        overdue: tickets past the maximum days left open and reported overdue.
        reported: plans whose outcome was reported to their source.
        unknown_statuses: ``(correlation key, values)`` of tickets with a status the map does not know.
        errors: what went wrong without stopping the cycle.
    """

    started_at: datetime
    finished_at: datetime | None = None
    polled: int = 0
    received: int = 0
    skipped: int = 0
    created: int = 0
    found: int = 0
    checked: int = 0
    committed: int = 0
    failed: int = 0
    expired: int = 0
    retried: int = 0
    overdue: int = 0
    reported: int = 0
    unknown_statuses: list[tuple[str, tuple[str, ...]]] = attrs.field(factory=list)
    errors: list[CycleError] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False, eq=False)

    def add(self, counter: str, amount: int = 1) -> None:
        """Increase a counter (thread-safe)."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + amount)

    def error(self, error: CycleError) -> None:
        """Record an error (thread-safe)."""
        with self._lock:
            self.errors.append(error)

    def summary(self) -> str:
        """One line for logs: every non-zero counter."""
        parts = [f"{name}={getattr(self, name)}" for name in _COUNTERS if getattr(self, name)]
        if self.unknown_statuses:
            parts.append(f"unknown_statuses={len(self.unknown_statuses)}")
        if self.errors:
            parts.append(f"errors={len(self.errors)}")
        return " ".join(parts) or "nothing to do"


@attrs.frozen
class EngineHooks:
    """Callbacks the engine calls as things happen. A hook that raises is logged and otherwise ignored.

    Attributes:
        on_ticket_created: ``(plan_key, group, ticket)`` after a ticket was created (or found again).
        on_status_changed: ``(plan_key, group, old_status, new_status)`` when a ticket's provisioning status
            changes (``old_status`` is ``None`` on the first check).
        on_plan_finished: ``(plan_key, report)`` once a plan's outcome was reported to its source.
    """

    on_ticket_created: Callable[[str, TicketGroupRecord, TicketRef], None] | None = None
    on_status_changed: Callable[[str, TicketGroupRecord, str | None, TicketStatus], None] | None = None
    on_plan_finished: Callable[[str, PlanReport], None] | None = None


class _PlanLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every line with the plan key (and ticket number when known)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        prefix = f"[{extra.get('plan_key')}"
        if extra.get("ticket"):
            prefix += f" {extra['ticket']}"
        kwargs.setdefault("extra", {}).update(extra)
        return f"{prefix}] {msg}", kwargs


def _plan_log(plan_key: str, ticket: str | None = None) -> _PlanLog:
    return _PlanLog(logger, {"plan_key": plan_key, "ticket": ticket})


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, TemplateError):
        return True
    return isinstance(exc, ApiError) and exc.status in _PERMANENT_CREATE_STATUSES


_OUTCOME_OF_GROUP = {
    GroupState.COMMITTED: PlanOutcome.COMMITTED,
    GroupState.FAILED: PlanOutcome.FAILED,
    GroupState.EXPIRED: PlanOutcome.EXPIRED,
}
# Worst first: a plan is as bad as its worst ticket group.
_OUTCOME_SEVERITY = (PlanOutcome.FAILED, PlanOutcome.EXPIRED, PlanOutcome.COMMITTED)


def plan_outcome(groups: Iterable[TicketGroupRecord]) -> PlanOutcome:
    """The worst outcome of final ``groups``: failed, then expired, then committed; skipped if there are none."""
    outcomes = {_OUTCOME_OF_GROUP[g.state] for g in groups}
    return next((o for o in _OUTCOME_SEVERITY if o in outcomes), PlanOutcome.SKIPPED)


class _UnreadablePlan(Exception):
    """A stored plan that cannot be read back: no retry can fix it, so the plan is failed with the reason."""


def _stored_plan(record: PlanRecord) -> ProvisioningPlan:
    try:
        return ProvisioningPlan.from_json(record.plan)
    except DecodeError as exc:
        raise _UnreadablePlan(f"the stored plan cannot be read: {exc}") from exc


def _plan_to_report(record: PlanRecord) -> ProvisioningPlan:
    """The stored plan, or only its key when it cannot be read (that failure is what gets reported)."""
    try:
        return ProvisioningPlan.from_json(record.plan)
    except DecodeError:
        return ProvisioningPlan(record.plan_key)


def _needs_ticketing(record: PlanRecord) -> bool:
    """Whether the plan must be split into groups, or has a group without a ticket yet."""
    return record.state is PlanState.RECEIVED or (
        record.state is PlanState.ACTIVE
        and any(g.state in (GroupState.RECEIVED, GroupState.CREATING) for g in record.groups)
    )


def _needs_finishing(record: PlanRecord) -> bool:
    """Whether the plan is to be reported: being reported, or every group of it final."""
    return record.state is PlanState.REPORTING or (
        record.state is PlanState.ACTIVE and bool(record.groups) and all(g.state.is_final for g in record.groups)
    )


class IntegrationEngine:
    """Turns provisioning plans into tickets, tracks the tickets, and reports each plan's outcome.

    Args:
        config: the integration's configuration (status-check interval, maximum days, expiry action,
            retry limit, grouping, templates, managed sources).
        ticketing: where tickets are raised (e.g. `ServiceNowTicketing`).
        source: where plans come from (e.g. `WorkItemSource`); one or several.
            Plans given to `submit` come from a built-in `QueueSource` as well.
        store: where the engine keeps its state (`SqliteStore`, `PostgresStore`, ...).
        concurrency: how many plans are worked on at once (ticket creation and reporting run in threads).
        clock: returns the current time (timezone-aware); inject one to run on an accelerated clock.
        hooks: callbacks for created tickets, status changes and finished plans.
        worker_id: this worker's name in leases and the audit trail (unique per running worker).
        batch_size: how many due plans are leased at a time.
        lease_for: how long a lease lasts; renewed while a batch is being worked on.
    """

    def __init__(
        self,
        config: IntegrationConfig,
        ticketing: TicketingSystem,
        source: PlanSource | Sequence[PlanSource],
        store: StateStore,
        *,
        concurrency: int = 4,
        clock: Clock = utc_now,
        hooks: EngineHooks | None = None,
        worker_id: str | None = None,
        batch_size: int = 500,
        lease_for: timedelta = timedelta(minutes=1),
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.config = config
        self.ticketing = ticketing
        self.store = store
        self.concurrency = concurrency
        self.clock = clock
        self.hooks = hooks or EngineHooks()
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.lease_for = lease_for
        self.queue = QueueSource()
        sources = [source] if isinstance(source, PlanSource) else list(source)
        self._sources: dict[str, PlanSource] = {}
        for each in [*sources, self.queue]:
            if each.name in self._sources:
                raise ValueError(f"two plan sources are named {each.name!r}; names must be unique")
            self._sources[each.name] = each
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"IntegrationEngine(worker_id={self.worker_id!r}, sources={sorted(self._sources)!r})"

    @classmethod
    def from_config(
        cls,
        config: IntegrationConfig,
        *,
        store: StateStore | None = None,
        servicenow_session: requests.Session | None = None,
        identitynow_session: requests.Session | None = None,
        jira_session: requests.Session | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        retry: RetryPolicy | None = None,
        status_check_from_identitynow: bool = False,
        extra_sources: Sequence[PlanSource] = (),
        **options: Any,
    ) -> IntegrationEngine:
        """The engine an `IntegrationConfig` describes, with its clients and store.

        Tickets are raised in the system ``config.ticketing`` selects: ServiceNow
        (`ServiceNowTicketing`) or Jira Service Management
        (`JiraServiceManagementTicketing`); plans come from IdentityNow's manual
        work items (`WorkItemSource`).

        ```python
        config = IntegrationConfig.from_toml_file("integration.toml")
        engine = IntegrationEngine.from_config(config)
        engine.run_forever()
        ```

        Args:
            config: the configuration; it must be complete (`IntegrationConfig.ensure_ready`) and name
                IdentityNow.
            store: the state store; opened from ``config.store_url`` when not given.
            servicenow_session: a session for ServiceNow requests (e.g. with a mounted test adapter).
            identitynow_session: a session for IdentityNow requests.
            jira_session: a session for Jira requests.
            verify: TLS verification for every service: ``True`` or the path of a CA bundle.
            cert: a client certificate for mutual TLS with ServiceNow and IdentityNow (their token endpoints
                included): the path of a PEM file holding certificate and key, or ``(certificate, key)`` paths.
            retry: the retry policy of every client.
            status_check_from_identitynow: use the tenant's status-check configuration (interval and maximum
                days, as SailPoint's SIM does) instead of ``config.status_check``; it is read once, now.
            extra_sources: plan sources besides IdentityNow's work items (your own, e.g. an event queue).
            **options: passed to the constructor (``concurrency``, ``clock``, ``hooks``, ``worker_id``, ...).

        Raises:
            ConfigError: the configuration is incomplete (every missing piece is listed).
        """
        from ..adapters import JiraServiceManagementTicketing, ServiceNowTicketing, WorkItemSource
        from ..identitynow import IdentityNowClient
        from ..servicenow import ServiceNowClient
        from ._store import open_store

        config.ensure_ready()
        if config.identitynow is None:
            raise ConfigError(
                "configuration is not complete enough to run",
                [ValidationProblem("identitynow.url", "required to run (work items are read from it)")],
            )
        ticketing: TicketingSystem
        if config.ticketing is TicketingSystemKind.JIRA:
            assert config.jira is not None  # ensure_ready() reports it missing
            ticketing = JiraServiceManagementTicketing.from_config(
                config, jira_auth(config.jira), session=jira_session, verify=verify, retry=retry
            )
        else:
            assert config.servicenow is not None  # ensure_ready() reports it missing
            servicenow = ServiceNowClient(
                config.servicenow.url,
                servicenow_auth(config.servicenow, session=servicenow_session, verify=verify, cert=cert),
                session=servicenow_session,
                verify=verify,
                cert=cert,
                retry=retry,
            )
            ticketing = ServiceNowTicketing.from_config(servicenow, config, clock=options.get("clock", utc_now))
        identitynow = IdentityNowClient(
            config.identitynow.url,
            identitynow_auth(config.identitynow, session=identitynow_session, verify=verify, cert=cert),
            session=identitynow_session,
            verify=verify,
            cert=cert,
            retry=retry,
        )
        if status_check_from_identitynow:
            tenant = identitynow.service_desk_integrations.status_check_configuration()
            status_check = StatusCheck.from_identitynow(
                {
                    "provisioningStatusCheckIntervalMinutes": tenant.provisioning_status_check_interval_minutes,
                    "provisioningMaxStatusCheckDays": tenant.provisioning_max_status_check_days,
                }
            )
            config = attrs.evolve(config, status_check=status_check)
            logger.info(
                "status checks every %s for at most %d day(s), from IdentityNow's status-check configuration",
                config.status_check.interval,
                config.status_check.max_days,
            )
        return cls(
            config,
            ticketing,
            [WorkItemSource.from_config(identitynow, config), *extra_sources],
            store if store is not None else open_store(config.store_url),
            **options,
        )

    # ------------------------------------------------------------------------------------------ public API

    def submit(self, plan: ProvisioningPlan) -> bool:
        """Record ``plan`` now (durably); it is worked on in the next cycle. ``False`` if its key is known.

        Thread-safe: call it from a webhook handler while `run_forever` runs elsewhere. The outcome is
        reported through `queue` (see `QueueSource`) and the ``on_plan_finished`` hook.
        """
        return self.store.add(plan.key, plan.to_json(), source=self.queue.name, now=self.clock())

    def run_once(self) -> CycleReport:
        """One cycle: take new plans, create tickets, check due tickets, report finished plans."""
        report = CycleReport(started_at=self.clock())
        self._intake(report)
        seen: set[str] = set()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sim-servicenow") as pool:
            while not self._stop.is_set():
                now = self.clock()
                try:
                    batch = self.store.lease_due(
                        self.worker_id, now=now, limit=self.batch_size, lease_for=self.lease_for
                    )
                except StoreError as exc:
                    report.error(CycleError("store", str(exc)))
                    break
                fresh = [record for record in batch if record.plan_key not in seen]
                if not fresh:
                    self._release(batch)
                    break
                seen.update(record.plan_key for record in fresh)
                try:
                    with self._renewing(batch):
                        self._work(fresh, pool, report)
                finally:
                    self._release(batch)
                if len(batch) < self.batch_size:
                    break
        report.finished_at = self.clock()
        logger.info("cycle done: %s", report.summary())
        return report

    def run_forever(self, stop_event: threading.Event | None = None, interval: float = 30.0) -> None:
        """Run cycles until ``stop_event`` is set, waiting ``interval`` seconds between cycles.

        When the event is set, the steps already under way finish (a ticket being created is recorded), the
        cycle releases its leases, and whatever it had not started stays in the store for the next start.
        Errors of one cycle are logged and the next cycle runs.
        """
        stop = stop_event or threading.Event()
        self._stop = stop
        while not stop.is_set():
            try:
                self.run_once()
            except SimServiceNowError:
                logger.exception("cycle failed; trying again in %.0f s", interval)
            stop.wait(interval)

    def stop(self) -> None:
        """Ask `run_forever` (or a running `run_once`) to stop once the steps under way have finished."""
        self._stop.set()

    # ------------------------------------------------------------------------------------------ intake

    def _intake(self, report: CycleReport) -> None:
        for source in self._sources.values():
            try:
                plans = list(source.poll())
            except SimServiceNowError as exc:
                report.error(CycleError("poll", f"{source.name}: {exc}"))
                continue
            report.add("polled", len(plans))
            # Sources return every pending plan each cycle, most of them known already: record them in batches.
            try:
                added = self.store.add_many(
                    [NewPlan(plan.key, plan.to_json(), source=source.name) for plan in plans], now=self.clock()
                )
            except StoreError as exc:
                report.error(CycleError("store", f"{source.name}: {exc}"))
                continue
            for plan, new in zip(plans, added, strict=True):
                if new:
                    report.add("received")
                    _plan_log(plan.key).info("received from %s", source.name)

    def _release(self, batch: Sequence[PlanRecord]) -> None:
        try:
            self.store.release(self.worker_id, [record.plan_key for record in batch])
        except StoreError as exc:  # the leases expire on their own
            logger.warning("could not release leases: %s", exc)

    @contextlib.contextmanager
    def _renewing(self, batch: Sequence[PlanRecord]) -> Iterator[None]:
        """Renew the batch's leases every third of ``lease_for`` while it is worked on.

        A batch can take longer than ``lease_for`` (a slow ServiceNow, a long batch): without renewal another
        worker would take over plans this one is still working on, and create their tickets a second time.
        """
        keys = [record.plan_key for record in batch]
        finished = threading.Event()

        def renew() -> None:
            while not finished.wait(self.lease_for.total_seconds() / 3):
                try:
                    self.store.renew(self.worker_id, keys, now=self.clock(), lease_for=self.lease_for)
                except StoreError as exc:
                    logger.warning("could not renew leases: %s", exc)

        heartbeat = threading.Thread(target=renew, name="sim-servicenow-lease", daemon=True)
        heartbeat.start()
        try:
            yield
        finally:
            finished.set()
            heartbeat.join()

    # ------------------------------------------------------------------------------------------ one batch

    def _work(self, batch: list[PlanRecord], pool: ThreadPoolExecutor, report: CycleReport) -> None:
        # 1. Plans and groups that need ticketing work (split, create, reconcile), in parallel. Most plans of a
        # polling cycle need none: they skip the thread pool.
        waiting = [r for r in batch if not _needs_ticketing(r)]
        advanced = pool.map(lambda record: self._guard(record, report, self._advance), filter(_needs_ticketing, batch))
        records = waiting + [r for r in advanced if r is not None]
        # 2. Status checks of all due tickets of the batch, in as few requests as possible.
        records = self._check_statuses(records, report)
        # 3. Plans whose groups are all final: report them, in parallel.
        list(pool.map(lambda record: self._guard(record, report, self._finish), filter(_needs_finishing, records)))

    def _guard(
        self, record: PlanRecord, report: CycleReport, step: Callable[[PlanRecord, CycleReport], PlanRecord]
    ) -> PlanRecord | None:
        """Run ``step`` on one plan; a plan that fails in an unexpected way must not stop the others."""
        if self._stop.is_set():
            return None  # stopping: a plan not yet started stays as stored, for the next start
        try:
            return step(record, report)
        except (LeaseLostError, StaleRecordError) as exc:
            _plan_log(record.plan_key).warning("left to another worker: %s", exc)
            return None
        except _UnreadablePlan as exc:
            _plan_log(record.plan_key).error("%s; failing the plan", exc)
            report.error(CycleError("plan", str(exc), plan_key=record.plan_key, permanent=True))
            return self._fail_plan(record, str(exc))
        except SimServiceNowError as exc:
            report.error(CycleError("plan", str(exc), plan_key=record.plan_key))
            _plan_log(record.plan_key).warning("step failed, will retry: %s", exc)
            return None
        except Exception as exc:
            # A poisoned plan (data no code path expected) is failed with the reason; the rest flow on.
            logger.exception("[%s] unexpected error; failing the plan", record.plan_key)
            report.error(CycleError("plan", f"{type(exc).__name__}: {exc}", plan_key=record.plan_key, permanent=True))
            return self._fail_plan(record, f"internal error: {type(exc).__name__}: {exc}")

    def _fail_plan(self, record: PlanRecord, reason: str) -> PlanRecord | None:
        current = self.store.get(record.plan_key)
        if current is None or current.lease_owner != self.worker_id or current.state is PlanState.DONE:
            return None
        groups = [
            g if g.state.is_final else attrs.evolve(g, state=GroupState.FAILED, detail=reason) for g in current.groups
        ]
        try:
            return self.store.update(
                self.worker_id,
                attrs.evolve(
                    current,
                    groups=tuple(groups),
                    state=PlanState.REPORTING,
                    outcome=PlanOutcome.FAILED,
                    detail=reason,
                    due_at=self.clock(),
                ),
                now=self.clock(),
                detail=reason,
            )
        except SimServiceNowError:
            logger.exception("[%s] could not mark the plan failed", record.plan_key)
            return None

    def _update(self, record: PlanRecord, detail: str = "") -> PlanRecord:
        return self.store.update(self.worker_id, record, now=self.clock(), detail=detail)

    # ------------------------------------------------------------------------------------------ advance

    def _advance(self, record: PlanRecord, report: CycleReport) -> PlanRecord:
        if record.state is PlanState.RECEIVED:
            record = self._split(record, report)
        # Only groups without a ticket need the plan; a status-check cycle must not re-read every tracked plan.
        if record.state is PlanState.ACTIVE and any(
            g.state in (GroupState.RECEIVED, GroupState.CREATING) for g in record.groups
        ):
            plan = _stored_plan(record)
            groups_by_id = {g.group_id: g for g in plan_ticket_groups(plan, self.config)}
            for group in record.groups:
                if group.state in (GroupState.RECEIVED, GroupState.CREATING):
                    record = self._ticket(record, group, plan, groups_by_id, report)
        return record

    def _split(self, record: PlanRecord, report: CycleReport) -> PlanRecord:
        now = self.clock()
        plan = _stored_plan(record)
        groups = plan_ticket_groups(plan, self.config)
        if not groups:
            report.add("skipped")
            return self._update(
                attrs.evolve(record, state=PlanState.REPORTING, outcome=PlanOutcome.SKIPPED, due_at=now),
                "no account request for a managed source",
            )
        expires_at = now + self.config.status_check.max_age
        records = [
            TicketGroupRecord(
                group_id=g.group_id,
                correlation_key=str(g.correlation_key(1)),
                state=GroupState.RECEIVED,
                created_at=now,
                expires_at=expires_at,
            )
            for g in groups
        ]
        return self._update(
            attrs.evolve(record, state=PlanState.ACTIVE, groups=tuple(records), due_at=now),
            f"{len(records)} ticket group(s)",
        )

    def _ticket(
        self,
        record: PlanRecord,
        group: TicketGroupRecord,
        plan: ProvisioningPlan,
        groups_by_id: Mapping[str, TicketGroup],
        report: CycleReport,
    ) -> PlanRecord:
        log = _plan_log(record.plan_key)
        try:
            if group.state is GroupState.CREATING:
                # Interrupted after CREATING was written: the ticket may exist. Never create blindly.
                ref = self.ticketing.find(group.correlation_key)
                if ref is not None:
                    report.add("found")
                    log.info("found %s for %s after an interruption", ref.number, group.correlation_key)
                    return self._ticketed(record, group, ref, report, "found by correlation key")
            else:
                group = attrs.evolve(group, state=GroupState.CREATING)
                record = self._update(record.with_group(group), "creating ticket")
            spec = groups_by_id.get(group.group_id)
            if spec is None:
                raise ValueError(f"the plan no longer yields ticket group {group.group_id!r}")
            payload = render_ticket_payload(plan, spec, self.config, attempt=group.attempt)
            ref = self.ticketing.create(payload, group.correlation_key)
        except (TransportError, ApiError, TemplateError) as exc:
            return self._creation_failed(record, record.group(group.group_id), exc, report)
        report.add("created")
        log.info("created %s for %s", ref.number, group.correlation_key)
        return self._ticketed(record, record.group(group.group_id), ref, report, "ticket created")

    def _ticketed(
        self, record: PlanRecord, group: TicketGroupRecord, ref: TicketRef, report: CycleReport, detail: str
    ) -> PlanRecord:
        now = self.clock()
        updated = attrs.evolve(
            group,
            state=GroupState.TICKETED,
            ticket=ref.to_json(),
            ticket_number=ref.number,
            next_check_at=now + self.config.status_check.interval,
            detail=detail,
        )
        record = self._update(self._with_due(record.with_group(updated), now), f"{detail}: {ref.number}")
        self._call_hook(self.hooks.on_ticket_created, record.plan_key, updated, ref)
        return record

    def _creation_failed(
        self, record: PlanRecord, group: TicketGroupRecord, exc: BaseException, report: CycleReport
    ) -> PlanRecord:
        now = self.clock()
        message = str(exc)
        if _is_permanent(exc):
            report.error(CycleError("create", message, record.plan_key, group.correlation_key, permanent=True))
            failed = attrs.evolve(group, state=GroupState.FAILED, detail=f"ticket not created: {message}")
            report.add("failed")
            return self._update(self._with_due(record.with_group(failed), now), f"ticket not created: {message}")
        report.error(CycleError("create", message, record.plan_key, group.correlation_key))
        # CREATING stays: next time the correlation key is looked up before creating again.
        waiting = attrs.evolve(group, detail=f"will retry: {message}", next_check_at=now + _TRANSIENT_BACKOFF)
        return self._update(self._with_due(record.with_group(waiting), now), f"create failed, will retry: {message}")

    # ------------------------------------------------------------------------------------------ status checks

    def _check_statuses(self, records: list[PlanRecord], report: CycleReport) -> list[PlanRecord]:
        now = self.clock()
        due: list[tuple[PlanRecord, TicketGroupRecord, TicketRef]] = []
        for record in records:
            for group in record.groups:
                if (
                    group.state is GroupState.TICKETED
                    and group.ticket
                    and (group.next_check_at is None or group.next_check_at <= now)
                ):
                    due.append((record, group, TicketRef.from_json(group.ticket)))
        if not due:
            return records
        try:
            statuses = self.ticketing.statuses([ref for _, _, ref in due])
        except (TransportError, ApiError) as exc:
            report.error(CycleError("status", str(exc)))
            logger.warning("status check of %d ticket(s) failed, will retry: %s", len(due), exc)
            return [self._postpone(record, now) for record in records]
        report.add("checked", len(due))
        by_plan: dict[str, PlanRecord] = {record.plan_key: record for record in records}
        due = self._record_quiet_checks(due, statuses, by_plan, now, report)
        for record, group, ref in due:
            current = by_plan.get(record.plan_key)
            if current is None or current.state is not PlanState.ACTIVE:
                continue  # dropped, or failed, while another of its tickets was applied
            step = functools.partial(
                self._apply_group_status, group_id=group.group_id, ref=ref, status=statuses.get(ref.id)
            )
            applied = self._guard(current, report, step)
            if applied is None:
                by_plan.pop(record.plan_key)
            else:
                by_plan[record.plan_key] = applied
        return list(by_plan.values())

    def _record_quiet_checks(
        self,
        due: list[tuple[PlanRecord, TicketGroupRecord, TicketRef]],
        statuses: Mapping[str, TicketStatus],
        by_plan: dict[str, PlanRecord],
        now: datetime,
        report: CycleReport,
    ) -> list[tuple[PlanRecord, TicketGroupRecord, TicketRef]]:
        """Write every plan whose checked tickets are all still queued in one store transaction.

        Most checks find a ticket still open: nothing changes state, only what was read and when to look again.
        Those plans skip the one-transaction-per-move path (and its audit rows, which record state changes);
        the rest are returned for it. Quiet plans are done for this cycle and leave ``by_plan``.
        """
        groups_of: dict[str, list[tuple[TicketGroupRecord, TicketRef]]] = {}
        for record, group, ref in due:
            groups_of.setdefault(record.plan_key, []).append((group, ref))
        quiet: list[CheckedPlan] = []
        for plan_key, checks in groups_of.items():
            found = [(group, ref, statuses.get(ref.id)) for group, ref in checks]
            if not all(
                status is not None
                and status.status is ProvisioningStatus.QUEUED
                and (group.expires_at is None or now < group.expires_at)
                for group, _, status in found
            ):
                continue
            next_check = now + self.config.status_check.interval
            checked: list[CheckedGroup] = []
            for group, ref, status in found:
                assert status is not None
                if status.unknown_values:
                    report.unknown_statuses.append((group.correlation_key, status.unknown_values))
                    _plan_log(plan_key, ref.number).warning(
                        "status value(s) the status map does not know: %s", ", ".join(status.unknown_values)
                    )
                entry = CheckedGroup(
                    group_id=group.group_id,
                    last_status=status.status.value,
                    status_values=dict(status.values),
                    unknown_status=bool(status.unknown_values),
                    next_check_at=next_check,
                    detail=status.detail,
                )
                checked.append(entry)
                if group.last_status != status.status.value:
                    changed = attrs.evolve(
                        group,
                        last_status=entry.last_status,
                        status_values=entry.status_values,
                        unknown_status=entry.unknown_status,
                        detail=entry.detail,
                    )
                    self._call_hook(self.hooks.on_status_changed, plan_key, changed, group.last_status, status)
            record = by_plan[plan_key]
            later = [
                g.next_check_at or now
                for g in record.groups
                if not g.state.is_final and g.group_id not in {c.group_id for c in checked}
            ]
            quiet.append(CheckedPlan(plan_key, min([next_check, *later]), tuple(checked)))
        if not quiet:
            return due
        try:
            written = self.store.record_checks(self.worker_id, quiet, now=now)
        except StoreError as exc:
            report.error(CycleError("store", str(exc)))
            written = frozenset()
        for checked_plan in quiet:
            by_plan.pop(checked_plan.plan_key, None)
            if checked_plan.plan_key not in written:
                _plan_log(checked_plan.plan_key).warning("left to another worker: its lease was taken over")
        done = {checked_plan.plan_key for checked_plan in quiet}
        return [item for item in due if item[0].plan_key not in done]

    def _apply_group_status(
        self, record: PlanRecord, report: CycleReport, *, group_id: str, ref: TicketRef, status: TicketStatus | None
    ) -> PlanRecord:
        return self._apply_status(record, record.group(group_id), ref, status, report)

    def _postpone(self, record: PlanRecord, now: datetime) -> PlanRecord:
        later = now + _TRANSIENT_BACKOFF
        groups = tuple(
            attrs.evolve(g, next_check_at=later)
            if g.state is GroupState.TICKETED and (g.next_check_at is None or g.next_check_at <= now)
            else g
            for g in record.groups
        )
        try:
            return self._update(self._with_due(attrs.evolve(record, groups=groups), now))
        except SimServiceNowError:
            return record

    def _apply_status(
        self,
        record: PlanRecord,
        group: TicketGroupRecord,
        ref: TicketRef,
        status: TicketStatus | None,
        report: CycleReport,
    ) -> PlanRecord:
        now = self.clock()
        log = _plan_log(record.plan_key, ref.number)
        if status is None:
            report.add("failed")
            log.warning("ticket no longer exists")
            failed = attrs.evolve(group, state=GroupState.FAILED, detail=f"{ref.number} no longer exists")
            return self._update(self._with_due(record.with_group(failed), now), failed.detail)
        old = group.last_status
        new = status.status
        if status.unknown_values:
            report.unknown_statuses.append((group.correlation_key, status.unknown_values))
            log.warning("status value(s) the status map does not know: %s", ", ".join(status.unknown_values))
        checked = attrs.evolve(
            group,
            last_status=new.value,
            status_values=dict(status.values),
            unknown_status=bool(status.unknown_values),
            detail=status.detail,
        )
        if old != new.value:
            self._call_hook(self.hooks.on_status_changed, record.plan_key, checked, old, status)
        if new is ProvisioningStatus.COMMITTED:
            report.add("committed")
            checked = attrs.evolve(checked, state=GroupState.COMMITTED, next_check_at=None)
        elif new is ProvisioningStatus.FAILED:
            report.add("failed")
            checked = attrs.evolve(checked, state=GroupState.FAILED, next_check_at=None)
        elif new is ProvisioningStatus.RETRY:
            return self._retry(record, checked, ref, report)
        elif group.expires_at is not None and now >= group.expires_at:
            checked = self._expire(record, checked, ref, report)
        else:
            checked = attrs.evolve(checked, next_check_at=now + self.config.status_check.interval)
        if checked.state is not GroupState.TICKETED:
            log.info("ticket %s: %s", checked.state.value, status.detail or new.value)
        return self._update(
            self._with_due(record.with_group(checked), now), f"status {new.value} {status.detail}".strip()
        )

    def _retry(self, record: PlanRecord, group: TicketGroupRecord, ref: TicketRef, report: CycleReport) -> PlanRecord:
        now = self.clock()
        if group.attempt >= self.config.retry_limit:
            report.add("failed")
            failed = attrs.evolve(
                group,
                state=GroupState.FAILED,
                next_check_at=None,
                detail=f"{ref.number} asked for a retry after {group.attempt} attempt(s); giving up",
            )
            return self._update(self._with_due(record.with_group(failed), now), failed.detail)
        report.add("retried")
        attempt = group.attempt + 1
        plan = _stored_plan(record)
        spec = next((g for g in plan_ticket_groups(plan, self.config) if g.group_id == group.group_id), None)
        if spec is None:
            raise ValueError(f"the plan no longer yields ticket group {group.group_id!r}")
        again = attrs.evolve(
            group,
            state=GroupState.CREATING,
            attempt=attempt,
            correlation_key=str(spec.correlation_key(attempt)),
            ticket=None,
            ticket_number=None,
            next_check_at=None,
            detail=f"{ref.number} asked for a retry; raising attempt {attempt}",
        )
        record = self._update(record.with_group(again), again.detail)
        try:
            payload = render_ticket_payload(plan, spec, self.config, attempt=attempt)
            new_ref = self.ticketing.create(payload, again.correlation_key)
        except (TransportError, ApiError, TemplateError) as exc:
            return self._creation_failed(record, record.group(group.group_id), exc, report)
        report.add("created")
        return self._ticketed(record, record.group(group.group_id), new_ref, report, "retry ticket created")

    def _expire(
        self, record: PlanRecord, group: TicketGroupRecord, ref: TicketRef, report: CycleReport
    ) -> TicketGroupRecord:
        log = _plan_log(record.plan_key, ref.number)
        if self.config.expiry_action is ExpiryAction.FAIL:
            report.add("expired")
            log.warning("open past the maximum tracking time; expired")
            return attrs.evolve(
                group,
                state=GroupState.EXPIRED,
                next_check_at=None,
                detail=f"{ref.number} still open past the maximum tracking time",
            )
        report.add("overdue")
        log.warning("open past the maximum tracking time; left open and reported overdue")
        try:
            self.ticketing.comment(ref, "sim-servicenow: this ticket is past the integration's maximum tracking time.")
        except (TransportError, ApiError) as exc:
            log.warning("could not comment on the overdue ticket: %s", exc)
        return attrs.evolve(
            group,
            expires_at=None,
            next_check_at=self.clock() + self.config.status_check.interval,
            detail=f"{ref.number} overdue; still tracked",
        )

    # ------------------------------------------------------------------------------------------ finish

    def _finish(self, record: PlanRecord, report: CycleReport) -> PlanRecord:
        if record.state is PlanState.ACTIVE and record.groups and all(g.state.is_final for g in record.groups):
            outcome = plan_outcome(record.groups)
            record = self._update(
                attrs.evolve(record, state=PlanState.REPORTING, outcome=outcome, due_at=self.clock()),
                f"all tickets final: {outcome.value}",
            )
        if record.state is not PlanState.REPORTING:
            return record
        plan_report = self._plan_report(record)
        source = self._sources.get(record.source)
        log = _plan_log(record.plan_key)
        if source is None:
            log.warning("its source %r is not configured in this engine; finishing without a report", record.source)
        else:
            try:
                source.report(_plan_to_report(record), plan_report)
            except (TransportError, ApiError) as exc:
                report.error(CycleError("report", str(exc), plan_key=record.plan_key))
                log.warning("report failed, will retry: %s", exc)
                return self._update(
                    attrs.evolve(record, due_at=self.clock() + _TRANSIENT_BACKOFF), f"report failed, will retry: {exc}"
                )
        record = self._update(attrs.evolve(record, state=PlanState.DONE), f"reported: {plan_report.detail}")
        report.add("reported")
        log.info("done: %s", plan_report.detail)
        self._call_hook(self.hooks.on_plan_finished, record.plan_key, plan_report)
        return record

    def _plan_report(self, record: PlanRecord) -> PlanReport:
        outcome = record.outcome or plan_outcome(record.groups)
        tickets = tuple(
            TicketSummary(
                correlation_key=g.correlation_key,
                number=g.ticket_number,
                outcome=_OUTCOME_OF_GROUP[g.state].value if g.state in _OUTCOME_OF_GROUP else g.state.value,
                status_values=dict(g.status_values or {}),
                detail=g.detail,
            )
            for g in record.groups
        )
        if tickets:
            detail = f"{outcome.value}: " + "; ".join(
                f"{t.number or t.correlation_key} {t.outcome}" + (f" ({t.detail})" if t.detail else "") for t in tickets
            )
        else:
            detail = f"{outcome.value}: {record.detail or 'no account request for a managed source'}"
        plan = _plan_to_report(record)
        unmanaged = tuple(
            dict.fromkeys(r.source_label for r in plan.account_requests if self.config.managed_source(r) is None)
        )
        return PlanReport(record.plan_key, outcome, tickets, unmanaged, detail)

    # ------------------------------------------------------------------------------------------ helpers

    def _with_due(self, record: PlanRecord, now: datetime) -> PlanRecord:
        """``record`` with ``due_at`` set to when it next needs work."""
        pending = [g for g in record.groups if not g.state.is_final]
        if not pending:
            return attrs.evolve(record, due_at=now)
        times = [g.next_check_at or now for g in pending]
        return attrs.evolve(record, due_at=min(times))

    @staticmethod
    def _call_hook(hook: Callable[..., None] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            logger.exception("hook %s raised; ignored", getattr(hook, "__name__", hook))
