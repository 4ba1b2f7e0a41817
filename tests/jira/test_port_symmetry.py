"""The ticketing port is the same for both adapters: payloads carry the correlation key beside the rendered fields,
and each adapter writes it where its own system keeps it, in the create request itself."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from sim_servicenow.adapters import JiraServiceManagementTicketing, ServiceNowTicketing
from sim_servicenow.auth import BasicAuth
from sim_servicenow.http import RetryPolicy
from sim_servicenow.mapping import (
    CORRELATION_DISPLAY,
    AccountOperation,
    AccountRequest,
    CatalogTicketPayload,
    Identity,
    IntegrationConfig,
    JiraSettings,
    ManagedSource,
    ProvisioningPlan,
    RequestTemplate,
    TableTicketPayload,
    TicketingSystemKind,
    TicketPayload,
    TicketType,
    render_ticket_payloads,
)
from sim_servicenow.servicenow import ServiceNowClient
from sim_servicenow.testing import FakeJira, FakeServiceNow, ServedApp, serve

RETRY = RetryPolicy(max_attempts=2).without_sleeping()
BADGE = ManagedSource("2c9180835d2e5168015d32f890ca1581", "Badge")
PLAN = ProvisioningPlan(
    "wi-9",
    Identity(name="ada", display_name="Ada Lovelace"),
    account_requests=[AccountRequest(AccountOperation.CREATE, BADGE.id, "Badge", "ada")],
)
# A template key named like ServiceNow's correlation field: a field like any other in the payload.
TEMPLATE = RequestTemplate({"short_description": "Badge for $identity.label", "correlation_id": "from the template"})


def only(payloads: tuple[TicketPayload, ...]) -> TicketPayload:
    (payload,) = payloads
    return payload


@pytest.fixture
def servicenow() -> Iterator[tuple[FakeServiceNow, ServedApp]]:
    fake = FakeServiceNow(seed=3)
    with serve(fake) as served:
        yield fake, served


@pytest.fixture
def jira() -> Iterator[tuple[FakeJira, ServedApp]]:
    fake = FakeJira(seed=3)
    with serve(fake) as served:
        yield fake, served


def servicenow_ticketing(served: ServedApp, config: IntegrationConfig) -> ServiceNowTicketing:
    client = ServiceNowClient(served.url, BasicAuth("admin", "admin"), retry=RETRY)
    return ServiceNowTicketing.from_config(client, config)


def test_payloads_carry_the_key_beside_the_fields_for_every_system() -> None:
    servicenow = IntegrationConfig(sources=[BADGE], ticket_type=TicketType.TABLE, table="incident")
    jira = IntegrationConfig(
        sources=[BADGE],
        ticketing=TicketingSystemKind.JIRA,
        jira=JiraSettings("https://acme.atlassian.net", service_desk_id="1", request_type_id="10"),
    )
    for config in (servicenow, jira):
        payload = only(render_ticket_payloads(PLAN, attrs.evolve(config, request_template=TEMPLATE)))
        assert isinstance(payload, TableTicketPayload)
        assert payload.fields == {"short_description": "Badge for Ada Lovelace", "correlation_id": "from the template"}
        assert str(payload.correlation_key) == f"wi-9/source-{BADGE.id}"


def test_servicenow_writes_the_key_and_its_owner_into_the_insert(
    servicenow: tuple[FakeServiceNow, ServedApp],
) -> None:
    fake, served = servicenow
    config = IntegrationConfig(
        sources=[BADGE], ticket_type=TicketType.TABLE, table="incident", request_template=TEMPLATE
    )
    payload = only(render_ticket_payloads(PLAN, config))
    key = str(payload.correlation_key)
    ticketing = servicenow_ticketing(served, config)

    ref = ticketing.create(payload, key)

    (incident,) = fake.records("incident")
    # The adapter's key wins over the template's value for the field it owns.
    assert (incident["correlation_id"], incident["correlation_display"]) == (key, CORRELATION_DISPLAY)
    assert incident["short_description"] == "Badge for Ada Lovelace"
    assert len(fake.requests.filter("POST", "/api/now/table/incident")) == 1  # one insert, key included
    assert ticketing.find(key) == ref


def test_servicenow_writes_the_key_and_its_owner_to_a_catalog_request(
    servicenow: tuple[FakeServiceNow, ServedApp],
) -> None:
    fake, served = servicenow
    item = fake.add_catalog_item("Badge", ["sim_correlation_id"])
    config = IntegrationConfig(sources=[attrs.evolve(BADGE, catalog_item=item)])
    payload = only(render_ticket_payloads(PLAN, config))
    assert isinstance(payload, CatalogTicketPayload)
    assert "correlation_id" not in payload.request_fields
    key = str(payload.correlation_key)

    ref = servicenow_ticketing(served, config).create(payload, key)

    (request,) = fake.records("sc_request")
    assert (request["correlation_id"], request["correlation_display"]) == (key, CORRELATION_DISPLAY)
    assert request["sys_id"] == ref.id
    (ritm,) = fake.records("sc_req_item")
    assert fake.variables(ritm["sys_id"])["sim_correlation_id"] == key  # in the order itself


def test_jira_writes_the_key_its_own_way_and_sends_the_fields_as_rendered(jira: tuple[FakeJira, ServedApp]) -> None:
    fake, served = jira
    fake.add_request_type(
        FakeJira.DEFAULT_SERVICE_DESK_ID, "Access", fields=("summary", "description", "correlation_id")
    )
    config = IntegrationConfig(
        sources=[BADGE],
        ticketing=TicketingSystemKind.JIRA,
        jira=JiraSettings(served.url, FakeJira.DEFAULT_SERVICE_DESK_ID, "11"),
        request_template=TEMPLATE,
    )
    payload = only(render_ticket_payloads(PLAN, config))
    key = str(payload.correlation_key)
    ticketing = JiraServiceManagementTicketing.from_config(
        config, BasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN), retry=RETRY
    )

    ref = ticketing.create(payload, key)

    issue = fake.issue(ref.number)
    # Nothing is stripped or added under ServiceNow's names: the template's field arrives as rendered.
    assert issue.field_values["correlation_id"] == "from the template"
    assert issue.description == JiraServiceManagementTicketing.marker_for(key)
    assert issue.labels == (ticketing.label_for(key),)
    assert ticketing.find(key) == ref
