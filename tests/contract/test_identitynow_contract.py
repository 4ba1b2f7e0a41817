"""Contract: every response FakeIdentityNow gives validates against SailPoint's OpenAPI schema for its operation.

A scenario drives every operation the fake serves - successes and the documented errors - in each URL layout,
through a recording WSGI middleware. Each recorded response is then matched to its operation (path template and
method) in SailPoint's OpenAPI documents and validated against the response schema for its status code, with
OpenAPI 3.0 rules (``nullable``, enums, ``date-time`` formats). Schemas are *closed* for the check: a member the
schema does not declare is an error too, so the fake cannot drift into invented fields.

Known gaps in the documents, each handled explicitly here (and nowhere else):

- ``isc-sim-integrations-v1.json`` types the ``X-SailPoint-Experimental`` header as a string with a boolean
  default (the defect its README names); it is relaxed to ``"true"`` before the document is checked.
- The beta document declares ``GET /sim-integrations`` as one object; the newer per-API document (and every
  client) says it is a list - the fake answers a list, and each element is validated.
- SIM operations declare ``ServiceDeskIntegrationDto`` responses, but a SIM definition carries the
  ``SimIntegrationDetails`` members (``sources``, ``statusMap``, ``request``): SIM bodies are validated against
  the declared schema (open) and against ``SimIntegrationDetails`` (closed).
- A few statuses the fake answers are not declared for their operation (404 on forward, 405, 415); those bodies
  are validated as ``ErrorResponseDto`` and the exact list of such cases is asserted.
- ``/oauth/*`` and the private ``/cc/api`` have no OpenAPI document: the token and tenant-info bodies are checked
  against schemas written from SailPoint's authentication guide; ``/cc/api`` is not checked.

The documents live in ``/work/shared/specs/sailpoint`` (or ``$SIM_SERVICENOW_SAILPOINT_SPECS``); the tests skip
when they are absent.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.testing import FakeIdentityNow, mount

SPEC_DIR = Path(os.environ.get("SIM_SERVICENOW_SAILPOINT_SPECS", "/work/shared/specs/sailpoint"))
BASE = "https://acme.api.identitynow.test"
PATCH_JSON = {"Content-Type": "application/json-patch+json"}

V3 = "isc-v3-subset.json"
BETA_SIM = "isc-beta-sim-subset.json"
PER_API = {
    "service-desk-integrations": "isc-service-desk-integration-v1.json",
    "sim-integrations": "isc-sim-integrations-v1.json",
    "work-items": "isc-work-items-v1.json",
    "account-activities": "isc-account-activities-v1.json",
    "sources": "isc-sources-v1.json",
}

#: Operations in the documents the fake deliberately does not serve (source administration, form work items).
NOT_SERVED = {
    ("POST", "/sources"),
    ("PUT", "/sources/{id}"),
    ("PATCH", "/sources/{id}"),
    ("DELETE", "/sources/{id}"),
    ("POST", "/work-items/{id}/submit-account-selection"),
}

#: Statuses the fake answers that the operation does not declare; validated as ErrorResponseDto.
UNDECLARED_STATUSES = {
    ("POST", "/work-items/{id}/forward", 404),
    ("PATCH", "/service-desk-integrations/{id}", 415),
    ("DELETE", "/work-items", 405),
}

#: Shapes written from SailPoint's authentication guide (no OpenAPI document covers /oauth).
TOKEN_SCHEMA = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "additionalProperties": False,
    "properties": {
        "access_token": {"type": "string", "pattern": r"^[\w-]+\.[\w-]+\.[\w-]+$"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "refresh_token": {"type": "string"},
        "expires_in": {"type": "integer", "minimum": 1},
        "scope": {"type": "string"},
        "accessType": {"type": "string"},
        "tenant_id": {"type": "string"},
        "internal": {"type": "boolean"},
        "pod": {"type": "string"},
        "strong_auth_supported": {"type": "boolean"},
        "org": {"type": "string"},
        "user_id": {"type": "string"},
        "identity_id": {"type": "string"},
        "strong_auth": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "jti": {"type": "string"},
    },
}
INFO_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tenantId", "tenantName", "authorizeEndpoint", "tokenEndpoint", "cloudDomainUrl", "logoutUrl", "pod"],
    "properties": {
        name: {"type": "string"}
        for name in (
            "tenantId",
            "tenantName",
            "authorizeEndpoint",
            "tokenEndpoint",
            "cloudDomainUrl",
            "logoutUrl",
            "pod",
        )
    },
}
OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


# ------------------------------------------------------------------------------------------ the documents


@cache
def document(name: str) -> dict[str, Any]:
    path = SPEC_DIR / name
    if not path.exists():
        pytest.skip(f"SailPoint OpenAPI document {name} not found in {SPEC_DIR}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return relax_known_defect(loaded)


def relax_known_defect(spec: dict[str, Any]) -> dict[str, Any]:
    """The experimental header is a string whose default is the boolean ``true``: make the default ``"true"``."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("name") == "X-SailPoint-Experimental" and schema.get("default") is True:
                    schema["default"] = "true"
    return spec


def resolve(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """Inline every local ``$ref``."""
    if depth > 50:
        raise RecursionError("unexpectedly deep $ref chain")
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, root, depth + 1)
        return {key: resolve(value, root, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, root, depth + 1) for item in node]
    return node


def _is_objectish(schema: dict[str, Any]) -> bool:
    modifiers = {"nullable", "description", "title", "example", "deprecated", "readOnly"}
    return "properties" in schema or schema.get("type") == "object" or set(schema) <= modifiers


def closed(schema: Any) -> Any:
    """The schema with object ``allOf`` parts merged and undeclared members forbidden."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: closed(value) for key, value in schema.items() if key not in ("example", "examples")}
    parts = schema.get("allOf")
    if parts and all(isinstance(p, dict) and _is_objectish(p) for p in parts) and any("properties" in p for p in parts):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        merged.setdefault("type", "object")
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in parts:
            properties.update(part.get("properties", {}))
            required += part.get("required", [])
            if part.get("nullable"):
                merged["nullable"] = True
            if "additionalProperties" in part:
                merged["additionalProperties"] = part["additionalProperties"]
        merged["properties"] = {**properties, **merged.get("properties", {})}
        if required:
            merged["required"] = sorted(set(required))
        schema = merged
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return schema


def validate(instance: Any, schema: dict[str, Any]) -> list[str]:
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    validator = OAS30Validator(schema, format_checker=oas30_format_checker)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


# ---------------------------------------------------------------------------------------------- locating


@dataclass(frozen=True)
class Operation:
    document: str
    template: str  # the path in the document
    method: str

    @property
    def generic(self) -> str:
        """The template without the per-API ``/v1`` (``/work-items/v1/{id}`` -> ``/work-items/{id}``)."""
        return re.sub(r"^/([a-z-]+)/v1", r"/\1", self.template)

    def spec(self) -> dict[str, Any]:
        operation: dict[str, Any] = document(self.document)["paths"][self.template][self.method.lower()]
        return operation


def _document_for(path: str) -> tuple[str, str] | None:
    """(document, path inside it) for a request path; None for /oauth and /cc."""
    segments = path.strip("/").split("/")
    if segments[0] in ("oauth", "cc"):
        return None
    if segments[0] == "v3":
        return V3, "/" + "/".join(segments[1:])
    if segments[0] == "beta":
        # No beta document but the SIM one here: the other beta operations share the v3 shapes.
        return (BETA_SIM if segments[1] == "sim-integrations" else V3), "/" + "/".join(segments[1:])
    if re.fullmatch(r"v20\d\d", segments[0]):
        api, rest = segments[1], segments[2:]
        return PER_API[api], "/" + "/".join([api, "v1", *rest])
    return PER_API[segments[0]], path


def locate(method: str, path: str) -> Operation | None:
    found = _document_for(path)
    if found is None:
        return None
    name, inner = found
    candidates = []
    for template, operations in document(name)["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, inner) and method.lower() in operations:
            candidates.append(template)
    if not candidates:
        return None
    best = min(candidates, key=lambda template: template.count("{"))
    return Operation(name, best, method)


# ---------------------------------------------------------------------------------------------- recording


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes


@dataclass
class Recorder:
    """WSGI middleware keeping every request/response pair."""

    app: Callable[..., Iterable[bytes]]
    exchanges: list[Exchange] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(maxsplit=1)[0])
            captured["headers"] = dict(headers)
            return start_response(status, headers, exc_info)

        body = b"".join(self.app(environ, capture))
        self.exchanges.append(
            Exchange(
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                captured["status"],
                captured["headers"].get("Content-Type", ""),
                body,
            )
        )
        return [body]


def check(exchange: Exchange, undeclared: set[tuple[str, str, int]]) -> list[str]:
    """Problems with one recorded response (empty when it satisfies its contract)."""
    where = f"{exchange.method} {exchange.path} -> {exchange.status}"
    if exchange.path.startswith("/cc/"):
        return []
    body = json.loads(exchange.body) if exchange.body else None
    if exchange.path.startswith("/oauth/"):
        if exchange.status == 200:
            schema = TOKEN_SCHEMA if exchange.path == "/oauth/token" else INFO_SCHEMA
        else:
            schema = OAUTH_ERROR_SCHEMA if exchange.status in (400, 401) else closed(v3_error_schema())
        return [f"{where}: {problem}" for problem in validate(body, schema)]
    operation = locate(exchange.method, exchange.path)
    if operation is None:
        # Only "method not allowed" answers a path/method pair no document declares.
        found = _document_for(exchange.path)
        assert found is not None
        undeclared.add((exchange.method, re.sub(r"^/([a-z-]+)/v1", r"/\1", found[1]), exchange.status))
        errors = validate(body, closed(v3_error_schema())) if exchange.status == 405 else ["no such operation"]
        return [f"{where}: {error}" for error in errors]
    responses = operation.spec()["responses"]
    declared = responses.get(str(exchange.status))
    root = document(operation.document)
    if declared is None:
        undeclared.add((operation.method, operation.generic, exchange.status))
        schema = closed(v3_error_schema())
    else:
        content = resolve(declared, root).get("content")
        if content is None:
            return [] if not exchange.body else [f"{where}: a body where the operation declares none"]
        if body is None:
            return [f"{where}: no body where the operation declares one"]
        schema = resolve(content["application/json"]["schema"], root)
        if not exchange.content_type.startswith("application/json"):
            return [f"{where}: Content-Type {exchange.content_type!r}"]
    problems: list[str] = []
    is_sim = operation.generic.startswith("/sim-integrations") and exchange.status == 200
    if (
        is_sim
        and operation.document == BETA_SIM
        and operation.method == "GET"
        and operation.template == "/sim-integrations"
    ):
        schema = {"type": "array", "items": schema}  # the beta document's defect: the list is one object there
    if is_sim:
        problems += validate(body, schema)
        sim_schema = closed(
            resolve(document(BETA_SIM)["components"]["schemas"]["SimIntegrationDetails"], document(BETA_SIM))
        )
        for item in body if isinstance(body, list) else [body]:
            problems += validate(item, sim_schema)
    else:
        problems += validate(body, closed(schema))
    return [f"{where}: {problem}" for problem in problems]


def v3_error_schema() -> dict[str, Any]:
    spec = document(V3)
    schema: dict[str, Any] = resolve(spec["components"]["schemas"]["ErrorResponseDto"], spec)
    return schema


# ----------------------------------------------------------------------------------------------- scenario


class Layout:
    """Builds paths for one URL layout."""

    def __init__(self, name: str) -> None:
        self.name = name

    def path(self, api: str, rest: str = "") -> str:
        if self.name == "classic":
            return f"/{'beta' if api == 'sim-integrations' else 'v3'}/{api}{rest}"
        if self.name == "v2025":
            return f"/v2025/{api}{rest}"
        return f"/{api}/v1{rest}"

    @property
    def sim_headers(self) -> dict[str, str]:
        return {} if self.name == "classic" else {"X-SailPoint-Experimental": "true"}


def exercise(fake: FakeIdentityNow, http: requests.Session, layout: Layout) -> None:
    """Call every served operation, successes and documented errors, in one layout."""

    def call(method: str, path: str, expected: int, **kwargs: Any) -> Any:
        response = http.request(method, BASE + path, timeout=5, **kwargs)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    p = layout.path
    sim = layout.sim_headers

    # OAuth
    token = call(
        "POST",
        "/oauth/token",
        200,
        data={
            "grant_type": "client_credentials",
            "client_id": fake.DEFAULT_CLIENT_ID,
            "client_secret": fake.DEFAULT_CLIENT_SECRET,
        },
    )["access_token"]
    call("POST", "/oauth/token", 401, data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
    call("POST", "/oauth/token", 400, data={"grant_type": "password"})
    call("GET", "/oauth/info", 200)
    call("GET", p("sources"), 401)
    http.headers["Authorization"] = f"Bearer {token}"

    # Sources
    owner = fake.add_identity("olga.owner", displayName="Olga Owner")
    source = fake.add_source(
        "Badge System",
        owner={"type": "IDENTITY", "id": owner["id"], "name": "Olga Owner"},
        cluster={"type": "CLUSTER", "id": "c-1", "name": "Prod VA"},
        managerCorrelationMapping={"accountAttributeName": "manager", "identityAttributeName": "manager"},
    )
    other_source = fake.add_source("Door Locks", healthy=False, status="SOURCE_STATE_ERROR_SOURCE")
    call("GET", p("sources"), 200, params={"count": "true", "filters": 'name sw "b"', "sorters": "-created"})
    call("GET", p("sources", f"/{source['id']}"), 200)
    call("GET", p("sources", "/missing"), 404)
    call("GET", p("sources"), 400, params={"filters": 'bogus eq "x"'})
    call("GET", "/cc/api/source/list", 200)

    # Service-desk integrations
    body = {
        "name": "ServiceNow",
        "description": "Tickets",
        "type": "ServiceNowSDIM",
        "ownerRef": {"type": "IDENTITY", "id": owner["id"]},
        "clusterRef": {"type": "CLUSTER", "id": "c-1", "name": "Prod VA"},
        "provisioningConfig": {
            "managedResourceRefs": [{"type": "SOURCE", "id": source["id"]}],
            "provisioningRequestExpiration": 7,
        },
        "attributes": {"url": "https://example.service-now.com"},
        "beforeProvisioningRule": {"type": "RULE", "id": "r-1", "name": "Rule"},
    }
    sdim = call("POST", p("service-desk-integrations"), 200, json=body)
    call("POST", p("service-desk-integrations"), 400, json={"name": "incomplete"})
    call(
        "GET",
        p("service-desk-integrations"),
        200,
        params={"count": "true", "sorters": "name", "filters": 'type eq "ServiceNowSDIM"'},
    )
    call("GET", p("service-desk-integrations"), 400, params={"sorters": "type"})
    call("GET", p("service-desk-integrations", f"/{sdim['id']}"), 200)
    call("GET", p("service-desk-integrations", "/missing"), 404)
    call(
        "PUT",
        p("service-desk-integrations", f"/{sdim['id']}"),
        200,
        json={**body, "managedSources": [other_source["id"]]},
    )
    call(
        "PATCH",
        p("service-desk-integrations", f"/{sdim['id']}"),
        200,
        headers=PATCH_JSON,
        json=[{"op": "replace", "path": "/cluster", "value": "c-2"}],
    )
    call(
        "PATCH",
        p("service-desk-integrations", f"/{sdim['id']}"),
        403,
        headers=PATCH_JSON,
        json=[{"op": "add", "path": "/attributes/x", "value": "y"}],
    )
    call(
        "PATCH",
        p("service-desk-integrations", f"/{sdim['id']}"),
        415,
        headers={"Content-Type": "text/plain"},
        data="[]",
    )
    types = call("GET", p("service-desk-integrations", "/types"), 200)
    call("GET", p("service-desk-integrations", f"/templates/{types[0]['scriptName']}"), 200)
    call("GET", p("service-desk-integrations", "/templates/missing"), 404)
    call("GET", p("service-desk-integrations", "/status-check-configuration"), 200)
    call(
        "PUT",
        p("service-desk-integrations", "/status-check-configuration"),
        200,
        json={"provisioningStatusCheckIntervalMinutes": "15", "provisioningMaxStatusCheckDays": "3"},
    )
    call("PUT", p("service-desk-integrations", "/status-check-configuration"), 400, json={})
    call("DELETE", p("service-desk-integrations", f"/{sdim['id']}"), 204)

    # SIM integrations
    example = FakeIdentityNow.example_sim_integration([source["id"]])
    created_sim = call("POST", p("sim-integrations"), 200, json=example, headers=sim)
    call("POST", p("sim-integrations"), 400, json={**example, "sources": ["12345"]}, headers=sim)
    call("GET", p("sim-integrations"), 200, headers=sim)
    call("GET", p("sim-integrations", f"/{created_sim['id']}"), 200, headers=sim)
    call("GET", p("sim-integrations", "/missing"), 404, headers=sim)
    call("PUT", p("sim-integrations", f"/{created_sim['id']}"), 200, json={**example, "cluster": None}, headers=sim)
    call(
        "PATCH",
        p("sim-integrations", f"/{created_sim['id']}"),
        200,
        headers={**PATCH_JSON, **sim},
        json={"operations": [{"op": "add", "path": "/statusMap/closed_skipped", "value": "Failed"}]},
    )
    call(
        "PATCH",
        p("sim-integrations", f"/{created_sim['id']}/beforeProvisioningRule"),
        200,
        headers={**PATCH_JSON, **sim},
        json=[
            {"op": "replace", "path": "/beforeProvisioningRule", "value": {"type": "RULE", "id": "r-2", "name": "R2"}}
        ],
    )
    call("DELETE", p("sim-integrations", f"/{created_sim['id']}"), 200, headers=sim)
    if layout.name != "classic":
        call("GET", p("sim-integrations"), 400)

    # Work items
    helpdesk = fake.add_identity("helpdesk")
    created = fake.add_manual_work_item(
        source["id"], "Create", "amos", {"email": "amos@example.com", "groups": ["A", "B"]}
    )
    entitlement = fake.add_manual_work_item(
        source["id"], "Modify", "amos", [("groups", "Add", "C"), ("groups", "Remove", "D")]
    )
    bulk_ok = fake.add_manual_work_item(source["id"], "Enable", "amos")
    bulk_no = fake.add_manual_work_item(source["id"], "Unlock", "amos")
    forwarded = fake.add_manual_work_item(source["id"], "Delete", "amos")
    owner_query = {"ownerId": owner["id"]}
    call("GET", p("work-items"), 200, params={**owner_query, "count": "true", "limit": "2"})
    call("GET", p("work-items", "/count"), 200, params=owner_query)
    call("GET", p("work-items", "/summary"), 200, params=owner_query)
    call("GET", p("work-items", f"/{created['id']}"), 200)
    call("GET", p("work-items", "/missing"), 404)
    call("POST", p("work-items", f"/{created['id']}"), 200, json="done")
    call("POST", p("work-items", f"/{created['id']}"), 400)
    call(
        "POST",
        p("work-items", f"/{forwarded['id']}/forward"),
        200,
        json={"targetOwnerId": helpdesk["id"], "comment": "Go"},
    )
    call("POST", p("work-items", f"/{forwarded['id']}/forward"), 400, json={"targetOwnerId": helpdesk["id"]})
    call("POST", p("work-items", "/missing/forward"), 404, json={"targetOwnerId": helpdesk["id"], "comment": "Go"})
    first, second = (item["id"] for item in entitlement["approvalItems"])
    call("POST", p("work-items", f"/{entitlement['id']}/approve/{first}"), 200)
    call("POST", p("work-items", f"/{entitlement['id']}/reject/{second}"), 200)
    call("POST", p("work-items", f"/{entitlement['id']}/approve/missing"), 400)
    call("POST", p("work-items", f"/bulk-approve/{bulk_ok['id']}"), 200)
    call("POST", p("work-items", f"/bulk-reject/{bulk_no['id']}"), 200)
    call("POST", p("work-items", "/bulk-reject/missing"), 404)
    call("GET", p("work-items", "/completed"), 200, params={**owner_query, "count": "true"})
    call("GET", p("work-items", "/completed/count"), 200, params=owner_query)

    # Account activities
    activities = call(
        "GET",
        p("account-activities"),
        200,
        params={"count": "true", "sorters": "-created", "filters": 'type in ("appRequest","AccountStateUpdate")'},
    )
    call("GET", p("account-activities"), 200, params={"regarding-identity": "me"})
    call("GET", p("account-activities", f"/{activities[0]['id']}"), 200)
    call("GET", p("account-activities", "/missing"), 404)
    call("GET", p("account-activities"), 400, params={"regarding-identity": "me", "requested-by": "me"})

    # Method not served, faults in IdentityNow's dialect
    if layout.name == "classic":
        call("DELETE", p("work-items"), 405)
    fake.faults.add("rate_limit", times=1, retry_after=3)
    call("GET", p("work-items"), 429)
    fake.faults.add("error", times=1, status=500)
    call("GET", p("service-desk-integrations"), 500)
    fake.faults.add("expire_token", times=1)
    call("GET", p("account-activities"), 401)


LAYOUTS = ["classic", "v2025", "per-api"]


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[Exchange]]:
    """Run the scenario once per layout, recording every exchange."""
    results: dict[str, list[Exchange]] = {}
    for name in LAYOUTS:
        fake = FakeIdentityNow(seed=1)
        recorder = Recorder(fake)
        with requests.Session() as http:
            mount(http, BASE, recorder)
            exercise(fake, http, Layout(name))
        results[name] = recorder.exchanges
    return results


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_response_validates_against_its_operation(recorded: dict[str, list[Exchange]], layout: str) -> None:
    undeclared: set[tuple[str, str, int]] = set()
    problems = [problem for exchange in recorded[layout] for problem in check(exchange, undeclared)]
    assert problems == [], "\n".join(problems)
    assert undeclared <= UNDECLARED_STATUSES, f"undocumented statuses: {sorted(undeclared - UNDECLARED_STATUSES)}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_scenario_covers_every_served_operation(recorded: dict[str, list[Exchange]], layout: str) -> None:
    hit: set[tuple[str, str]] = set()
    for exchange in recorded[layout]:
        operation = locate(exchange.method, exchange.path) if 200 <= exchange.status < 300 else None
        if operation is not None:
            hit.add((operation.method, operation.generic))
    documents = {V3, BETA_SIM} if layout == "classic" else set(PER_API.values())
    expected = set()
    for name in documents:
        for template, operations in document(name)["paths"].items():
            for method in operations:
                if method in ("get", "post", "put", "patch", "delete"):
                    generic = re.sub(r"^/([a-z-]+)/v1", r"/\1", template)
                    expected.add((method.upper(), generic))
    assert hit == expected - NOT_SERVED


@pytest.mark.parametrize("layout", LAYOUTS)
def test_errors_use_identitynow_bodies(recorded: dict[str, list[Exchange]], layout: str) -> None:
    by_status: dict[int, set[str]] = {}
    for exchange in recorded[layout]:
        if exchange.status >= 400 and not exchange.path.startswith("/oauth/token"):
            by_status.setdefault(exchange.status, set()).update(json.loads(exchange.body))
    envelope = {"detailCode", "trackingId", "messages", "causes"}
    assert by_status[401] == {"error"}
    assert by_status[429] == {"message"}
    for status in (400, 403, 404, 415, 500):
        assert by_status[status] == envelope, status


@pytest.mark.parametrize("name", [V3, BETA_SIM, *PER_API.values()])
def test_the_documents_themselves_are_valid_openapi(name: str) -> None:
    from openapi_spec_validator import validate as validate_spec

    validate_spec(copy.deepcopy(document(name)))


def test_closed_schemas_catch_invented_members() -> None:
    spec = document(V3)
    schema = closed(resolve(spec["components"]["schemas"]["WorkItems"], spec))
    assert validate({"id": "x", "state": "Pending"}, schema) == []
    assert validate({"id": "x", "state": "Pending", "invented": 1}, schema) != []
    assert validate({"approvalItems": [{"state": None, "invented": 1}]}, schema) != []
    assert validate({"created": "yesterday"}, schema) != []


# ------------------------------------------------------------------------------------- generated queries

_FIELDS = ["id", "name", "type", "cluster", "created", "modified", "features", "authoritative", "owner.id", "bogus"]
_OPS = ["eq", "ne", "co", "sw", "gt", "ge", "lt", "le", "in", "ca", "isnull", "EQ"]
_VALUES = ['"Badge"', '"b"', "true", "7", "2024-01-01T00:00:00Z", '("a","b")', "Badge", '"q\\"uote"']


@st.composite
def filter_expressions(draw: st.DrawFn) -> str:
    terms = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        field_name, op = draw(st.sampled_from(_FIELDS)), draw(st.sampled_from(_OPS))
        term = f"{field_name} isnull" if op == "isnull" else f"{field_name} {op} {draw(st.sampled_from(_VALUES))}"
        terms.append(("not " if draw(st.booleans()) else "") + term)
    joiners = [draw(st.sampled_from([" and ", " or "])) for _ in terms[1:]]
    return terms[0] + "".join(j + t for j, t in zip(joiners, terms[1:], strict=True))


@pytest.fixture(scope="module")
def seeded_for_queries() -> Iterator[tuple[FakeIdentityNow, Recorder, requests.Session]]:
    fake = FakeIdentityNow(seed=2)
    for name in ("Badge System", "badge archive", "Workday"):
        fake.add_source(name, authoritative=name == "Workday", features=["PROVISIONING"])
        fake.add_service_desk_integration(f"SN {name}", cluster="c-1")
        fake.add_account_activity(type="appRequest")
    recorder = Recorder(fake)
    http = mount(requests.Session(), BASE, recorder)
    http.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    with http:
        yield fake, recorder, http


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v3/sources", "/sources/v1", "/v3/service-desk-integrations", "/account-activities/v1"]),
    filters=st.one_of(st.none(), filter_expressions()),
    sorters=st.one_of(st.none(), st.sampled_from(["name", "-created", "type,-modified", "bogus", "-name,id"])),
    limit=st.one_of(st.none(), st.integers(min_value=-1, max_value=300)),
    offset=st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    count=st.one_of(st.none(), st.sampled_from(["true", "false", "maybe"])),
)
def test_generated_collection_queries_answer_per_contract(
    seeded_for_queries: tuple[FakeIdentityNow, Recorder, requests.Session],
    path: str,
    filters: str | None,
    sorters: str | None,
    limit: int | None,
    offset: int | None,
    count: str | None,
) -> None:
    _fake, recorder, http = seeded_for_queries
    params = {
        key: value
        for key, value in {
            "filters": filters,
            "sorters": sorters,
            "limit": limit,
            "offset": offset,
            "count": count,
        }.items()
        if value is not None
    }
    response = http.get(BASE + path, params=params, timeout=5)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert isinstance(response.json(), list)
        assert ("X-Total-Count" in response.headers) == (count == "true")
    problems = check(recorder.exchanges[-1], set())
    assert problems == [], "\n".join(problems)
