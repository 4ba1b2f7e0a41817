"""Properties that must hold for any input: lenient rendering never raises on plan data, templates stay in their
sandbox, configurations and plans round-trip through JSON, grouping and correlation keys are stable."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.errors import TemplateError
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    CorrelationKey,
    ExpiryAction,
    Grouping,
    Identity,
    IdentityNowSettings,
    IntegrationConfig,
    JiraAuthType,
    JiraCorrelationField,
    JiraDeployment,
    JiraSettings,
    ManagedSource,
    ProvisioningPlan,
    RenderLimits,
    RequestTemplate,
    Secret,
    ServiceNowAuthType,
    ServiceNowSettings,
    StatusCheck,
    StatusMap,
    TicketFilter,
    TicketingSystemKind,
    TicketType,
    plan_ticket_groups,
    render_ticket_payloads,
)
from sim_servicenow.mapping._velocity import VelocityTemplate

SOURCE_IDS = ["a" * 32, "b" * 32]
SOURCES = [ManagedSource(SOURCE_IDS[0], "Active Directory", "1" * 32), ManagedSource(SOURCE_IDS[1], "Badge", "2" * 32)]

# --- plans -----------------------------------------------------------------------------------------------------------

texts = st.text(max_size=25)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8
)
attribute_values = st.one_of(st.none(), texts, st.lists(texts, max_size=4).map(tuple))
attribute_requests = st.builds(AttributeRequest, texts, st.sampled_from(AttributeOperation), attribute_values)
account_requests = st.builds(
    AccountRequest,
    st.sampled_from(AccountOperation),
    st.one_of(st.none(), st.sampled_from(SOURCE_IDS), texts),
    st.one_of(st.none(), st.sampled_from(["Active Directory", "badge"]), texts),
    st.one_of(st.none(), texts),
    st.one_of(st.none(), texts),
    st.lists(attribute_requests, max_size=4),
)
identities = st.builds(
    Identity,
    st.one_of(st.none(), texts),
    st.one_of(st.none(), texts),
    st.one_of(st.none(), texts),
    st.dictionaries(texts, json_values, max_size=3),
)
plans = st.builds(
    ProvisioningPlan,
    st.text(min_size=1, max_size=20),
    identities,
    st.dictionaries(texts, json_values, max_size=4),
    st.lists(account_requests, max_size=5),
)

SAILPOINT_TEMPLATE = RequestTemplate(
    {
        "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
        "description": "SailPoint Access Request",
        "req_short_description": "SailPoint New Access Request Created from IdentityNow",
        "employee_id": "$plan.arguments.uid",
        "generic": (
            "#foreach($req in $plan.requests)#if($req.operation == 'Create')Create on $req.resource#else"
            " For $req.id in $req.resource#end#foreach($item in $req.items) $item.Operation $item.name: $item.value"
            "#end#end"
        ),
    }
)
LENIENT_TEMPLATES = [RequestTemplate.default(), RequestTemplate.default(TicketType.CATALOG), SAILPOINT_TEMPLATE]


@given(plans)
def test_lenient_rendering_never_raises_on_plan_data(plan: ProvisioningPlan) -> None:
    for template in LENIENT_TEMPLATES:
        rendered = template.render(plan)
        assert set(rendered) == set(template.fields)
        assert all(isinstance(value, str) for value in rendered.values())


@given(plans, st.sampled_from(list(Grouping)), st.booleans())
def test_payloads_render_for_any_plan(plan: ProvisioningPlan, grouping: Grouping, catalog: bool) -> None:
    ticket = {} if catalog else {"ticket_type": TicketType.TABLE, "table": "incident"}
    config = IntegrationConfig(sources=SOURCES, grouping=grouping, **ticket)  # type: ignore[arg-type]
    payloads = render_ticket_payloads(plan, config)
    groups = plan_ticket_groups(plan, config)
    assert [p.group for p in payloads] == list(groups)
    assert len({str(p.correlation_key) for p in payloads}) == len(payloads)
    assert groups == plan_ticket_groups(ProvisioningPlan.from_json(plan.to_json()), config)


@given(plans)
def test_plan_json_round_trips(plan: ProvisioningPlan) -> None:
    assert ProvisioningPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


@given(
    st.text(min_size=1, max_size=30), st.sampled_from(["plan", "source-" + "a" * 32, "account-12"]), st.integers(1, 99)
)
def test_correlation_keys_round_trip(plan_key: str, group_id: str, attempt: int) -> None:
    key = CorrelationKey(plan_key, group_id, attempt)
    assert CorrelationKey.parse(str(key)) == key


# --- hostile templates -------------------------------------------------------------------------------------------

FRAGMENTS = [
    "$plan",
    "$!plan",
    "${plan",
    "}",
    ".",
    "__class__",
    "__mro__",
    "__subclasses__()",
    "__globals__",
    "keys()",
    "getClass()",
    "requests",
    "arguments",
    "[0]",
    "[1..5]",
    "(",
    ")",
    "'x'",
    '"$plan"',
    " ",
    "\n",
    "#set($a = ",
    "#foreach($i in ",
    "#end",
    "#if(",
    "#else",
    "#macro(m $p)",
    "#m($a)",
    "$a",
    "$i",
    " + ",
    " * ",
    " == ",
    "size()",
    "get(0)",
    "add($a)",
    "toString()",
    "format('{0}')",
    "$newline",
    "##",
    "#*",
    "*#",
    "1",
    "-1",
]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join))
def test_arbitrary_templates_only_ever_yield_text_or_a_template_error(source: str) -> None:
    context: dict[str, Any] = {"plan": {"requests": [{"a": 1}], "arguments": {"x": "y"}}, "newline": "\n"}
    limits = RenderLimits(max_steps=5_000, max_seconds=0.5)
    try:
        output = VelocityTemplate(source, field="f", limits=limits).render(context)
    except TemplateError as error:
        output, field = "", error.field
    else:
        field = "f"
    assert field == "f"
    for marker in ("<class", "<built-in", "<function", "<bound", "dict_keys", "object at 0x", "mappingproxy"):
        assert marker not in output


# --- configurations ----------------------------------------------------------------------------------------------

ENVIRON = {"SN_PASSWORD": "pw", "SN_SECRET": "cs"}  # SN_TOKEN is deliberately unset
secrets = st.sampled_from(["SN_PASSWORD", "SN_SECRET", "SN_TOKEN"]).map(lambda name: Secret.from_env(name, ENVIRON))
optional_texts = st.one_of(st.none(), texts)
hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
status_names = st.sampled_from(["Queued", "Committed", "Failed", "Retry"])
status_keys = st.text(min_size=1, max_size=12).filter(lambda key: key.strip() == key and key != "")


def status_maps(field: st.SearchStrategy[str], close_codes: bool) -> st.SearchStrategy[StatusMap]:
    entries = st.dictionaries(status_keys, status_names, max_size=6).map(lambda d: {**d, "done": "Committed"})
    codes = st.dictionaries(status_keys, status_names, max_size=3) if close_codes else st.just({})
    return st.builds(StatusMap, entries, field, codes)


servicenow_settings = st.builds(
    ServiceNowSettings,
    st.sampled_from(["https://example.service-now.com", "http://127.0.0.1:8080"]),
    st.sampled_from(ServiceNowAuthType),
    optional_texts,
    st.one_of(st.none(), secrets),
    optional_texts,
    st.one_of(st.none(), secrets),
    st.one_of(st.none(), secrets),
    st.one_of(st.none(), st.just("https://login.example.com/oauth_token.do")),
)
identitynow_settings = st.builds(
    IdentityNowSettings,
    st.just("https://acme.api.identitynow.com"),
    optional_texts,
    st.one_of(st.none(), secrets),
    st.none(),
)
managed_sources = st.lists(
    st.builds(ManagedSource, hex32, optional_texts, st.one_of(st.none(), hex32)),
    max_size=4,
    unique_by=lambda source: source.id,
)
limits = st.builds(
    RenderLimits,
    st.integers(1000, 10**6),
    *(st.integers(1, 10**6) for _ in range(5)),
    st.floats(min_value=0.001, max_value=60, allow_nan=False),
)
template_texts = st.one_of(
    st.sampled_from(list(SAILPOINT_TEMPLATE.fields.values())),
    st.text(st.characters(blacklist_characters="$#\\"), max_size=30),
)
templates = st.builds(RequestTemplate, st.dictionaries(identifiers, template_texts, max_size=4), st.booleans(), limits)


@st.composite
def jira_settings(draw: st.DrawFn) -> JiraSettings:
    deployment = draw(st.sampled_from(JiraDeployment))
    # Jira Cloud takes no bearer tokens: that combination is refused, not round-tripped.
    auths = [JiraAuthType.BASIC] if deployment is JiraDeployment.CLOUD else list(JiraAuthType)
    return JiraSettings(
        draw(st.sampled_from(["https://acme.atlassian.net", "https://jira.example.com/jira"])),
        draw(st.from_regex(r"[1-9][0-9]{0,4}", fullmatch=True)),
        draw(st.from_regex(r"[1-9][0-9]{0,4}", fullmatch=True)),
        deployment,
        draw(st.sampled_from(auths)),
        draw(optional_texts),
        draw(st.one_of(st.none(), secrets)),
        draw(st.one_of(st.none(), secrets)),
        draw(st.one_of(st.none(), secrets)),
        draw(st.sampled_from(JiraCorrelationField)),
        draw(st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True)),
        draw(st.dictionaries(identifiers, identifiers, max_size=3)),
        draw(st.booleans()),
        draw(st.integers(1, 1000)),
        draw(st.integers(1, 1000)),
    )


def _plain_keys(template: RequestTemplate) -> bool:
    return not any(key.startswith(("req_", "ritm_")) and key not in ("req_", "ritm_") for key in template.fields)


@st.composite
def configs(draw: st.DrawFn) -> IntegrationConfig:
    jira = draw(st.booleans())
    table_ticket = jira or draw(st.booleans())
    settings: dict[str, Any] = {
        "name": draw(texts),
        "servicenow": draw(st.one_of(st.none(), servicenow_settings)),
        "identitynow": draw(st.one_of(st.none(), identitynow_settings)),
        "jira": draw(st.one_of(st.none(), jira_settings())),
        "ticketing": TicketingSystemKind.JIRA if jira else TicketingSystemKind.SERVICENOW,
        "sources": draw(managed_sources),
        "ticket_type": TicketType.TABLE if table_ticket else TicketType.CATALOG,
        "table": draw(identifiers) if table_ticket and not jira else None,
        "grouping": draw(st.sampled_from(Grouping)),
        "correlation_variable": draw(identifiers),
        "filters": draw(
            st.builds(
                TicketFilter,
                st.frozensets(st.sampled_from(AccountOperation)),
                st.frozensets(texts, max_size=3),
                st.lists(texts, max_size=3).map(tuple),
            )
        ),
        "status_check": StatusCheck(dt.timedelta(seconds=draw(st.integers(1, 10**6))), draw(st.integers(1, 400))),
        "expiry_action": draw(st.sampled_from(ExpiryAction)),
        "retry_limit": draw(st.integers(0, 50)),
        "store_url": draw(st.sampled_from(["sqlite:///sim.db", "postgresql://db/sim", "sqlite:///:memory:"])),
        "forward_failed_to": draw(optional_texts),
        "integration_id": draw(optional_texts),
        "description": draw(optional_texts),
        "cluster": draw(optional_texts),
        "before_provisioning_rule": draw(optional_texts),
    }
    if draw(st.booleans()):
        settings["request_template"] = draw(templates.filter(_plain_keys) if jira else templates)
    status_fields = ["statusCategory", "status"] if jira else ["state", "request_state"]
    if draw(st.booleans()):
        settings["status_map"] = draw(status_maps(st.sampled_from(status_fields), close_codes=True))
    if not jira and draw(st.booleans()):
        settings["item_status_map"] = draw(st.one_of(st.none(), status_maps(st.just("state"), close_codes=False)))
    return IntegrationConfig(**settings)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_config_round_trips_through_json(config: IntegrationConfig) -> None:
    data = json.loads(json.dumps(config.to_dict()))
    assert IntegrationConfig.from_dict(data, environ=ENVIRON) == config
    for section, keys in (
        ("servicenow", ("password", "client_secret", "refresh_token")),
        ("identitynow", ("client_secret",)),
        ("jira", ("api_token", "password", "personal_access_token")),
    ):
        for key in keys:
            assert data.get(section, {}).get(key) in (
                None,
                {"env": "SN_PASSWORD"},
                {"env": "SN_SECRET"},
                {"env": "SN_TOKEN"},
            )
