"""IntegrationConfig: SailPoint SIM and SDIM definitions, TOML, one validation, secrets, round trips."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sim_servicenow.errors import ConfigError, ValidationProblem
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    ExpiryAction,
    Grouping,
    IdentityNowSettings,
    IntegrationConfig,
    ManagedSource,
    ProvisioningPlan,
    ProvisioningStatus,
    RequestTemplate,
    Secret,
    ServiceNowAuthType,
    ServiceNowSettings,
    StatusCheck,
    StatusMap,
    TicketFilter,
    TicketType,
)

SPECS = Path(os.environ.get("SIM_SERVICENOW_SAILPOINT_SPECS", "/work/shared/specs/sailpoint"))
AD = "2c9180835d191a86015d28455b4a2329"
BADGE = "2c5680835d191a85765d28455b4a9823"
ITEM_AD = "0" * 31 + "a"
ITEM_BADGE = "0" * 31 + "b"
PLAN = ProvisioningPlan(
    "p1",
    arguments={"identityRequestId": "0000001234"},
    account_requests=[AccountRequest(AccountOperation.CREATE, AD, "AD")],
)


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in error.value.problems}


def spec_sim_example() -> dict[str, Any]:
    """SailPoint's SimIntegrationDetails example, assembled from its property examples, unchanged."""
    document = json.loads((SPECS / "isc-beta-sim-subset.json").read_text())
    schema = document["components"]["schemas"]["SimIntegrationDetails"]
    properties: dict[str, Any] = {}
    for part in schema["allOf"]:
        resolved = part if "properties" in part else document["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]
        properties |= resolved["properties"]
    return {name: prop["example"] for name, prop in properties.items() if "example" in prop}


# The example of identitynow-sim.md section 1.4.
REFERENCE_SIM_EXAMPLE: dict[str, Any] = {
    "name": "ServiceNow SIM",
    "type": "ServiceNow Service Desk",
    "statusMap": {
        "requested": "Queued",
        "in_process": "Queued",
        "closed_complete": "Committed",
        "closed_incomplete": "Failed",
        "closed_cancelled": "Failed",
        "closed_rejected": "Failed",
    },
    "request": {
        "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
        "description": "SailPoint Access Request",
        "req_short_description": "SailPoint New Access Request Created from IdentityNow",
        "req_description": "The Service Request created by SailPoint ServiceNow Service Integration Module (SIM).",
    },
}


# --- SailPoint SIM definitions ------------------------------------------------------------------------------------


def test_sailpoints_spec_example_loads_and_renders_unchanged() -> None:
    example = spec_sim_example()
    assert example["request"]["short_description"] == "SailPoint Access Request $!plan.arguments.identityRequestId"
    config = IntegrationConfig.from_sim_integration(example)
    assert config.request_template.fields == example["request"]
    assert config.request_template.render(PLAN)["short_description"] == "SailPoint Access Request 0000001234"
    assert config.status_map.to_mapping() == example["statusMap"]
    assert config.status_map.field == "request_state"
    assert [s.id for s in config.sources] == example["sources"]
    assert (config.name, config.description, config.cluster) == ("aName", "Integration description", "xyzzy999")
    assert config.ticket_type is TicketType.CATALOG


def test_the_reference_example_loads_and_renders_unchanged() -> None:
    config = IntegrationConfig.from_sim_integration(REFERENCE_SIM_EXAMPLE)
    rendered = config.request_template.render(PLAN)
    assert rendered["short_description"] == "SailPoint Access Request 0000001234"
    assert rendered["req_description"] == REFERENCE_SIM_EXAMPLE["request"]["req_description"]
    assert config.status_map.lookup("closed_complete").status is ProvisioningStatus.COMMITTED
    assert config.status_map.lookup("closed_rejected").status is ProvisioningStatus.FAILED


FULL_SIM: dict[str, Any] = {
    "id": "62945a496ef440189b1f03e3623411c8",
    "name": "ServiceNow SIM",
    "description": "Tickets for disconnected apps",
    "type": "ServiceNow Service Desk",
    "created": "2023-01-03T21:16:22.432Z",
    "attributes": {
        "authType": "Basic",
        "username": "svc_sailpoint",
        "password": "hunter2-secret",
        "url": "https://example.service-now.com",
        "serviceNowAppName": "ServiceNow [source-42423]",
        "catalogItem": {AD: ITEM_AD, BADGE: ITEM_BADGE},
    },
    "sources": [AD, BADGE],
    "cluster": "2c9180887671ff8c01767b4671fc7d60",
    "statusMap": {"requested": "queued", "closed_complete": "COMMITTED", "closed_incomplete": "Failed"},
    "request": {
        "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
        "employee_id": "$plan.arguments.uid",
        "req_description": "Created by SIM",
    },
    "beforeProvisioningRule": {"type": "RULE", "id": "2c918085708c274401708c2a8a760001", "name": "Example Rule"},
}


def test_a_full_sim_definition_gives_a_ready_configuration() -> None:
    config = IntegrationConfig.from_sim_integration(FULL_SIM)
    assert config.servicenow == ServiceNowSettings(
        "https://example.service-now.com", ServiceNowAuthType.BASIC, "svc_sailpoint", Secret(value="hunter2-secret")
    )
    assert config.sources == (ManagedSource(AD, None, ITEM_AD), ManagedSource(BADGE, None, ITEM_BADGE))
    assert config.integration_id == "62945a496ef440189b1f03e3623411c8"
    assert config.before_provisioning_rule == "Example Rule"
    assert config.ready_problems() == ()
    config.ensure_ready()


def test_secrets_never_show_in_reprs_or_errors() -> None:
    config = IntegrationConfig.from_sim_integration(FULL_SIM)
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.servicenow)
    assert "hunter2" not in json.dumps(config.to_dict())
    broken = {**FULL_SIM, "statusMap": {"x": "nope"}, "attributes": {**FULL_SIM["attributes"], "authType": "Kerberos"}}
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(broken)
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(caught.value.problems)


def test_every_problem_of_a_sim_definition_is_reported_at_once_with_its_path() -> None:
    broken = {
        **FULL_SIM,
        "type": "Jira Service Desk",
        "attributes": {**FULL_SIM["attributes"], "authType": "OAuth2", "grantType": "IMPLICIT"},
        "sources": "not a list",
    }
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(broken)
    assert problems_of(caught) == {
        "type": (
            "'Jira Service Desk' is not a ServiceNow integration (ServiceNowSDIM, ServiceNow, ServiceNow Service Desk)"
        ),
        "attributes.grantType": "'IMPLICIT' is not one of PASSWORD, REFRESH_TOKEN, CLIENT_CREDENTIALS",
        "sources": "expected a list of source ids, got text 'not a list'",
    }


def test_value_problems_are_reported_in_the_definitions_own_terms() -> None:
    broken = {
        **FULL_SIM,
        "attributes": {**FULL_SIM["attributes"], "url": "ftp://example", "catalogItem": {AD: "not-a-sys-id"}},
        "statusMap": {"closed_complete": "Done", "requested": "Queued"},
        "request": {"short_description": "ok", "description": "broken #if($x"},
    }
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(broken)
    problems = problems_of(caught)
    assert problems["statusMap.closed_complete"] == "'Done' is not one of Queued, Committed, Failed, Retry"
    assert problems["statusMap"] == "at least one status value must map to Committed"
    assert problems["request.description"].startswith("line 1, column 14: expected )")
    assert problems["attributes.url"] == "'ftp://example' is not an http(s) URL"
    assert problems["attributes.catalogItem." + AD].startswith("'not-a-sys-id' is not a ServiceNow sys_id")
    assert len(problems) == 5
    assert "statusMap.closed_complete: 'Done' is not one of" in str(caught.value)


def test_consistency_problems_use_the_definitions_paths_too() -> None:
    broken = {**FULL_SIM, "attributes": {**FULL_SIM["attributes"], "url": "ftp://x", "catalogItem": {AD: "nope"}}}
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(broken)
    assert problems_of(caught) == {
        "attributes.catalogItem." + AD: "'nope' is not a ServiceNow sys_id (32 lowercase hexadecimal characters)",
        "attributes.url": "'ftp://x' is not an http(s) URL",
    }


def test_oauth_attributes_are_read() -> None:
    definition = {
        **REFERENCE_SIM_EXAMPLE,
        "attributes": {
            "url": "https://example.service-now.com",
            "authType": "OAuth2",
            "grantType": "REFRESH_TOKEN",
            "clientId": "abc",
            "clientSecret": "s3cret",
            "refreshToken": "r3fresh",
        },
    }
    servicenow = IntegrationConfig.from_sim_integration(definition).servicenow
    assert servicenow is not None
    assert servicenow.auth is ServiceNowAuthType.OAUTH2_REFRESH_TOKEN
    assert (servicenow.client_id, servicenow.effective_token_url) == (
        "abc",
        "https://example.service-now.com/oauth_token.do",
    )
    assert servicenow.refresh_token == Secret(value="r3fresh")


def test_sdk_sample_string_forms_are_read() -> None:
    definition = {
        **REFERENCE_SIM_EXAMPLE,
        "statusMap": "{closed_cancelled=Failed, closed_complete=Committed, requested=Queued}",
        "attributes": json.dumps({"url": "https://example.service-now.com"}),
    }
    config = IntegrationConfig.from_sim_integration(definition)
    assert config.status_map.to_mapping() == {
        "closed_cancelled": "Failed",
        "closed_complete": "Committed",
        "requested": "Queued",
    }
    assert config.servicenow is not None


def test_ticket_type_attribute() -> None:
    definition = {**REFERENCE_SIM_EXAMPLE, "attributes": {"ticketType": "incident"}}
    del definition["statusMap"]
    config = IntegrationConfig.from_sim_integration(definition)
    assert (config.ticket_type, config.table) == (TicketType.TABLE, "incident")
    assert config.status_map == StatusMap.incident()
    assert config.item_status_map is None


def test_overrides_add_our_own_settings_and_secrets_from_the_environment() -> None:
    config = IntegrationConfig.from_sim_integration(
        FULL_SIM,
        overrides={
            "ticket": {"grouping": "plan"},
            "servicenow": {"password": {"env": "SN_PASSWORD"}},
            "request": {"short_description": "Overridden $!plan.key"},
            "status": {"check_interval_minutes": 15},
        },
        environ={"SN_PASSWORD": "from-env"},
    )
    assert config.grouping is Grouping.PLAN
    assert config.servicenow is not None
    assert config.servicenow.password == Secret(value="from-env", env="SN_PASSWORD")
    assert config.servicenow.username == "svc_sailpoint"
    assert config.request_template.fields["short_description"] == "Overridden $!plan.key"
    assert config.request_template.fields["employee_id"] == "$plan.arguments.uid"  # merged, not replaced
    assert config.status_check.interval == dt.timedelta(minutes=15)


def test_problems_in_overrides_are_reported_with_our_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(
            FULL_SIM, overrides={"servicenow": {"url": "nope"}, "ticket": {"grouping": "team"}}
        )
    assert problems_of(caught) == {
        "servicenow.url": "'nope' is not an http(s) URL",
        "ticket.grouping": "'team' is not one of plan, source, account_request",
    }


# --- SDIM definitions -----------------------------------------------------------------------------------------------

SDIM: dict[str, Any] = {
    "id": "62945a496ef440189b1f03e3623411c8",
    "name": "ServiceNow - Disconnected Apps",
    "description": "Tickets for manual provisioning",
    "type": "ServiceNowSDIM",
    "ownerRef": {"type": "IDENTITY", "id": "2c9180a46faadee4016fb4e018c20639", "name": "SailPoint Services"},
    "clusterRef": {"type": "CLUSTER", "id": "2c9180847a7fccdd017aa5896f9f4f6f", "name": "Prod VA"},
    "provisioningConfig": {
        "universalManager": False,
        "managedResourceRefs": [{"type": "SOURCE", "id": "2c9180855d191c59015d291ceb051111", "name": "Badge System"}],
        "noProvisioningRequests": False,
        "provisioningRequestExpiration": 7,
    },
    "attributes": {"url": "https://example.service-now.com", "username": "svc_sailpoint", "password": "***"},
    "beforeProvisioningRule": None,
    "cluster": None,
    "managedSources": ["2c9180855d191c59015d291ceb051111"],
}


def test_a_service_desk_integration_loads() -> None:
    config = IntegrationConfig.from_service_desk_integration(SDIM)
    assert config.sources == (ManagedSource("2c9180855d191c59015d291ceb051111", "Badge System"),)
    assert config.cluster == "2c9180847a7fccdd017aa5896f9f4f6f"
    assert config.servicenow is not None
    assert config.servicenow.username == "svc_sailpoint"
    assert config.status_map == StatusMap.sc_request()


def test_the_sdim_spec_example_loads() -> None:
    document = json.loads((SPECS / "isc-v3-subset.json").read_text())
    properties = document["components"]["schemas"]["ServiceDeskIntegrationDto"]["allOf"][0]["properties"]
    example = {name: prop["example"] for name, prop in properties.items() if "example" in prop}
    example["provisioningConfig"] = {
        "managedResourceRefs": document["components"]["schemas"]["ProvisioningConfig"]["properties"][
            "managedResourceRefs"
        ]["example"]
    }
    config = IntegrationConfig.from_service_desk_integration(example)
    assert [s.name for s in config.sources][-2:] == ["My Source 1", "My Source 2"]


def test_sdim_problems_are_reported_with_their_paths() -> None:
    broken = {
        **SDIM,
        "type": "Jira",
        "provisioningConfig": {"universalManager": True, "managedResourceRefs": [{"id": 3}, "x"]},
        "attributes": {"statusMap": {"closed_complete": "Maybe"}},
    }
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_service_desk_integration(broken)
    problems = problems_of(caught)
    assert set(problems) == {
        "type",
        "provisioningConfig.universalManager",
        "provisioningConfig.managedResourceRefs[0].id",
        "provisioningConfig.managedResourceRefs[1]",
    }


def test_a_definition_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object, got a list"):
        IntegrationConfig.from_sim_integration([])  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration({"name": {"first": "x"}, "description": 3.5})
    assert problems_of(caught) == {"name": "expected text, got dict"}


# --- TOML -----------------------------------------------------------------------------------------------------------

TOML = f"""
name = "Disconnected apps"
store_url = "sqlite:///var/lib/sim/state.db"
forward_failed_to = "2c9180a46faadee4016fb4e018c20639"

[servicenow]
url = "https://example.service-now.com"
auth = "oauth2_password"
username = "svc_sailpoint"
password = {{ env = "SN_PASSWORD" }}
client_id = "3e57bb02663102004d010ee8f561307a"
client_secret = {{ env = "SN_CLIENT_SECRET" }}

[identitynow]
url = "https://acme.api.identitynow.com"
client_id = "b61429f5-203d-494c-94c3-04f54e17bc5c"
client_secret = {{ env = "ISC_CLIENT_SECRET" }}

[ticket]
type = "catalog"
grouping = "account_request"
correlation_variable = "u_correlation"

[sources.{AD}]
name = "Active Directory"
catalog_item = "{ITEM_AD}"

[sources.{BADGE}]
name = "Badge System"
catalog_item = "{ITEM_BADGE}"

[request]
req_short_description = "Access change for $identity.label"
ritm_description = "#foreach($r in $plan.requests)$r.operation $r.resource #end"
employee_id = "$!plan.arguments.uid"

[status]
check_interval_minutes = 60
max_check_days = 5
expiry_action = "report"
retry_limit = 2

[status.map]
requested = "Queued"
in_process = "Queued"
closed_complete = "Committed"
closed_incomplete = "Failed"
closed_cancelled = "Failed"

[status.item_map]
"1" = "Queued"
"2" = "Queued"
"3" = "Committed"
"4" = "Failed"
"7" = "Failed"

[render]
strict = true
max_output_chars = 4000

[filters]
operations = ["Create", "Modify", "Delete", "Disable", "Enable"]
ignored_attributes = ["lastLogin"]
"""

ENV = {"SN_PASSWORD": "pw", "SN_CLIENT_SECRET": "cs", "ISC_CLIENT_SECRET": "isc"}


def test_a_toml_file_gives_every_setting(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(TOML)
    config = IntegrationConfig.from_toml_file(path, environ=ENV)
    assert config.name == "Disconnected apps"
    assert config.servicenow == ServiceNowSettings(
        "https://example.service-now.com",
        ServiceNowAuthType.OAUTH2_PASSWORD,
        "svc_sailpoint",
        Secret(value="pw", env="SN_PASSWORD"),
        "3e57bb02663102004d010ee8f561307a",
        Secret(value="cs", env="SN_CLIENT_SECRET"),
    )
    assert config.identitynow == IdentityNowSettings(
        "https://acme.api.identitynow.com",
        "b61429f5-203d-494c-94c3-04f54e17bc5c",
        Secret(value="isc", env="ISC_CLIENT_SECRET"),
    )
    assert config.identitynow.effective_token_url == "https://acme.api.identitynow.com/oauth/token"
    assert (config.ticket_type, config.grouping, config.correlation_variable) == (
        TicketType.CATALOG,
        Grouping.ACCOUNT_REQUEST,
        "u_correlation",
    )
    assert config.sources == (
        ManagedSource(AD, "Active Directory", ITEM_AD),
        ManagedSource(BADGE, "Badge System", ITEM_BADGE),
    )
    assert config.request_template.strict
    assert config.request_template.limits.max_output_chars == 4000
    assert config.status_map.field == "request_state"
    assert config.status_check == StatusCheck(dt.timedelta(hours=1), 5)
    assert (config.expiry_action, config.retry_limit) == (ExpiryAction.REPORT, 2)
    assert config.item_status_map == StatusMap(
        {"1": "Queued", "2": "Queued", "3": "Committed", "4": "Failed", "7": "Failed"}
    )
    assert config.filters == TicketFilter(
        frozenset(AccountOperation) - {AccountOperation.UNLOCK, AccountOperation.LOCK}, frozenset({"lastLogin"})
    )
    assert (config.store_url, config.forward_failed_to) == (
        "sqlite:///var/lib/sim/state.db",
        "2c9180a46faadee4016fb4e018c20639",
    )
    assert config.ready_problems() == ()


def test_missing_environment_variables_load_but_are_not_ready() -> None:
    config = IntegrationConfig.from_toml(TOML, environ={"SN_PASSWORD": "pw"})
    assert config.ready_problems() == (
        ValidationProblem("servicenow.client_secret", "environment variable SN_CLIENT_SECRET is not set"),
        ValidationProblem("identitynow.client_secret", "environment variable ISC_CLIENT_SECRET is not set"),
    )
    with pytest.raises(ConfigError, match="SN_CLIENT_SECRET is not set"):
        config.ensure_ready()
    assert config.servicenow is not None
    assert config.servicenow.client_secret is not None
    with pytest.raises(ConfigError, match="environment variable SN_CLIENT_SECRET is not set"):
        config.servicenow.client_secret.reveal()


def test_every_toml_problem_is_reported_at_once() -> None:
    text = """
name = 3
colour = "blue"
[servicenow]
url = "https://x.service-now.com"
password = { value = "inline" }
auth = "kerberos"
[ticket]
type = "catalog"
table = "incident"
grouping = "team"
[sources.abc]
catalog_item = 5
[status]
check_interval_minutes = -1
retry_limit = "many"
[status.map]
closed_complete = "Done"
[render]
max_steps = 0
[filters]
operations = ["Create", "Frob"]
[request]
short_description = "#if($x"
"""
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml(text)
    assert problems_of(caught) == {
        "name": "expected text, got the number 3",
        "colour": "unknown setting",
        "servicenow.password": 'expected {env = "VARIABLE_NAME"} (or the value as text)',
        "servicenow.auth": (
            "'kerberos' is not one of basic, oauth2_password, oauth2_refresh_token, oauth2_client_credentials"
        ),
        "ticket.table": "only used when ticket.type is 'table'",
        "ticket.grouping": "'team' is not one of plan, source, account_request",
        "sources.abc.catalog_item": "expected text, got the number 5",
        "status.check_interval_minutes": "expected a positive number, got the number -1",
        "status.retry_limit": "expected a whole number, got text 'many'",
        "status.map.closed_complete": "'Done' is not one of Queued, Committed, Failed, Retry",
        "status.map": "at least one status value must map to Committed",
        "render.max_steps": "must be at least 1, got 0",
        "filters.operations[1]": "'Frob' is not one of Create, Modify, Delete, Enable, Disable, Unlock, Lock",
        "request.short_description": "line 1, column 7: expected ) in parenthesized expression, got: ...",
    }
    assert "inline" not in str(caught.value)


def test_invalid_toml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        IntegrationConfig.from_toml("name = ")


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        IntegrationConfig.from_toml_file(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("ticket", "table", "status_field", "committed"),
    [
        ('type = "incident"', "incident", "state", "6"),
        ('type = "table"\ntable = "sc_request"', "sc_request", "request_state", "closed_complete"),
        ('table = "u_access_request"', "u_access_request", "state", "3"),
    ],
)
def test_table_tickets(ticket: str, table: str, status_field: str, committed: str) -> None:
    config = IntegrationConfig.from_toml(f"[ticket]\n{ticket}\n")
    assert (config.ticket_type, config.table) == (TicketType.TABLE, table)
    assert config.status_map.field == status_field
    assert config.status_map.lookup(committed).status is ProvisioningStatus.COMMITTED
    assert config.item_status_map is None
    assert set(config.request_template.fields) == {"short_description", "description"}


def test_a_table_ticket_needs_a_table() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml('[ticket]\ntype = "table"\n')
    assert problems_of(caught) == {"ticket.table": "required when ticket.type is 'table'"}


def test_item_tracking_can_be_switched_off_and_close_codes_set() -> None:
    config = IntegrationConfig.from_toml(
        '[ticket]\ntype = "incident"\n[status]\nitem_map = false\n'
        '[status.map]\n"6" = "Committed"\n"2" = "Queued"\n[status.close_codes]\n"Not Solved" = "Failed"\n'
    )
    assert config.item_status_map is None
    assert config.status_map.lookup("6", close_code="Not Solved").status is ProvisioningStatus.FAILED


# --- direct construction ----------------------------------------------------------------------------------------


def test_direct_construction_is_validated_with_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig(
            ticket_type=TicketType.TABLE,
            table="Bad Table",
            sources=[ManagedSource("a"), ManagedSource("A", catalog_item="x"), ManagedSource("s/1")],
            correlation_variable="not valid",
            retry_limit=-1,
            store_url="state.db",
            status_check=StatusCheck(dt.timedelta(0), 0),
        )
    assert problems_of(caught) == {
        "ticket.table": "'Bad Table' is not a ServiceNow table name",
        "ticket.correlation_variable": "'not valid' is not a catalog variable name",
        "sources.A": "listed twice",
        "sources.s/1": "a source id must not contain '/', '#' or spaces",
        "sources.A.catalog_item": "'x' is not a ServiceNow sys_id (32 lowercase hexadecimal characters)",
        "status.retry_limit": "must not be negative, got -1",
        "status.check_interval_minutes": "must be positive",
        "status.max_check_days": "must be positive",
        "store_url": "'state.db' is not a URL (e.g. sqlite:///state.db)",
    }


def test_defaults() -> None:
    config = IntegrationConfig()
    assert config.ticket_type is TicketType.CATALOG
    assert config.grouping is Grouping.SOURCE
    assert config.request_template == RequestTemplate.default(TicketType.CATALOG)
    assert config.status_map == StatusMap.sc_request()
    assert config.item_status_map == StatusMap.task()
    assert config.status_check == StatusCheck(dt.timedelta(minutes=30), 2)
    assert config.expiry_action is ExpiryAction.FAIL
    assert config.store_url == "sqlite:///sim-servicenow.db"
    assert config.ready_problems() == (
        ValidationProblem("servicenow.url", "required to run"),
        ValidationProblem("sources", "no managed sources: nothing would become a ticket"),
    )


@pytest.mark.parametrize(
    ("auth", "missing"),
    [
        (ServiceNowAuthType.BASIC, {"servicenow.username", "servicenow.password"}),
        (
            ServiceNowAuthType.OAUTH2_PASSWORD,
            {"servicenow.username", "servicenow.password", "servicenow.client_id", "servicenow.client_secret"},
        ),
        (
            ServiceNowAuthType.OAUTH2_REFRESH_TOKEN,
            {"servicenow.client_id", "servicenow.client_secret", "servicenow.refresh_token"},
        ),
        (ServiceNowAuthType.OAUTH2_CLIENT_CREDENTIALS, {"servicenow.client_id", "servicenow.client_secret"}),
    ],
)
def test_readiness_knows_what_each_authentication_needs(auth: ServiceNowAuthType, missing: set[str]) -> None:
    config = IntegrationConfig(
        servicenow=ServiceNowSettings("https://x.service-now.com", auth),
        sources=[ManagedSource(AD, catalog_item=ITEM_AD)],
    )
    assert {p.path for p in config.ready_problems()} == missing


def test_managed_sources_match_by_id_then_by_name() -> None:
    config = IntegrationConfig(sources=[ManagedSource(AD, "Active Directory"), ManagedSource(BADGE)])
    assert config.managed_source(AccountRequest(AccountOperation.CREATE, AD.upper())) == ManagedSource(
        AD, "Active Directory"
    )
    assert config.managed_source(AccountRequest(AccountOperation.CREATE, None, "active directory")) == ManagedSource(
        AD, "Active Directory"
    )
    assert config.managed_source(AccountRequest(AccountOperation.CREATE, "other", "Other")) is None
    # An id is authoritative: a request on another source with the same name is not managed.
    assert config.managed_source(AccountRequest(AccountOperation.CREATE, "other", "Active Directory")) is None
    assert config.managed_source(AccountRequest(AccountOperation.CREATE)) is None


def test_status_check_from_identitynow_accepts_strings() -> None:
    details = {"provisioningStatusCheckIntervalMinutes": "30", "provisioningMaxStatusCheckDays": "2"}
    assert StatusCheck.from_identitynow(details) == StatusCheck(dt.timedelta(minutes=30), 2)
    assert StatusCheck.from_identitynow(
        {"provisioningStatusCheckIntervalMinutes": 10, "provisioningMaxStatusCheckDays": 1}
    ).max_age == dt.timedelta(days=1)
    with pytest.raises(ConfigError) as caught:
        StatusCheck.from_identitynow({"provisioningStatusCheckIntervalMinutes": "soon"})
    assert problems_of(caught) == {
        "provisioningStatusCheckIntervalMinutes": "expected a whole number, got text 'soon'",
        "provisioningMaxStatusCheckDays": "expected a whole number, got nothing",
    }


# --- secrets and round trips ----------------------------------------------------------------------------------------


def test_secret_reprs_are_masked() -> None:
    assert repr(Secret(value="x")) == "Secret('********')"
    assert str(Secret(value="x")) == "********"
    assert repr(Secret.from_env("SN_PASSWORD", {"SN_PASSWORD": "x"})) == "Secret(env='SN_PASSWORD')"
    assert repr(Secret.from_env("SN_PASSWORD", {})) == "Secret(env='SN_PASSWORD', unset)"
    assert Secret(value="x").reveal() == "x"
    assert f"{Secret(value='x')}" == "********"


def test_to_dict_writes_references_never_values() -> None:
    config = IntegrationConfig.from_toml(TOML, environ=ENV)
    data = config.to_dict()
    assert data["servicenow"]["password"] == {"env": "SN_PASSWORD"}
    assert "pw" not in json.dumps(data).replace("password", "")
    inline = IntegrationConfig(
        servicenow=ServiceNowSettings("https://x.service-now.com", password=Secret(value="s3cr3t"))
    )
    assert inline.to_dict()["servicenow"]["password"] == {"redacted": True}
    assert "s3cr3t" not in json.dumps(inline.to_dict())


def test_toml_config_round_trips_through_json() -> None:
    config = IntegrationConfig.from_toml(TOML, environ=ENV)
    assert IntegrationConfig.from_dict(json.loads(json.dumps(config.to_dict())), environ=ENV) == config


def test_sim_config_round_trips_through_json() -> None:
    config = IntegrationConfig.from_sim_integration(
        FULL_SIM, overrides={"servicenow": {"password": {"env": "P"}}}, environ={"P": "x"}
    )
    assert IntegrationConfig.from_dict(json.loads(json.dumps(config.to_dict())), environ={"P": "x"}) == config


# --- the documentation's examples -----------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_documented_toml_file_loads_and_is_ready() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    example = text.split("```toml\n")[2].split("```")[0]  # the first block is the one-line secret example
    config = IntegrationConfig.from_toml(
        example, environ={"SN_PASSWORD": "a", "SN_CLIENT_SECRET": "b", "ISC_CLIENT_SECRET": "c"}
    )
    assert config.ready_problems() == ()
    assert config.status_map == StatusMap.sc_request()
    assert config.item_status_map == StatusMap.task()
    assert config.request_template.render(PLAN)["req_description"] == "IdentityNow access request 0000001234"


def test_the_documented_problem_messages_are_what_the_library_says() -> None:
    broken = {
        **FULL_SIM,
        "attributes": {**FULL_SIM["attributes"], "url": "ftp://example"},
        "statusMap": {"closed_complete": "Done", "requested": "Queued"},
        "request": {"short_description": "ok", "description": "broken #if($x"},
    }
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_sim_integration(broken)
    documented = " ".join((DOCS / "configuration.md").read_text(encoding="utf-8").split())
    assert f"ConfigError: {caught.value}" in documented


def test_a_password_in_the_store_url_is_masked_in_the_repr() -> None:
    config = IntegrationConfig(store_url="postgresql://sim:s3cret-pw@db.example:5432/sim")
    assert "s3cret-pw" not in repr(config)
    assert "postgresql://sim:***@db.example:5432/sim" in repr(config)
    assert config.store_url.endswith("s3cret-pw@db.example:5432/sim")  # the value itself is intact
