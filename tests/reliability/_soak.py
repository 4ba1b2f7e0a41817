"""The fault soak: many plans through the whole loop while both fakes misbehave at the same time.

Both fakes are served on loopback and run on the real clock (token lifetimes, the IdentityNow rate limit,
``Retry-After`` waits and the service desk's work are all real seconds). The engine runs on a clock 30 times
faster, so its own waits (30 s after a transient failure, the status-check interval) pass in about a second
without being shortened below the fakes' slowest answer: a create that timed out on the client but still lands
in ServiceNow has landed before the engine looks for it.

Every request to either fake may be hit by one fault of :data:`FAULT_MIX`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs

from sim_servicenow.adapters import ServiceNowTicketing, WorkItemSource
from sim_servicenow.auth import OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.engine import IntegrationEngine, PlanOutcome, PlanState, SqliteStore
from sim_servicenow.http import HttpCore, RetryPolicy, Timeout
from sim_servicenow.identitynow import IdentityNowClient
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    Secret,
    ServiceNowAuthType,
    ServiceNowSettings,
    StatusCheck,
)
from sim_servicenow.servicenow import ServiceNowClient
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, FaultKind, Faults, WorkPolicy, serve

#: How fast the engine's clock runs compared with the real one.
SPEEDUP = 30.0
#: The engine clients' timeouts: a LATENCY fault (below) outlasts the read timeout.
TIMEOUT = Timeout(connect=2.0, read=0.5)
#: ``(kind, share of all requests, options)``: 10 % 5xx, 5 % 429 with Retry-After, 5 % semaphore 429,
#: 2 % dropped connections (half of them after the request took effect), 1 % answers slower than the read timeout,
#: 1 % tokens revoked early.
FAULT_MIX: tuple[tuple[FaultKind, float, dict[str, Any]], ...] = (
    (FaultKind.ERROR, 0.025, {"status": 500}),
    (FaultKind.ERROR, 0.025, {"status": 502}),
    (FaultKind.ERROR, 0.025, {"status": 503}),
    (FaultKind.ERROR, 0.025, {"status": 504}),
    (FaultKind.RATE_LIMIT, 0.05, {"retry_after": 1.0}),
    (FaultKind.SEMAPHORE, 0.05, {}),
    (FaultKind.DROP, 0.01, {"after": False}),
    (FaultKind.DROP, 0.01, {"after": True}),
    (FaultKind.LATENCY, 0.01, {"delay": 0.8}),
    # Tokens revoked before their time: the 401 path (renew once, send again) under concurrency.
    (FaultKind.EXPIRE_TOKEN, 0.01, {}),
)
#: On top of the mix, the dangerous case for duplicates: the POSTs that raise a ticket or tell IdentityNow, dropped
#: *after* they took effect (the ticket exists, the work item is completed, the answer is lost).
LOST_ANSWERS = (("/api/sn_sc/servicecatalog/items/", 0.05), ("/v3/work-items/", 0.05))
#: OAuth access tokens of both services live this long.
TOKEN_LIFETIME = 5.0
#: IdentityNow's documented budget per client id.
IDN_RATE_LIMIT = (100, 10.0)
#: The service desk closes each ticket this many real seconds after it was raised, with these outcomes.
DESK = WorkPolicy(close_after=1.0, outcomes={"complete": 6, "incomplete": 2, "rejected": 1}, seed=3)
SN_OAUTH_CLIENT = ("sim-servicenow", "sim-servicenow-secret")
SN_USER = ("admin", "admin")
IDN_CLIENT = (FakeIdentityNow.DEFAULT_CLIENT_ID, FakeIdentityNow.DEFAULT_CLIENT_SECRET)


class AcceleratedClock:
    """Timezone-aware UTC time that runs :data:`SPEEDUP` times faster than the wall clock."""

    def __init__(self, speedup: float = SPEEDUP) -> None:
        self.speedup = speedup
        self._start = datetime.now(timezone.utc)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speedup)


def add_fault_mix(faults: Faults) -> None:
    """Add :data:`LOST_ANSWERS`, then :data:`FAULT_MIX` so that each kind hits its share of *all* requests.

    Rules are tried in order and the first hit wins, so each rule's probability is its share divided by what the
    earlier rules leave over.
    """
    for path, share in LOST_ANSWERS:
        faults.add(FaultKind.DROP, probability=share, method="POST", path=path, after=True)
    left = 1.0
    for kind, share, options in FAULT_MIX:
        faults.add(kind, probability=share / left, **options)
        left -= share


@attrs.define
class SoakFigures:
    """What a soak run did, and what it left behind; :meth:`lines` prints it."""

    plans: int
    cycles: int = 0
    engine: Counter[str] = attrs.field(factory=Counter)
    seconds: float = 0.0
    plan_states: Counter[str] = attrs.field(factory=Counter)
    outcomes: Counter[str] = attrs.field(factory=Counter)
    tickets: int = 0
    duplicate_keys: list[str] = attrs.field(factory=list)
    plans_without_ticket: list[str] = attrs.field(factory=list)
    wrong_outcomes: list[str] = attrs.field(factory=list)
    completions: int = 0
    forwards: int = 0
    told_not_once: list[str] = attrs.field(factory=list)
    http: Counter[str] = attrs.field(factory=Counter)
    token_requests: Counter[str] = attrs.field(factory=Counter)
    resends: Counter[str] = attrs.field(factory=Counter)
    faults_servicenow: Counter[str] = attrs.field(factory=Counter)
    faults_identitynow: Counter[str] = attrs.field(factory=Counter)
    answered_429: Counter[str] = attrs.field(factory=Counter)
    rate_limited: int = 0
    identitynow_api_requests: int = 0
    cycle_errors: Counter[str] = attrs.field(factory=Counter)

    @property
    def terminal(self) -> int:
        """Plans that reached DONE."""
        return self.plan_states[PlanState.DONE.value]

    def lines(self) -> list[str]:
        """The figures, one fact per line."""

        def kinds(counter: Counter[str]) -> str:
            return ", ".join(f"{kind} {count}" for kind, count in sorted(counter.items())) or "none"

        return [
            f"soak: {self.plans} plans, {self.cycles} engine cycles in {self.seconds:.1f} s",
            f"plans terminal: {self.terminal}/{self.plans} ({kinds(self.outcomes)})",
            f"engine: {kinds(self.engine)} (found: tickets whose creation answer was lost, found by correlation key)",
            f"tickets: {self.tickets} for {self.plans} plans; duplicated correlation keys: {len(self.duplicate_keys)}; "
            f"plans without a ticket: {len(self.plans_without_ticket)}; outcomes unlike the ticket's: "
            f"{len(self.wrong_outcomes)}",
            f"work items: {self.completions} completed + {self.forwards} forwarded; told other than once: "
            f"{len(self.told_not_once)}",
            f"HTTP (engine clients): {kinds(self.http)}",
            f"token requests: {kinds(self.token_requests)}; re-sent after a 401: {kinds(self.resends)}",
            f"faults injected into ServiceNow: {sum(self.faults_servicenow.values())} "
            f"({kinds(self.faults_servicenow)})",
            f"faults injected into IdentityNow: {sum(self.faults_identitynow.values())} "
            f"({kinds(self.faults_identitynow)})",
            f"429 answers: {kinds(self.answered_429)}; of them IdentityNow's own rate limit: {self.rate_limited}; "
            f"IdentityNow API requests received: {self.identitynow_api_requests} "
            f"({self.identitynow_api_requests / max(self.seconds, 1e-9):.1f}/s)",
            f"errors the engine recorded and retried: {kinds(self.cycle_errors)}",
        ]


@attrs.define
class SoakWorld:
    """Both fakes (served), the work items, and the engine wired to them."""

    sn: FakeServiceNow
    idn: FakeIdentityNow
    engine: IntegrationEngine
    store: SqliteStore
    work_items: list[str]
    sn_auth: OAuth2PasswordGrant
    idn_auth: OAuth2ClientCredentials
    cores: dict[str, HttpCore]


def _config(sn_url: str, idn_url: str, sources: tuple[ManagedSource, ...], desk: str) -> IntegrationConfig:
    return IntegrationConfig(
        name="soak",
        servicenow=ServiceNowSettings(
            sn_url,
            auth=ServiceNowAuthType.OAUTH2_PASSWORD,
            username=SN_USER[0],
            password=Secret(SN_USER[1]),
            client_id=SN_OAUTH_CLIENT[0],
            client_secret=Secret(SN_OAUTH_CLIENT[1]),
        ),
        identitynow=IdentityNowSettings(idn_url, client_id=IDN_CLIENT[0], client_secret=Secret(IDN_CLIENT[1])),
        sources=sources,
        # 30 engine seconds: one real second.
        status_check=StatusCheck(interval=timedelta(seconds=30), max_days=2),
        forward_failed_to=desk,
    )


@contextmanager
def soak_world(plans: int, store_path: Path, *, seed: int = 11, concurrency: int = 8) -> Iterator[SoakWorld]:
    """Serve both fakes with the fault mix and ``plans`` pending work items; yield the engine wired to them."""
    sn = FakeServiceNow(seed=seed, token_lifetime=TOKEN_LIFETIME, work_policy=DESK)
    idn = FakeIdentityNow(seed=seed, token_lifetime=TOKEN_LIFETIME, rate_limit=IDN_RATE_LIMIT)
    badge = idn.add_source("Badge System")
    laptop = idn.add_source("Laptop Fleet")
    variables = ["sim_correlation_id", "short_description", "description"]
    badge_item = sn.add_catalog_item("Security badge", variables)
    laptop_item = sn.add_catalog_item("Laptop", variables)
    desk = idn.add_identity("provisioning.desk")["id"]
    work_items = [
        idn.add_manual_work_item((badge if n % 2 else laptop)["id"], "Create", f"user{n:05d}", {"level": str(n % 5)})[
            "id"
        ]
        for n in range(plans)
    ]
    add_fault_mix(sn.faults)
    add_fault_mix(idn.faults)
    with serve(sn) as sn_served, serve(idn) as idn_served:
        sources = (
            ManagedSource(badge["id"], badge["name"], badge_item),
            ManagedSource(laptop["id"], laptop["name"], laptop_item),
        )
        config = _config(sn_served.url, idn_served.url, sources, desk)
        clock = AcceleratedClock()
        retry = RetryPolicy(max_attempts=4, initial_backoff=0.05, max_backoff=0.5, deadline=30.0)
        token_retry = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.5, deadline=30.0)
        # Built from its parts (the embedding path) so every client, token requests included, gets the short
        # read timeout; IntegrationEngine.from_config takes no timeout.
        sn_auth = OAuth2PasswordGrant.for_servicenow(
            sn_served.url, *SN_OAUTH_CLIENT, *SN_USER, timeout=TIMEOUT, retry=token_retry
        )
        idn_auth = OAuth2ClientCredentials.for_identitynow(
            idn_served.url, *IDN_CLIENT, timeout=TIMEOUT, retry=token_retry
        )
        sn_client = ServiceNowClient(sn_served.url, sn_auth, timeout=TIMEOUT, retry=retry)
        idn_client = IdentityNowClient(idn_served.url, idn_auth, timeout=TIMEOUT, retry=retry)
        store = SqliteStore(store_path)
        engine = IntegrationEngine(
            config,
            ServiceNowTicketing.from_config(sn_client, config, clock=clock),
            WorkItemSource.from_config(idn_client, config),
            store,
            clock=clock,
            concurrency=concurrency,
            batch_size=250,
            lease_for=timedelta(hours=2),
            worker_id="soak",
        )
        cores = {
            "servicenow": sn_client.http,
            "identitynow": idn_client.http,
            "servicenow token": sn_auth._core,
            "identitynow token": idn_auth._core,
        }
        try:
            yield SoakWorld(sn, idn, engine, store, work_items, sn_auth, idn_auth, cores)
        finally:
            store.close()
            sn_client.close()
            idn_client.close()
            sn_auth.close()
            idn_auth.close()


def drive(world: SoakWorld, *, budget: float) -> SoakFigures:
    """Run engine cycles until every plan is DONE or ``budget`` seconds have passed; then count everything."""
    figures = SoakFigures(plans=len(world.work_items))
    started = time.monotonic()
    while time.monotonic() - started < budget:
        report = world.engine.run_once()
        figures.cycles += 1
        figures.engine.update({name: getattr(report, name) for name in ("created", "found", "reported")})
        figures.cycle_errors.update(error.stage for error in report.errors)
        if world.store.counts().plans[PlanState.DONE] == figures.plans:
            break
        time.sleep(0.05)
    figures.seconds = time.monotonic() - started
    _count(world, figures)
    return figures


_COMMITTED_STATES = frozenset({"closed_complete"})


def _count(world: SoakWorld, figures: SoakFigures) -> None:
    counts = world.store.counts()
    figures.plan_states.update({state.value: n for state, n in counts.plans.items() if n})
    figures.outcomes.update({outcome.value: n for outcome, n in counts.outcomes.items() if n})
    requests = world.sn.records("sc_request")
    figures.tickets = len(requests)
    keys = Counter(r.get("correlation_id", "") for r in requests)
    figures.duplicate_keys = sorted(k for k, n in keys.items() if n > 1)
    by_plan: dict[str, list[dict[str, str]]] = {}
    for request in requests:
        by_plan.setdefault(request.get("correlation_id", "").split("/")[0], []).append(request)
    for key in world.work_items:
        tickets = by_plan.get(key, [])
        if not tickets:
            figures.plans_without_ticket.append(key)
            continue
        record = world.store.get(key)
        expected = PlanOutcome.COMMITTED if tickets[0]["request_state"] in _COMMITTED_STATES else PlanOutcome.FAILED
        if record is None or record.outcome is not expected:
            got = None if record is None else record.outcome
            figures.wrong_outcomes.append(f"{key}: {got} for {tickets[0]['number']} {tickets[0]['request_state']}")
    for key in world.work_items:
        completed, forwarded = len(world.idn.completions(key)), len(world.idn.forwards(key))
        figures.completions += completed
        figures.forwards += forwarded
        if completed + forwarded != 1:
            figures.told_not_once.append(f"{key}: completed {completed}, forwarded {forwarded}")
    for core in world.cores.values():
        figures.http.update(core.stats)
    figures.token_requests.update(
        {"servicenow": world.sn_auth.token_requests, "identitynow": world.idn_auth.token_requests}
    )
    figures.resends.update({"servicenow": world.sn_auth.resends, "identitynow": world.idn_auth.resends})
    figures.faults_servicenow.update(world.sn.faults.counts)
    figures.faults_identitynow.update(world.idn.faults.counts)
    sn_429 = world.sn.requests.filter(predicate=lambda e: e.status == 429)
    idn_429 = world.idn.requests.filter(predicate=lambda e: e.status == 429)
    figures.answered_429.update({"servicenow": len(sn_429), "identitynow": len(idn_429)})
    figures.rate_limited = sum(1 for e in idn_429 if e.fault is None)
    figures.identitynow_api_requests = sum(1 for e in world.idn.requests if not e.path.startswith("/oauth/"))
