"""The public API as users call it; ``mypy --strict`` checks this file (it is not run by pytest)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta

import requests

import sim_servicenow
from sim_servicenow import (
    AccountRequest,
    ApiError,
    BasicAuth,
    CycleReport,
    IdentityNowClient,
    IntegrationConfig,
    IntegrationEngine,
    OAuth2ClientCredentials,
    OAuth2PasswordGrant,
    ProvisioningPlan,
    ProvisioningStatus,
    RequestTemplate,
    RetryPolicy,
    ServiceNowClient,
    SimServiceNowError,
    StatusMap,
    Timeout,
    TransportError,
)
from sim_servicenow.adapters import ServiceNowTicketing, WorkItemSource
from sim_servicenow.engine import (
    EngineHooks,
    MemoryStore,
    PlanReport,
    PlanSource,
    SqliteStore,
    StateStore,
    TicketingSystem,
    TicketRef,
    TicketStatus,
    open_store,
)
from sim_servicenow.mapping import AccountOperation, ManagedSource, Secret, ServiceNowSettings, TicketPayload
from sim_servicenow.servicenow import Field, Record
from sim_servicenow.testing import FakeIdentityNow, FakeServiceNow, serve

version: str = sim_servicenow.__version__


def clients() -> None:
    session = requests.Session()
    auth = BasicAuth("admin", "secret")
    with ServiceNowClient(
        "https://dev1234.service-now.com",
        auth,
        session=session,
        timeout=Timeout(connect=5, read=30),
        retry=RetryPolicy(max_attempts=3),
    ) as sn:
        records: list[Record] = list(sn.table("incident").query(Field("active").eq(True), fields=["number"]))
        number: str | None = records[0].get_str("number")
        statuses: dict[str, Record] = sn.statuses("incident", ["a" * 32], ["state"])
        del number, statuses
    pat = OAuth2ClientCredentials.for_identitynow("https://acme.api.identitynow.com", "id", "secret")
    with IdentityNowClient("https://acme.api.identitynow.com", pat) as idn:
        for action in idn.work_items.iter_manual_actions(["2c9180835d191a86015d28455b4a2329"]):
            print(action.work_item.id)
    OAuth2PasswordGrant.for_servicenow("https://dev1234.service-now.com", "cid", "csecret", "user", "pw")


def mapping() -> StatusMap:
    plan = ProvisioningPlan(key="1", account_requests=(AccountRequest(AccountOperation.CREATE, "s", "Badge", "ada"),))
    template = RequestTemplate({"short_description": "Access for $plan.identity.label"})
    fields: dict[str, str] = template.render(plan)
    status: ProvisioningStatus = StatusMap.sc_request().lookup("closed_complete").status
    del fields, status
    return StatusMap({"closed_complete": "Committed", "requested": "queued"}, field="request_state")


def engine(config: IntegrationConfig) -> CycleReport:
    store: StateStore = open_store("sqlite:///state.db")
    other: StateStore = SqliteStore("other.db")
    memory: StateStore = MemoryStore()
    del other, memory
    hooks = EngineHooks(on_plan_finished=lambda key, report: print(key, report.outcome))
    engine = IntegrationEngine.from_config(config, store=store, hooks=hooks, concurrency=2)
    ticketing: TicketingSystem = engine.ticketing
    assert isinstance(ticketing, ServiceNowTicketing)
    stop = threading.Event()
    stop.set()
    engine.run_forever(stop, interval=1.0)
    return engine.run_once()


class MyTicketing:
    """A user's own ticketing system satisfies the protocol structurally."""

    def create(self, payload: TicketPayload, correlation_key: str) -> TicketRef:
        return TicketRef("mine", "ticket", "1", "T-1")

    def find(self, correlation_key: str) -> TicketRef | None:
        return None

    def statuses(self, refs: Sequence[TicketRef]) -> Mapping[str, TicketStatus]:
        return {ref.id: TicketStatus(ProvisioningStatus.QUEUED) for ref in refs}

    def comment(self, ref: TicketRef, text: str) -> None:
        return None


class MySource:
    name = "mine"

    def poll(self) -> list[ProvisioningPlan]:
        return []

    def report(self, plan: ProvisioningPlan, report: PlanReport) -> None:
        print(plan.key, report.detail)


def ports(config: IntegrationConfig) -> None:
    source: PlanSource = MySource()
    ticketing: TicketingSystem = MyTicketing()
    IntegrationEngine(config, ticketing, source, MemoryStore(), lease_for=timedelta(minutes=1))


def testing() -> None:
    with serve(FakeServiceNow(users={"admin": "admin"})) as sn, serve(FakeIdentityNow(), tls=True) as idn:
        print(sn.url, idn.url, idn.ca_bundle)


def config() -> IntegrationConfig:
    settings = ServiceNowSettings("https://dev1234.service-now.com", username="u", password=Secret.from_env("SN_PW"))
    return IntegrationConfig(servicenow=settings, sources=(ManagedSource("2c91", "Badge", "cat-item"),))


def errors() -> None:
    try:
        config()
    except TransportError as exc:
        print(exc.url)
    except ApiError as exc:
        print(exc.status, exc.tracking_id, exc.retry_after)
    except SimServiceNowError:
        pass


def workitems(client: IdentityNowClient, config: IntegrationConfig) -> WorkItemSource:
    return WorkItemSource.from_config(client, config)
