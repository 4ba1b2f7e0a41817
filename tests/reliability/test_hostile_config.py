"""Configuration loading under hostile input: SailPoint SIM and SDIM definitions, our own format, TOML text.

A valid document is broken at a random place (a value replaced by one of another type, a huge or strange string,
a key removed, an unknown key added, several of these at once). Loading either succeeds or raises
:class:`ConfigError` listing each problem with a path into the document — never another exception, never a
secret in the message.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim_servicenow.errors import ConfigError, ValidationProblem
from sim_servicenow.mapping import IntegrationConfig, StatusCheck

from .conftest import attempt

SOURCE = "2c9180835d191a86015d28455b4a2329"
CATALOG_ITEM = "0" * 31 + "a"
#: Secret values in the documents; no message may ever show them.
SECRETS = ("pa55-word-never-shown", "client-secret-never-shown", "refresh-token-never-shown")

SIM: dict[str, Any] = {
    "id": "2c918085708c274401708c2a8a760001",
    "name": "ServiceNow SIM",
    "description": "Tickets for the disconnected sources",
    "type": "ServiceNow Service Desk",
    "attributes": {
        "authType": "OAuth2",
        "grantType": "PASSWORD",
        "url": "https://example.service-now.com",
        "username": "sailpoint.integration",
        "password": SECRETS[0],
        "clientId": "sailpoint",
        "clientSecret": SECRETS[1],
        "refreshToken": SECRETS[2],
        "catalogItem": {SOURCE: CATALOG_ITEM},
        "ticketType": "catalog",
    },
    "sources": [SOURCE],
    "cluster": "xyzzy999",
    "statusMap": {
        "requested": "Queued",
        "in_process": "Queued",
        "closed_complete": "Committed",
        "closed_incomplete": "Failed",
        "closed_cancelled": "Failed",
        "closed_rejected": "Failed",
    },
    "request": {
        "description": "SailPoint Access Request",
        "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
        "req_description": "The Service Request created by SailPoint ServiceNow Service Integration Module (SIM).",
        "req_short_description": "SailPoint New Access Request Created from IdentityNow",
    },
    "beforeProvisioningRule": {"type": "RULE", "id": "2c918085708c274401708c2a8a760002", "name": "Example Rule"},
}

SDIM: dict[str, Any] = {
    "id": "62945a496ef440189b1f03e3623411c8",
    "name": "ServiceNow - Disconnected Apps",
    "description": "Tickets for manual provisioning",
    "type": "ServiceNowSDIM",
    "ownerRef": {"type": "IDENTITY", "id": "2c9180a46faadee4016fb4e018c20639", "name": "SailPoint Services"},
    "clusterRef": {"type": "CLUSTER", "id": "2c9180847a7fccdd017aa5896f9f4f6f", "name": "Prod VA"},
    "provisioningConfig": {
        "universalManager": False,
        "managedResourceRefs": [{"type": "SOURCE", "id": SOURCE, "name": "Badge System"}],
        "noProvisioningRequests": False,
        "provisioningRequestExpiration": 7,
    },
    "attributes": {
        "url": "https://example.service-now.com",
        "username": "svc_sailpoint",
        "password": SECRETS[0],
        "catalogItem": {SOURCE: CATALOG_ITEM},
    },
    "beforeProvisioningRule": None,
    "managedSources": [SOURCE],
}

OWN: dict[str, Any] = {
    "name": "reliability",
    "store_url": "sqlite:///state.db",
    "forward_failed_to": "2c9180a46faadee4016fb4e018c20639",
    "servicenow": {
        "url": "https://example.service-now.com",
        "auth": "oauth2_refresh_token",
        "client_id": "sim",
        "client_secret": SECRETS[1],
        "refresh_token": SECRETS[2],
    },
    "identitynow": {"url": "https://acme.api.identitynow.com", "client_id": "pat", "client_secret": SECRETS[0]},
    "ticket": {"type": "catalog", "grouping": "source", "correlation_variable": "sim_correlation_id"},
    "sources": {SOURCE: {"name": "Badge System", "catalog_item": CATALOG_ITEM}},
    "request": {"req_short_description": "Access for $identity.label", "ritm_description": "$plan.key"},
    "status": {
        "check_interval_minutes": 30, "max_check_days": 2, "retry_limit": 3,
        "map": {"closed_complete": "Committed", "requested": "Queued"},
    },
    "filters": {"operations": ["Create", "Modify"], "ignored_attributes": ["lastLogin"]},
    "render": {"strict": False, "max_steps": 1000},
}  # fmt: skip

LOADERS: dict[str, tuple[dict[str, Any], Callable[[Any], IntegrationConfig]]] = {
    "sim": (SIM, IntegrationConfig.from_sim_integration),
    "sdim": (SDIM, IntegrationConfig.from_service_desk_integration),
    "own": (OWN, lambda data: IntegrationConfig.from_dict(data, environ={})),
}

hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "x" * 100_000, "#if($x", "$plan.__class__.__mro__", "\x00\ud7ff", "closed_complete"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a JSON-like document."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def broken_documents(draw: st.DrawFn, base: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """``base`` with 1-4 random breakages; returns the document and the paths that were touched."""
    document = copy.deepcopy(base)
    touched = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "remove":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(hostile_values)
        else:
            parent[path[-1]] = draw(hostile_values)
        touched.append(path)
    return document, touched


def _check_problems(error: ConfigError, document: dict[str, Any]) -> None:
    text = str(error) + repr(error.problems) + repr(error)
    for secret in SECRETS:
        assert secret not in text
    assert "\n" not in str(error)
    assert error.problems, str(error)
    for problem in error.problems:
        assert isinstance(problem, ValidationProblem)
        assert isinstance(problem.path, str)
        assert problem.message.strip()
        # A path names a place in the document (under a top-level key, or a section we read) or the whole of it.
        roots = {str(key) for key in document} | _SECTIONS
        assert problem.path == "" or any(
            problem.path == root or problem.path.startswith((f"{root}.", f"{root}[")) for root in roots
        ), (problem, sorted(roots))


#: Our own format's sections, which a problem may name even when the broken document left them out.
_SECTIONS = frozenset(
    {"servicenow", "identitynow", "sources", "ticket", "request", "status", "filters", "render", "store_url", "name"}
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(LOADERS)))
def test_a_broken_definition_loads_or_lists_its_problems_with_paths(data: st.DataObject, kind: str) -> None:
    base, load = LOADERS[kind]
    document, _ = data.draw(broken_documents(base))
    outcome = attempt(lambda: load(document), ConfigError)
    if isinstance(outcome, ConfigError):
        _check_problems(outcome, document)
    else:
        assert isinstance(outcome, IntegrationConfig)
        for secret in SECRETS:
            assert secret not in repr(outcome)


@FUZZ
@given(kind=st.sampled_from(sorted(LOADERS)), value=hostile_values)
def test_a_document_that_is_not_an_object_is_one_problem(kind: str, value: Any) -> None:
    assume(not isinstance(value, dict))
    _, load = LOADERS[kind]
    outcome = attempt(lambda: load(value), ConfigError)
    assert isinstance(outcome, ConfigError)
    assert len(outcome.problems) == 1


@FUZZ
@given(section=st.sampled_from(["servicenow", "identitynow", "status", "ticket", "filters", "render"]), data=st.data())
def test_each_broken_setting_of_a_section_is_reported_separately(section: str, data: st.DataObject) -> None:
    # Every leaf of one section replaced by a value of a surely wrong type: one problem per setting, each at its path.
    document = copy.deepcopy(OWN)
    leaves = [key for key, value in document[section].items() if not isinstance(value, dict)]
    broken = data.draw(st.lists(st.sampled_from(leaves), min_size=1, unique=True))
    for key in broken:
        document[section][key] = {"not": ["a", "setting"]}
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_dict(document, environ={})
    _check_problems(caught.value, document)
    assert {f"{section}.{key}" for key in broken} <= {p.path for p in caught.value.problems}


TOML = f'''
name = "reliability"
store_url = "sqlite:///state.db"

[servicenow]
url = "https://example.service-now.com"
auth = "basic"
username = "svc"
password = {{ env = "SN_PASSWORD" }}

[identitynow]
url = "https://acme.api.identitynow.com"
client_id = "pat"
client_secret = {{ env = "IDN_SECRET" }}

[sources]
{SOURCE} = {{ name = "Badge System", catalog_item = "{CATALOG_ITEM}" }}

[status]
check_interval_minutes = 30
max_check_days = 2

[status.map]
closed_complete = "Committed"
requested = "Queued"

[request]
req_short_description = "Access for $identity.label"
'''


@st.composite
def mangled_toml(draw: st.DrawFn) -> str:
    lines = TOML.splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "garble"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "insert":
            lines.insert(index, draw(st.text(max_size=40)))
        elif action == "truncate":
            lines[index] = lines[index][: draw(st.integers(min_value=0, max_value=len(lines[index])))]
        else:
            position = draw(st.integers(min_value=0, max_value=len(lines[index])))
            lines[index] = lines[index][:position] + draw(st.text(max_size=5)) + lines[index][position:]
        if not lines:
            break
    return "\n".join(lines)


@FUZZ
@given(text=mangled_toml() | st.text(max_size=200))
def test_mangled_toml_text_loads_or_is_a_config_error(text: str) -> None:
    environ = {"SN_PASSWORD": SECRETS[0], "IDN_SECRET": SECRETS[1]}
    outcome = attempt(lambda: IntegrationConfig.from_toml(text, environ=environ), ConfigError)
    shown = str(outcome) + repr(outcome)
    if isinstance(outcome, ConfigError):
        assert outcome.problems
        assert "\n" not in str(outcome)
        shown += repr(outcome.problems)
    assert all(secret not in shown for secret in SECRETS)


# ------------------------------------------------------------------------------------------------ found by the fuzz


def test_absurd_status_check_durations_are_problems_not_overflows() -> None:
    document = copy.deepcopy(OWN)
    document["status"] |= {"check_interval_minutes": 1.44e12, "max_check_days": 10**9}
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_dict(document, environ={})
    assert {p.path for p in caught.value.problems} == {"status.check_interval_minutes", "status.max_check_days"}
    tenant = {"provisioningStatusCheckIntervalMinutes": "99999999999", "provisioningMaxStatusCheckDays": "99999999"}
    with pytest.raises(ConfigError) as caught:
        StatusCheck.from_identitynow(tenant)
    assert {p.path for p in caught.value.problems} == set(tenant)


def test_a_key_with_a_line_break_does_not_break_the_message_into_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_dict({**OWN, "colour\nERROR forged log line": 1}, environ={})
    assert "\n" not in str(caught.value)
    assert "colour\\nERROR forged log line: unknown setting" in str(caught.value)


def test_a_broken_cluster_reference_is_reported_where_the_definition_has_it() -> None:
    with pytest.raises(ConfigError) as caught:
        IntegrationConfig.from_service_desk_integration({**SDIM, "clusterRef": {"type": "CLUSTER", "id": True}})
    assert [p.path for p in caught.value.problems] == ["clusterRef.id"]
