"""From plans to ticket groups and payloads: filtering, grouping, correlation keys, field routing."""

from __future__ import annotations

import pytest

from sim_servicenow.errors import ConfigError
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    CatalogTicketPayload,
    CorrelationKey,
    Grouping,
    Identity,
    IntegrationConfig,
    JiraSettings,
    ManagedSource,
    ProvisioningPlan,
    RequestTemplate,
    TableTicketPayload,
    TicketFilter,
    TicketingSystemKind,
    TicketType,
    plan_ticket_groups,
    render_ticket_payload,
    render_ticket_payloads,
)

AD = ManagedSource("a" * 32, "Active Directory", "1" * 32)
BADGE = ManagedSource("b" * 32, "Badge System", "2" * 32)
UNMANAGED_ID = "c" * 32

PLAN = ProvisioningPlan(
    "wi-1",
    Identity("i1", "amos", "Amos Cunningham"),
    {"identityRequestId": "0000001234"},
    [
        AccountRequest(
            AccountOperation.MODIFY,
            AD.id,
            "Active Directory",
            "amos",
            None,
            [
                AttributeRequest("groups", AttributeOperation.ADD, "Admins"),
                AttributeRequest("lastLogin", AttributeOperation.SET, "today"),
            ],
        ),
        AccountRequest(AccountOperation.CREATE, UNMANAGED_ID, "Unmanaged", "amos"),
        AccountRequest(AccountOperation.DISABLE, None, "badge system", "amos.b"),  # matched by name
        AccountRequest(
            AccountOperation.MODIFY,
            AD.id,
            "Active Directory",
            "amos.adm",
            None,
            [AttributeRequest("groups", AttributeOperation.REMOVE, "Guests")],
        ),
    ],
)


def config(**settings: object) -> IntegrationConfig:
    return IntegrationConfig(sources=[AD, BADGE], **settings)  # type: ignore[arg-type]


# --- groups -------------------------------------------------------------------------------------------------------


def test_grouping_by_source_keeps_managed_requests_in_plan_order() -> None:
    groups = plan_ticket_groups(PLAN, config())
    assert [(g.group_id, g.sources, [r.native_identity for r in g.account_requests]) for g in groups] == [
        (f"source-{AD.id}", (AD,), ["amos", "amos.adm"]),
        (f"source-{BADGE.id}", (BADGE,), ["amos.b"]),
    ]
    assert {g.plan_key for g in groups} == {"wi-1"}


def test_grouping_by_plan_makes_one_group_listing_its_sources() -> None:
    (group,) = plan_ticket_groups(PLAN, config(grouping=Grouping.PLAN))
    assert group.group_id == "plan"
    assert group.sources == (AD, BADGE)
    assert len(group.account_requests) == 3


def test_grouping_by_account_request_uses_the_position_in_the_plan() -> None:
    groups = plan_ticket_groups(PLAN, config(grouping=Grouping.ACCOUNT_REQUEST))
    assert [g.group_id for g in groups] == ["account-1", "account-3", "account-4"]


@pytest.mark.parametrize("grouping", list(Grouping))
def test_groups_are_deterministic(grouping: Grouping) -> None:
    settings = config(grouping=grouping)
    rebuilt = ProvisioningPlan.from_json(PLAN.to_json())
    assert plan_ticket_groups(PLAN, settings) == plan_ticket_groups(rebuilt, settings)


def test_a_plan_without_managed_requests_has_no_groups() -> None:
    plan = ProvisioningPlan("k", account_requests=[AccountRequest(AccountOperation.CREATE, UNMANAGED_ID)])
    assert plan_ticket_groups(plan, config()) == ()
    assert render_ticket_payloads(plan, config()) == ()


def test_filters_drop_operations_and_ignored_attributes() -> None:
    settings = config(
        filters=TicketFilter(operations={AccountOperation.MODIFY}, ignored_attributes={"lastLogin", "groups"})
    )
    # Only Modify is ticketed, and a Modify whose attributes are all ignored makes no ticket.
    assert plan_ticket_groups(PLAN, settings) == ()
    settings = config(filters=TicketFilter(ignored_attributes={"lastLogin"}))
    first = plan_ticket_groups(PLAN, settings)[0].account_requests[0]
    assert first.attribute_requests == (AttributeRequest("groups", AttributeOperation.ADD, "Admins"),)


def test_a_request_without_attributes_is_kept_even_if_attributes_are_ignored() -> None:
    plan = ProvisioningPlan("k", account_requests=[AccountRequest(AccountOperation.DELETE, AD.id)])
    assert len(plan_ticket_groups(plan, config(filters=TicketFilter(ignored_attributes={"x"})))) == 1


@pytest.mark.parametrize(
    ("arguments", "suppressed"),
    [
        ({"flow": "AttributeSync"}, True),
        ({"flow": "attribute_sync"}, True),
        ({"source": "Attribute Synchronization Refresh"}, True),
        ({"action": "attributesynchronizationrefresh"}, True),
        ({"flow": "AccessRequest"}, False),
        ({"flow": 3}, False),
        ({}, False),
    ],
)
def test_attribute_synchronisation_plans_are_suppressed(arguments: dict[str, object], suppressed: bool) -> None:
    plan = ProvisioningPlan("k", arguments=arguments, account_requests=[AccountRequest(AccountOperation.MODIFY, AD.id)])
    assert (plan_ticket_groups(plan, config()) == ()) is suppressed


def test_suppression_can_be_switched_off() -> None:
    plan = ProvisioningPlan(
        "k", arguments={"flow": "AttributeSync"}, account_requests=[AccountRequest(AccountOperation.MODIFY, AD.id)]
    )
    assert len(plan_ticket_groups(plan, config(filters=TicketFilter(suppressed_flows=())))) == 1


# --- correlation keys ---------------------------------------------------------------------------------------------


def test_correlation_keys_carry_plan_group_and_attempt() -> None:
    key = CorrelationKey("wi-1", "source-x")
    assert str(key) == "wi-1/source-x"
    assert str(CorrelationKey("wi-1", "source-x", 2)) == "wi-1/source-x#2"
    assert CorrelationKey.parse("wi-1/source-x#2") == CorrelationKey("wi-1", "source-x", 2)
    assert CorrelationKey.parse("a/b/plan") == CorrelationKey("a/b", "plan")
    assert CorrelationKey.parse("k#x/plan#3") == CorrelationKey("k#x", "plan", 3)


@pytest.mark.parametrize("text", ["no-slash", "/plan", "key/", "key/plan#0"])
def test_bad_correlation_keys_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid correlation key"):
        CorrelationKey.parse(text)


def test_a_group_gives_its_key_per_attempt() -> None:
    group = plan_ticket_groups(PLAN, config())[0]
    assert str(group.correlation_key()) == f"wi-1/source-{AD.id}"
    assert str(group.correlation_key(3)) == f"wi-1/source-{AD.id}#3"


# --- table payloads ---------------------------------------------------------------------------------------------


def test_a_table_payload_has_the_rendered_fields_and_carries_the_key_beside_them() -> None:
    settings = config(ticket_type=TicketType.TABLE, table="incident")
    payloads = render_ticket_payloads(PLAN, settings)
    assert [type(p) for p in payloads] == [TableTicketPayload, TableTicketPayload]
    first = payloads[0]
    assert isinstance(first, TableTicketPayload)
    assert first.table == "incident"
    assert first.kind == "table"
    assert first.fields["short_description"] == "2 account changes for Amos Cunningham"
    assert "1. Modify the account amos on Active Directory" in first.fields["description"]
    assert "Badge" not in first.fields["description"]
    # Where the key lives in the ticket is each adapter's decision: the fields are the template's alone.
    assert set(first.fields) == {"short_description", "description"}
    assert first.correlation_key == CorrelationKey("wi-1", f"source-{AD.id}")


def test_req_and_ritm_keys_fill_a_table_ticket_only_on_their_own_table() -> None:
    template = RequestTemplate(
        {"short_description": "plain", "req_short_description": "req", "ritm_short_description": "ritm", "u_x": "x"}
    )
    for table, expected in (("incident", "plain"), ("sc_request", "req"), ("sc_req_item", "ritm")):
        settings = config(ticket_type=TicketType.TABLE, table=table, request_template=template)
        payload = render_ticket_payloads(PLAN, settings)[0]
        assert isinstance(payload, TableTicketPayload)
        assert payload.fields["short_description"] == expected
        assert payload.fields["u_x"] == "x"
        assert set(payload.fields) == {"short_description", "u_x"}


def test_a_template_key_named_like_a_correlation_field_is_just_a_field() -> None:
    # The ServiceNow adapter overwrites correlation_id with the key when it creates the ticket.
    template = RequestTemplate({"correlation_id": "mine"})
    payload = render_ticket_payloads(
        PLAN, config(ticket_type=TicketType.TABLE, table="incident", request_template=template)
    )[0]
    assert isinstance(payload, TableTicketPayload)
    assert payload.fields == {"correlation_id": "mine"}
    assert str(payload.correlation_key) == f"wi-1/source-{AD.id}"


def test_a_retry_renders_the_attempt_into_the_key() -> None:
    settings = config(ticket_type=TicketType.TABLE, table="incident")
    group = plan_ticket_groups(PLAN, settings)[1]
    payload = render_ticket_payload(PLAN, group, settings, attempt=2)
    assert isinstance(payload, TableTicketPayload)
    assert str(payload.correlation_key) == f"wi-1/source-{BADGE.id}#2"
    assert payload.correlation_key.attempt == 2


# --- Jira payloads ------------------------------------------------------------------------------------------------

JIRA = JiraSettings("https://acme.atlassian.net", service_desk_id="4", request_type_id="27")


def test_a_jira_payload_is_table_shaped_with_the_request_type_as_its_kind() -> None:
    settings = config(ticketing=TicketingSystemKind.JIRA, jira=JIRA)
    first, second = render_ticket_payloads(PLAN, settings)
    assert isinstance(first, TableTicketPayload)
    assert isinstance(second, TableTicketPayload)
    assert (first.table, second.table) == ("27", "27")
    # The default template's short_description becomes Jira's summary in the adapter (its field_map).
    assert first.fields["short_description"] == "2 account changes for Amos Cunningham"
    assert second.fields["short_description"] == "Disable account amos.b on badge system for Amos Cunningham"
    assert set(first.fields) == {"short_description", "description"}


def test_a_jira_payload_needs_no_catalog_item() -> None:
    without_items = IntegrationConfig(
        sources=[ManagedSource(AD.id, AD.name)], ticketing=TicketingSystemKind.JIRA, jira=JIRA
    )
    (payload,) = render_ticket_payloads(PLAN, without_items)
    assert isinstance(payload, TableTicketPayload)
    assert payload.correlation_key == CorrelationKey("wi-1", f"source-{AD.id}")
    # The same sources as catalog tickets cannot be rendered (see the catalog tests below).
    with pytest.raises(ConfigError, match="catalog_item"):
        render_ticket_payloads(PLAN, IntegrationConfig(sources=[ManagedSource(AD.id, AD.name)]))


def test_a_jira_payload_renders_offline_without_jira_settings() -> None:
    template = RequestTemplate({"summary": "Access for $identity.label", "customfield_10050": "$plan.key"})
    settings = config(ticketing=TicketingSystemKind.JIRA, request_template=template)
    payload = render_ticket_payloads(PLAN, settings)[0]
    assert isinstance(payload, TableTicketPayload)
    assert payload.table == ""
    assert payload.fields == {"summary": "Access for Amos Cunningham", "customfield_10050": "wi-1"}


# --- catalog payloads ---------------------------------------------------------------------------------------------

SIM_TEMPLATE = RequestTemplate(
    {
        "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
        "employee_id": "#foreach($r in $plan.requests)$r.id #end",
        "req_short_description": "SailPoint New Access Request Created from IdentityNow",
        "req_description": "#foreach($r in $plan.requests)$r.resource;#end",
        "ritm_description": "#foreach($r in $plan.requests)$r.operation $r.resource;#end",
    }
)


def test_a_catalog_payload_orders_the_sources_catalog_item() -> None:
    (payload, _) = render_ticket_payloads(PLAN, config(request_template=SIM_TEMPLATE))
    assert isinstance(payload, CatalogTicketPayload)
    assert payload.kind == "catalog"
    assert payload.correlation_variable == "sim_correlation_id"
    (item,) = payload.items
    assert (item.source, item.catalog_item) == (AD, AD.catalog_item)
    assert item.variables == {
        "short_description": "SailPoint Access Request 0000001234",
        "employee_id": "amos amos.adm ",
        "sim_correlation_id": f"wi-1/source-{AD.id}",
    }
    assert item.item_fields == {"description": "Modify Active Directory;Modify Active Directory;"}
    assert payload.request_fields == {
        "short_description": "SailPoint New Access Request Created from IdentityNow",
        "description": "Active Directory;Active Directory;",
    }
    assert str(payload.correlation_key) == f"wi-1/source-{AD.id}"


def test_a_plan_wide_catalog_order_has_one_item_per_source_rendered_with_its_own_requests() -> None:
    (payload,) = render_ticket_payloads(PLAN, config(request_template=SIM_TEMPLATE, grouping=Grouping.PLAN))
    assert isinstance(payload, CatalogTicketPayload)
    assert [item.source for item in payload.items] == [AD, BADGE]
    assert payload.items[1].item_fields == {"description": "Disable badge system;"}
    assert payload.items[1].variables["employee_id"] == "amos.b "
    assert payload.request_fields["description"] == "Active Directory;badge system;Active Directory;"
    assert {item.variables["sim_correlation_id"] for item in payload.items} == {"wi-1/plan"}


def test_the_correlation_variable_name_is_configurable() -> None:
    payload = render_ticket_payloads(PLAN, config(correlation_variable="u_sim_key"))[0]
    assert isinstance(payload, CatalogTicketPayload)
    assert payload.items[0].variables["u_sim_key"] == f"wi-1/source-{AD.id}"


def test_the_default_catalog_template_fills_req_and_ritm_fields() -> None:
    payload = render_ticket_payloads(PLAN, config())[1]
    assert isinstance(payload, CatalogTicketPayload)
    assert payload.request_fields["short_description"] == "Disable account amos.b on badge system for Amos Cunningham"
    assert payload.items[0].item_fields["short_description"] == payload.request_fields["short_description"]
    assert "   - Disable the account" in payload.items[0].item_fields["description"]
    assert payload.items[0].variables == {"sim_correlation_id": f"wi-1/source-{BADGE.id}"}


def test_a_catalog_ticket_needs_the_sources_catalog_item() -> None:
    settings = IntegrationConfig(sources=[AD, ManagedSource(BADGE.id, BADGE.name)])
    with pytest.raises(ConfigError, match=f"sources.{BADGE.id}.catalog_item: required for catalog tickets"):
        render_ticket_payloads(PLAN, settings)
