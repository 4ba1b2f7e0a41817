"""Legacy ServiceNow SIM integrations: life cycle, the experimental header, patches, odd list answers."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
import requests

from sim_servicenow.errors import BadRequestError, DecodeError, NotFoundError
from sim_servicenow.identitynow import IdentityNowClient, PatchOperation, Reference, SimIntegration
from sim_servicenow.testing import mount


def _sim(source_ids: list[str]) -> SimIntegration:
    return SimIntegration(
        name="ServiceNow SIM",
        description="Badge tickets",
        attributes={"authType": "Basic", "url": "https://example.service-now.com", "username": "u", "password": "p"},
        sources=tuple(source_ids),
        cluster="xyzzy999",
        status_map={"requested": "Queued", "closed_complete": "Committed", "closed_cancelled": "Failed"},
        request={"short_description": "SailPoint Access Request $!plan.arguments.identityRequestId"},
    )


def test_life_cycle(idn: Any) -> None:
    badge = idn.fake.add_source("Badge System")
    hr = idn.fake.add_source("HR")
    api = idn.client.sim_integrations
    assert api.list() == ()

    created = api.create(_sim([badge["id"]]))
    assert created.id is not None
    assert created.sources == (badge["id"],)
    assert created.status_map["closed_complete"] == "Committed"
    assert api.get(created.id) == created
    assert api.list() == (created,)

    replaced = api.replace(created.id, attrs.evolve(created, sources=(badge["id"], hr["id"])))
    assert replaced.sources == (badge["id"], hr["id"])

    patched = api.patch(created.id, [PatchOperation.replace("/statusMap/closed_cancelled", "Queued")])
    assert patched.status_map["closed_cancelled"] == "Queued"
    rule = Reference("RULE", "2c918085708c274401708c2a8a760001", "Before Provisioning")
    ruled = api.patch_before_provisioning_rule(created.id, [PatchOperation("add", "/beforeProvisioningRule", rule)])
    assert ruled.before_provisioning_rule == rule

    patches = idn.api_requests("PATCH")
    assert [json.loads(r.body) for r in patches] == [
        {"operations": [{"op": "replace", "path": "/statusMap/closed_cancelled", "value": "Queued"}]},
        {
            "operations": [
                {
                    "op": "add",
                    "path": "/beforeProvisioningRule",
                    "value": {"type": "RULE", "id": rule.id, "name": rule.name},
                }
            ]
        },
    ]
    assert patches[1].path.endswith(f"/{created.id}/beforeProvisioningRule")

    api.delete(created.id)
    with pytest.raises(NotFoundError):
        api.get(created.id)
    # Every SIM request says it knows the API is experimental (required by the per-API layout).
    sim_requests = [r for r in idn.api_requests() if "sim-integrations" in r.path]
    assert sim_requests
    assert all(r.headers.get("x-sailpoint-experimental") == "true" for r in sim_requests)


@pytest.mark.parametrize(
    ("layout", "prefix"), [("classic", "/beta/sim-integrations"), ("per-api", "/sim-integrations/v1")]
)
def test_layouts_address_their_own_paths(mounted: Any, layout: str, prefix: str) -> None:
    mounted.connect(layout=layout).sim_integrations.list()
    assert mounted.api_requests()[-1].path == prefix


def test_sources_must_be_backend_ids(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    legacy_id = mounted.fake.legacy_source(source["id"])["id"]
    with pytest.raises(BadRequestError, match="externalId"):
        mounted.client.sim_integrations.create(_sim([legacy_id]))
    backend_id = mounted.client.sources.backend_ids().backend_id(source["id"])
    assert backend_id is not None
    assert mounted.client.sim_integrations.create(_sim([backend_id])).sources == (source["id"],)


def _stub(payload: Any) -> Any:
    body = json.dumps(payload).encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


def test_list_reads_a_single_object_as_a_list_of_one(session: requests.Session) -> None:
    # SailPoint's beta document describes the list answer as one object.
    mount(session, "https://stub.test", _stub({"id": "1", "name": "Only", "sources": ["a"]}))
    client = IdentityNowClient("https://stub.test", None, session=session)
    assert client.sim_integrations.list() == (SimIntegration("Only", id="1", sources=("a",)),)


@pytest.mark.parametrize("payload", ["text", 3, [1, 2]])
def test_list_refuses_other_shapes(session: requests.Session, payload: Any) -> None:
    mount(session, "https://stub.test", _stub(payload))
    client = IdentityNowClient("https://stub.test", None, session=session)
    with pytest.raises(DecodeError, match=r"GET https://stub.test/beta/sim-integrations -> 200"):
        client.sim_integrations.list()
