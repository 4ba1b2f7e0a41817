"""Fixtures of the IdentityNow client tests: SailPoint's OpenAPI documents, and the fake served two ways.

The OpenAPI documents in ``/work/shared/specs/sailpoint`` (or ``$SIM_SERVICENOW_SAILPOINT_SPECS``) give
example payloads built from SailPoint's own ``example`` values, and the schemas the client's request bodies
must satisfy. Tests needing them are skipped when the documents are not there.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

SPEC_DIR = Path(os.environ.get("SIM_SERVICENOW_SAILPOINT_SPECS", "/work/shared/specs/sailpoint"))


class Spec:
    """One OpenAPI document with every ``$ref`` inlined, and helpers to read and check payloads."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text())
        self.name = path.name

    def _resolve(self, node: Any, depth: int = 0) -> Any:
        if depth > 40:
            return {}
        if isinstance(node, dict):
            if "$ref" in node:
                target: Any = self.document
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                return self._resolve(target, depth + 1)
            return {key: self._resolve(value, depth + 1) for key, value in node.items()}
        if isinstance(node, list):
            return [self._resolve(item, depth + 1) for item in node]
        return node

    def operation(self, path: str, method: str) -> dict[str, Any]:
        resolved: dict[str, Any] = self._resolve(self.document["paths"][path][method])
        return resolved

    def response_schema(self, path: str, method: str, status: str = "200") -> dict[str, Any]:
        schema: dict[str, Any] = self.operation(path, method)["responses"][status]["content"]["application/json"][
            "schema"
        ]
        return schema

    def request_schema(self, path: str, method: str) -> dict[str, Any]:
        content = self.operation(path, method)["requestBody"]["content"]
        schema: dict[str, Any] = next(iter(content.values()))["schema"]
        return schema

    def example(self, schema: dict[str, Any]) -> Any:
        """A payload assembled from the ``example`` values of ``schema`` and its properties."""
        return _example(schema)

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        """Raise if ``instance`` does not satisfy ``schema`` (OpenAPI 3.0 rules)."""
        from openapi_schema_validator import OAS30Validator

        OAS30Validator(_relax(schema)).validate(instance)


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for raw in schema["allOf"]:
        part = _merged(raw)
        if "properties" not in part and part.get("type") not in (None, "object"):
            return {**part, **{k: v for k, v in schema.items() if k != "allOf"}}
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
        for key in ("example", "nullable"):
            if key in part:
                merged[key] = part[key]
    merged.update({k: v for k, v in schema.items() if k != "allOf"})
    return merged


def _example(schema: dict[str, Any]) -> Any:
    schema = _merged(schema)
    if "properties" in schema:
        return {name: _example(prop) for name, prop in schema["properties"].items()}
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if schema.get("type") == "array":
        return [_example(schema.get("items", {}))]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    return None


def _relax(schema: Any) -> Any:
    """Drop the one known defect (a string header typed with a boolean default) and ``example`` noise."""
    if isinstance(schema, dict):
        return {k: _relax(v) for k, v in schema.items() if k not in ("example", "examples")}
    if isinstance(schema, list):
        return [_relax(v) for v in schema]
    return schema


def _spec(name: str) -> Spec:
    path = SPEC_DIR / name
    if not path.exists():
        pytest.skip(f"SailPoint OpenAPI document {name} not found in {SPEC_DIR}")
    return Spec(path)


@pytest.fixture(scope="session")
def v3_spec() -> Spec:
    return _spec("isc-v3-subset.json")


@pytest.fixture(scope="session")
def beta_sim_spec() -> Spec:
    return _spec("isc-beta-sim-subset.json")


@pytest.fixture(scope="session")
def sim_v1_spec() -> Spec:
    return _spec("isc-sim-integrations-v1.json")


@pytest.fixture(scope="session")
def work_items_v1_spec() -> Spec:
    return _spec("isc-work-items-v1.json")


@pytest.fixture(scope="session")
def sdim_v1_spec() -> Spec:
    return _spec("isc-service-desk-integration-v1.json")


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


# ------------------------------------------------------------------------------------------- the fake

TENANT_URL = "https://acme.api.identitynow.test"


class Harness:
    """A fake IdentityNow, reached one way (mounted adapter or loopback server), and clients of it.

    Attributes:
        fake: the fake tenant, to seed and inspect.
        url: the tenant URL clients use.
        session: the session clients (and their token requests) use.
        layout: the URL layout of :attr:`client`.
        sleeps: every wait the retry policy asked for (nothing is slept).
        client: a client with the default settings of this harness.
    """

    def __init__(self, fake: Any, url: str, session: requests.Session, layout: str) -> None:
        self.fake = fake
        self.url = url
        self.session = session
        self.layout = layout
        self.sleeps: list[float] = []
        self.client = self.connect()

    def auth(self) -> Any:
        from sim_servicenow.auth import OAuth2ClientCredentials

        return OAuth2ClientCredentials.for_identitynow(
            self.url, "fake-client-id", "fake-client-secret", session=self.session
        )

    def connect(self, **options: Any) -> Any:
        from sim_servicenow.http import RetryPolicy
        from sim_servicenow.identitynow import IdentityNowClient

        options.setdefault("layout", self.layout)
        options.setdefault("retry", RetryPolicy(sleep=self.sleeps.append))
        auth = options.pop("auth", None) or self.auth()
        return IdentityNowClient(self.url, auth, session=self.session, **options)

    def api_requests(self, method: str | None = None) -> list[Any]:
        """The requests the fake received, token requests left out."""
        return [r for r in self.fake.requests.filter(method) if r.path != "/oauth/token"]


@pytest.fixture
def fake() -> Any:
    from sim_servicenow.testing import FakeIdentityNow

    return FakeIdentityNow(seed=7)


@pytest.fixture(params=["mounted/classic", "mounted/per-api", "loopback/classic", "loopback/per-api"])
def idn(request: pytest.FixtureRequest, fake: Any, session: requests.Session) -> Iterator[Harness]:
    """The fake reached through every transport and URL layout."""
    from sim_servicenow.testing import mount, serve

    transport, layout = request.param.split("/")
    if transport == "mounted":
        mount(session, TENANT_URL, fake)
        yield Harness(fake, TENANT_URL, session, layout)
    else:
        with serve(fake) as served:
            yield Harness(fake, served.url, session, layout)


@pytest.fixture
def mounted(fake: Any, session: requests.Session) -> Harness:
    """The fake on a mounted adapter, classic layout: for tests about one behaviour, not about transports."""
    from sim_servicenow.testing import mount

    mount(session, TENANT_URL, fake)
    return Harness(fake, TENANT_URL, session, "classic")
