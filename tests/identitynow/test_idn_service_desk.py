"""Service desk integrations (SDIM): the full life cycle, the replace-only patch, types, templates, status checks."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from sim_servicenow.errors import BadRequestError, ConfigError, NotFoundError
from sim_servicenow.identitynow import (
    PatchOperation,
    ProvisioningConfig,
    Reference,
    ServiceDeskIntegration,
    StatusCheckConfiguration,
    filters,
)


def _integration(source_ids: list[str], **changes: Any) -> ServiceDeskIntegration:
    integration = ServiceDeskIntegration(
        name="ServiceNow - Disconnected Apps",
        description="Tickets for manual provisioning",
        attributes={"url": "https://example.service-now.com", "username": "svc", "password": "hunter2"},
        cluster_ref=Reference("CLUSTER", "2c9180847a7fccdd017aa5896f9f4f6f", "Prod VA"),
        provisioning_config=ProvisioningConfig(
            managed_resource_refs=tuple(Reference("SOURCE", source_id) for source_id in source_ids),
            provisioning_request_expiration=7,
        ),
    )
    return attrs.evolve(integration, **changes)


def test_life_cycle(idn: Any) -> None:
    badge = idn.fake.add_source("Badge System")
    hr = idn.fake.add_source("HR Files")
    api = idn.client.service_desk_integrations

    created = api.create(_integration([badge["id"]], owner_ref=Reference("IDENTITY", idn.fake.admin["id"])))
    assert created.id is not None
    assert created.created is not None
    assert created.managed_source_ids == (badge["id"],)
    assert created.provisioning_config is not None
    assert created.provisioning_config.managed_resource_refs[0].name == "Badge System"  # resolved by the server
    assert created.cluster_id == "2c9180847a7fccdd017aa5896f9f4f6f"
    (stored,) = idn.fake.service_desk_integrations()
    # The server received and keeps both the current fields and their deprecated mirrors, in agreement.
    assert stored["cluster"] == stored["clusterRef"]["id"]
    assert stored["managedSources"] == [badge["id"]]
    assert stored["attributes"]["password"] == "hunter2"

    assert api.get(created.id) == created
    assert api.find_by_name("ServiceNow - Disconnected Apps") == created
    assert api.list(filters=filters.eq("type", "ServiceNowSDIM"), count=True).total == 1

    moved = attrs.evolve(
        created,
        description="Now also HR",
        provisioning_config=ProvisioningConfig(
            managed_resource_refs=(Reference("SOURCE", badge["id"]), Reference("SOURCE", hr["id"]))
        ),
    )
    replaced = api.replace(created.id, moved)
    assert replaced.description == "Now also HR"
    assert replaced.managed_source_ids == (badge["id"], hr["id"])
    assert replaced.created == created.created

    patched = api.patch(
        created.id,
        [PatchOperation.replace("/description", "Patched"), {"op": "replace", "path": "/name", "value": "SN"}],
    )
    assert (patched.name, patched.description) == ("SN", "Patched")
    (sent,) = idn.api_requests("PATCH")
    assert sent.headers["content-type"] == "application/json-patch+json"
    assert json.loads(sent.body) == [
        {"op": "replace", "path": "/description", "value": "Patched"},
        {"op": "replace", "path": "/name", "value": "SN"},
    ]

    api.delete(created.id)
    with pytest.raises(NotFoundError):
        api.get(created.id)
    assert api.find_by_name("SN") is None


def test_patch_refuses_other_operations_before_sending(mounted: Any) -> None:
    created = mounted.client.service_desk_integrations.create(_integration([]))
    before = len(mounted.api_requests())
    with pytest.raises(ConfigError) as raised:
        mounted.client.service_desk_integrations.patch(
            created.id,
            [
                PatchOperation.replace("/description", "ok"),
                PatchOperation("add", "/attributes/x", 1),
                {"op": "remove", "path": "/ownerRef"},
            ],
        )
    assert [p.path for p in raised.value.problems] == ["operations[1].op", "operations[2].op"]
    assert "only 'replace'" in str(raised.value)
    assert len(mounted.api_requests()) == before
    with pytest.raises(ConfigError, match="at least one operation"):
        mounted.client.service_desk_integrations.patch(created.id, [])


def test_server_validation_errors_surface_as_bad_request(mounted: Any) -> None:
    api = mounted.client.service_desk_integrations
    with pytest.raises(BadRequestError) as raised:
        api.create(_integration(["2c9180835d191a86015d28455b4a2329"]))
    assert "Unknown source id" in raised.value.message
    assert raised.value.detail == "400.1.1 Illegal value"


def test_deprecated_mirrors_from_the_server_fold_into_one_truth(mounted: Any) -> None:
    source = mounted.fake.add_source("Badge")
    # Seeded the old way: only the deprecated fields.
    seeded = mounted.fake.add_service_desk_integration("Old style", cluster="cluster-1", managed_sources=[source["id"]])
    integration = mounted.client.service_desk_integrations.get(seeded["id"])
    assert integration.cluster_ref == Reference("CLUSTER", "cluster-1")
    assert integration.managed_source_ids == (source["id"],)


def test_types_and_templates(idn: Any) -> None:
    api = idn.client.service_desk_integrations
    types = api.types()
    assert ("ServiceNowSDIM", "servicenow-sdim") in {(t.type, t.script_name) for t in types}
    template = api.template("servicenow-sdim")
    assert template.type == "ServiceNowSDIM"
    assert "ticketType" in template.attributes
    with pytest.raises(NotFoundError):
        api.template("no-such-script")


def test_status_check_configuration_round_trip(idn: Any) -> None:
    api = idn.client.service_desk_integrations
    assert api.status_check_configuration() == StatusCheckConfiguration(30, 2)
    stored = api.update_status_check_configuration(StatusCheckConfiguration(15, 5))
    assert stored == StatusCheckConfiguration(15, 5)
    # Strings on the wire.
    assert idn.fake.status_check_configuration() == {
        "provisioningStatusCheckIntervalMinutes": "15",
        "provisioningMaxStatusCheckDays": "5",
    }
    (sent,) = idn.api_requests("PUT")
    assert json.loads(sent.body) == {
        "provisioningStatusCheckIntervalMinutes": "15",
        "provisioningMaxStatusCheckDays": "5",
    }
    assert api.status_check_configuration().check_interval.total_seconds() == 15 * 60


def test_iter_pages_through_integrations(mounted: Any) -> None:
    for n in range(5):
        mounted.fake.add_service_desk_integration(f"SDIM {n}")
    names = [i.name for i in mounted.client.service_desk_integrations.iter(sorters="-name", page_size=2)]
    assert names == [f"SDIM {n}" for n in reversed(range(5))]
