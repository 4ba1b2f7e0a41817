"""IntegrationConfig with Jira Service Management as the ticketing system: the [jira] section, its validation,
readiness of the selected system only, ServiceNow-only settings, defaults and round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim_servicenow.errors import ConfigError, ValidationProblem
from sim_servicenow.mapping import (
    IdentityNowSettings,
    IntegrationConfig,
    JiraAuthType,
    JiraCorrelationField,
    JiraDeployment,
    JiraSettings,
    ManagedSource,
    ProvisioningStatus,
    RequestTemplate,
    Secret,
    ServiceNowSettings,
    StatusMap,
    TicketingSystemKind,
    TicketType,
)

AD = "2c9180835d191a86015d28455b4a2329"
BADGE = "2c5680835d191a85765d28455b4a9823"
ENV = {"JIRA_API_TOKEN": "token-value", "ISC_CLIENT_SECRET": "isc-value"}

TOML = f"""
name = "Access requests in Jira"
ticketing = "jira"

[jira]
url = "https://acme.atlassian.net"
deployment = "cloud"
auth = "basic"
username = "sim-bot@acme.com"
api_token = {{ env = "JIRA_API_TOKEN" }}
service_desk_id = "4"
request_type_id = "27"
correlation_field = "labels"
correlation_label_prefix = "acme-sim-"
public_comments = true
batch_size = 25
page_size = 50

[jira.field_map]
short_description = "summary"
cost_centre = "customfield_10050"

[identitynow]
url = "https://acme.api.identitynow.com"
client_id = "b61429f5203d494c94c304f54e17bc5c"
client_secret = {{ env = "ISC_CLIENT_SECRET" }}

[ticket]
grouping = "plan"

[sources.{AD}]
name = "Active Directory"

[sources.{BADGE}]
name = "Badge System"
"""


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in error.value.problems}


def jira(**overrides: Any) -> JiraSettings:
    values: dict[str, Any] = {"url": "https://acme.atlassian.net", "service_desk_id": "4", "request_type_id": "27"}
    values.update(overrides)
    return JiraSettings(**values)


# --- the [jira] section -----------------------------------------------------------------------------------------------


def test_a_jira_toml_file_gives_every_setting_and_is_ready() -> None:
    config = IntegrationConfig.from_toml(TOML, environ=ENV)
    assert config.ticketing is TicketingSystemKind.JIRA
    assert config.jira == JiraSettings(
        "https://acme.atlassian.net",
        "4",
        "27",
        JiraDeployment.CLOUD,
        JiraAuthType.BASIC,
        "sim-bot@acme.com",
        api_token=Secret(value="token-value", env="JIRA_API_TOKEN"),
        correlation_field=JiraCorrelationField.LABELS,
        correlation_label_prefix="acme-sim-",
        field_map={"short_description": "summary", "cost_centre": "customfield_10050"},
        public_comments=True,
        batch_size=25,
        page_size=50,
    )
    # Neither ServiceNow nor catalog items are needed to run.
    assert config.servicenow is None
    assert config.sources == (ManagedSource(AD, "Active Directory"), ManagedSource(BADGE, "Badge System"))
    assert config.ready_problems() == ()
    config.ensure_ready()


def test_jira_defaults_table_shaped_tickets_and_the_jira_status_map() -> None:
    config = IntegrationConfig.from_toml('ticketing = "jira"\n')
    assert config.jira is None
    assert (config.ticket_type, config.table) == (TicketType.TABLE, None)
    assert config.request_template == RequestTemplate.default(TicketType.TABLE)
    assert config.status_map == StatusMap.jira()
    assert config.item_status_map is None
    direct = IntegrationConfig(ticketing=TicketingSystemKind.JIRA)
    assert direct == config


def test_jira_settings_defaults_match_the_adapter() -> None:
    settings = jira()
    assert (settings.deployment, settings.auth, settings.correlation_field) == (
        JiraDeployment.CLOUD,
        JiraAuthType.BASIC,
        JiraCorrelationField.DESCRIPTION,
    )
    assert settings.field_map == {"short_description": "summary"}
    assert (settings.correlation_label_prefix, settings.public_comments) == ("sim-corr-", False)
    assert (settings.batch_size, settings.page_size) == (50, 100)


def test_ids_may_be_written_as_numbers() -> None:
    config = IntegrationConfig.from_toml(
        'ticketing = "jira"\n[jira]\nurl = "https://a.atlassian.net"\nservice_desk_id = 4\nrequest_type_id = 27\n'
    )
    assert config.jira is not None
    assert (config.jira.service_desk_id, config.jira.request_type_id) == ("4", "27")


def test_an_unknown_ticketing_system_is_a_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml('ticketing = "remedy"\n')
    assert problems_of(caught) == {"ticketing": "'remedy' is not one of servicenow, jira"}


def test_the_required_jira_settings_are_reported_with_their_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml('ticketing = "jira"\n[jira]\nusername = "sim-bot@acme.com"\n')
    assert problems_of(caught) == {
        "jira.url": "required",
        "jira.service_desk_id": "required",
        "jira.request_type_id": "required",
    }


def test_every_jira_problem_is_reported_at_once() -> None:
    text = """
ticketing = "jira"
[jira]
url = "ftp://acme.atlassian.net"
service_desk_id = " "
request_type_id = true
deployment = "server"
auth = "kerberos"
api_token = { value = "inline-token" }
correlation_field = "summary"
correlation_label_prefix = "has space"
public_comments = "yes"
batch_size = 0
page_size = "many"
colour = "blue"
[jira.field_map]
summary = 3
"""
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml(text)
    assert problems_of(caught) == {
        "jira.colour": "unknown setting",
        "jira.service_desk_id": "must not be empty",
        "jira.request_type_id": "expected text, got a boolean",
        "jira.deployment": "'server' is not one of cloud, data_center",
        "jira.auth": "'kerberos' is not one of basic, bearer",
        "jira.api_token": 'expected {env = "VARIABLE_NAME"} (or the value as text)',
        "jira.correlation_field": "'summary' is not one of description, labels",
        "jira.field_map.summary": "expected text, got the number 3",
        "jira.public_comments": "expected true or false, got text 'yes'",
        "jira.batch_size": "must be at least 1, got 0",
        "jira.page_size": "expected a whole number, got text 'many'",
    }
    assert "inline-token" not in str(caught.value)


def test_settings_the_adapter_would_refuse_are_refused_when_loading() -> None:
    text = """
ticketing = "jira"
[jira]
url = "ftp://acme.atlassian.net"
service_desk_id = "4"
request_type_id = "27"
auth = "bearer"
correlation_label_prefix = "has space"
"""
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml(text)
    assert problems_of(caught) == {
        "jira.url": "'ftp://acme.atlassian.net' is not an http(s) URL",
        "jira.correlation_label_prefix": "must be 1-100 characters without spaces",
        "jira.auth": "Jira Cloud takes an e-mail address and API token (basic), not a bearer token",
    }


def test_direct_construction_validates_the_jira_settings_too() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig(
            ticketing=TicketingSystemKind.JIRA, jira=jira(service_desk_id="", batch_size=0, page_size=True)
        )
    assert problems_of(caught) == {
        "jira.service_desk_id": "must not be empty",
        "jira.batch_size": "must be an integer >= 1, got 0",
        "jira.page_size": "must be an integer >= 1, got True",
    }


# --- what only ServiceNow uses ----------------------------------------------------------------------------------------


def test_servicenow_ticket_shapes_contradict_jira() -> None:
    text = """
ticketing = "jira"
[ticket]
table = "incident"
[status]
field = "request_state"
[status.map]
closed_complete = "Committed"
[status.item_map]
"3" = "Committed"
[request]
req_short_description = "Access for $identity.label"
description = "fine"
"""
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml(text)
    assert problems_of(caught) == {
        "ticket.table": "only used when ticketing is 'servicenow'",
        "status.item_map": "only used when ticketing is 'servicenow'",
        "status.field": "Jira statuses are read from 'statusCategory' or 'status', not 'request_state'",
        "request.req_short_description": "req_ and ritm_ keys fill ServiceNow records; Jira takes plain keys",
    }
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_toml('ticketing = "jira"\n[ticket]\ntype = "catalog"\n')
    assert problems_of(caught) == {"ticket.type": "only used when ticketing is 'servicenow'"}


def test_a_jira_status_map_by_status_name_with_resolutions() -> None:
    config = IntegrationConfig.from_toml(
        'ticketing = "jira"\n[status]\nfield = "status"\n'
        '[status.map]\n"Waiting for support" = "Queued"\nResolved = "Committed"\n'
        '[status.close_codes]\n"Won\'t Do" = "Failed"\n'
    )
    assert config.status_map.field == "status"
    assert config.status_map.lookup("Resolved").status is ProvisioningStatus.COMMITTED
    assert config.status_map.lookup("Resolved", close_code="Won't Do").status is ProvisioningStatus.FAILED
    # A status map without a field reads the status category, as the default does.
    category = IntegrationConfig.from_toml('ticketing = "jira"\n[status.map]\ndone = "Committed"\n')
    assert category.status_map.field == "statusCategory"


def test_catalog_and_servicenow_settings_may_stay_in_a_jira_configuration() -> None:
    # A team switching systems keeps its [servicenow] table and catalog items; they are not used.
    text = TOML + '\n[servicenow]\nurl = "https://x.service-now.com"\npassword = { env = "UNSET" }\n'
    text = text.replace('name = "Badge System"', 'name = "Badge System"\ncatalog_item = "' + "a" * 32 + '"')
    config = IntegrationConfig.from_toml(text, environ=ENV)
    assert config.ready_problems() == ()


# --- readiness: only the selected system ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployment", "auth", "needed"),
    [
        (JiraDeployment.CLOUD, JiraAuthType.BASIC, {"jira.username", "jira.api_token"}),
        (JiraDeployment.DATA_CENTER, JiraAuthType.BASIC, {"jira.username", "jira.password"}),
        (JiraDeployment.DATA_CENTER, JiraAuthType.BEARER, {"jira.personal_access_token"}),
    ],
)
def test_readiness_knows_what_each_jira_authentication_needs(
    deployment: JiraDeployment, auth: JiraAuthType, needed: set[str]
) -> None:
    config = IntegrationConfig(
        ticketing=TicketingSystemKind.JIRA,
        jira=jira(deployment=deployment, auth=auth),
        sources=[ManagedSource(AD)],
    )
    assert {p.path for p in config.ready_problems()} == needed


def test_an_unset_environment_variable_is_named() -> None:
    config = IntegrationConfig.from_toml(TOML, environ={"ISC_CLIENT_SECRET": "isc"})
    assert config.ready_problems() == (
        ValidationProblem("jira.api_token", "environment variable JIRA_API_TOKEN is not set"),
    )
    with pytest.raises(ConfigError, match=r"jira\.api_token: environment variable JIRA_API_TOKEN is not set"):
        config.ensure_ready()


def test_jira_without_its_section_is_not_ready_and_servicenow_is_not_asked_for() -> None:
    config = IntegrationConfig(ticketing=TicketingSystemKind.JIRA, sources=[ManagedSource(AD)])
    assert config.ready_problems() == (ValidationProblem("jira.url", "required to run"),)


def test_servicenow_readiness_ignores_jira_settings() -> None:
    config = IntegrationConfig(
        servicenow=ServiceNowSettings("https://x.service-now.com", username="u", password=Secret("p")),
        identitynow=IdentityNowSettings("https://acme.api.identitynow.com", "id", Secret("s")),
        jira=jira(),  # no secret: it would not be ready, but it is not selected
        sources=[ManagedSource(AD, catalog_item="a" * 32)],
    )
    assert config.ticketing is TicketingSystemKind.SERVICENOW
    assert config.ready_problems() == ()


# --- round trips and secrets ------------------------------------------------------------------------------------------


def test_a_jira_configuration_round_trips_with_secrets_as_references() -> None:
    config = IntegrationConfig.from_toml(TOML, environ=ENV)
    data = json.loads(json.dumps(config.to_dict()))
    assert IntegrationConfig.from_dict(data, environ=ENV) == config
    assert data["ticketing"] == "jira"
    assert data["jira"]["api_token"] == {"env": "JIRA_API_TOKEN"}
    assert "token-value" not in json.dumps(data)
    # ServiceNow's ticket shape is not written for Jira: a Jira ticket has one.
    assert data["ticket"] == {"grouping": "plan"}
    assert "item_map" not in data["status"]
    assert data["status"]["field"] == "statusCategory"


def test_every_jira_secret_is_written_as_a_reference_or_redacted() -> None:
    settings = jira(
        deployment=JiraDeployment.DATA_CENTER,
        auth=JiraAuthType.BEARER,
        api_token=Secret.from_env("JIRA_API_TOKEN", ENV),
        password=Secret(value="dc-password"),
        personal_access_token=Secret.from_env("JIRA_PAT", {"JIRA_PAT": "pat-value"}),
    )
    config = IntegrationConfig(ticketing=TicketingSystemKind.JIRA, jira=settings)
    data = config.to_dict()["jira"]
    assert (data["api_token"], data["password"], data["personal_access_token"]) == (
        {"env": "JIRA_API_TOKEN"},
        {"redacted": True},
        {"env": "JIRA_PAT"},
    )
    text = json.dumps(data) + repr(config)
    for value in ("token-value", "dc-password", "pat-value"):
        assert value not in text


def test_a_servicenow_configuration_writes_its_ticketing_system_and_reads_back_without_it() -> None:
    config = IntegrationConfig(sources=[ManagedSource(AD, catalog_item="a" * 32)])
    data = config.to_dict()
    assert data["ticketing"] == "servicenow"
    assert "jira" not in data
    del data["ticketing"]  # files written before the setting existed
    assert IntegrationConfig.from_dict(data) == config


def test_positional_construction_is_unchanged() -> None:
    config = IntegrationConfig("name", None, None, [ManagedSource(AD)], TicketType.TABLE, "incident")
    assert (config.ticketing, config.ticket_type, config.table) == (
        TicketingSystemKind.SERVICENOW,
        TicketType.TABLE,
        "incident",
    )


# --- the documentation's example --------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_documented_jira_toml_files_load_and_are_ready() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in text.split("```toml\n")[1:]]
    (cloud,) = [block for block in blocks if 'ticketing = "jira"' in block]
    (data_center,) = [block for block in blocks if block.startswith("[jira]") and "data_center" in block]
    environ = {"JIRA_API_TOKEN": "a", "JIRA_PAT": "b", "ISC_CLIENT_SECRET": "c"}
    config = IntegrationConfig.from_toml(cloud, environ=environ)
    assert config.ticketing is TicketingSystemKind.JIRA
    assert config.ready_problems() == ()
    # The Data Center example replaces the Cloud example's [jira] table.
    before, rest = cloud.split("[jira]\n")
    after = rest[rest.index("\n[") :]
    dc = IntegrationConfig.from_toml(before + data_center + after, environ=environ)
    assert dc.jira is not None
    assert (dc.jira.deployment, dc.jira.auth) == (JiraDeployment.DATA_CENTER, JiraAuthType.BEARER)
    assert dc.ready_problems() == ()
