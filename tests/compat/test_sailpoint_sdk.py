"""SailPoint's own Python SDK (``sailpoint`` on PyPI) works against FakeIdentityNow unchanged.

The SDK is an independent client: it fetches its token at construction with urllib3, calls the per-API layout
(``/sources/v1``, ``/work-items/v1``, ...), and validates every response with strict pydantic models - an
unknown enum value is a warning, and warnings are errors in this suite. Everything runs over loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sailpoint")

from sailpoint import (
    AccountActivitiesApi,
    ApiClient,
    Configuration,
    ConfigurationParams,
    ServiceDeskIntegrationApi,
    SIMIntegrationsApi,
    SourcesApi,
    WorkItemsApi,
)
from sailpoint.exceptions import (
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from sailpoint.service_desk_integration.models.json_patch_operation import JsonPatchOperation
from sailpoint.service_desk_integration.models.json_patch_operation_value import JsonPatchOperationValue
from sailpoint.service_desk_integration.models.owner_dto import OwnerDto
from sailpoint.service_desk_integration.models.provisioning_config import ProvisioningConfig
from sailpoint.service_desk_integration.models.queued_check_config_details import (
    QueuedCheckConfigDetails,
)
from sailpoint.service_desk_integration.models.service_desk_integration_dto import (
    ServiceDeskIntegrationDto,
)
from sailpoint.service_desk_integration.models.service_desk_source import ServiceDeskSource
from sailpoint.sim_integrations.models.json_patch import JsonPatch
from sailpoint.sim_integrations.models.json_patch_operation import (
    JsonPatchOperation as SimJsonPatchOperation,
)
from sailpoint.sim_integrations.models.json_patch_operation_value import (
    JsonPatchOperationValue as SimJsonPatchOperationValue,
)
from sailpoint.sim_integrations.models.sim_integration_details import SimIntegrationDetails
from sailpoint.work_items.models.work_item_forward import WorkItemForward

from sim_servicenow.testing import FakeIdentityNow, ServedApp, serve


@pytest.fixture
def fake() -> FakeIdentityNow:
    return FakeIdentityNow(seed=5)


@pytest.fixture
def served(fake: FakeIdentityNow) -> Iterator[ServedApp]:
    with serve(fake) as app:
        yield app


def sdk_client(served: ServedApp, *, client_id: str | None = None, client_secret: str | None = None) -> ApiClient:
    params = ConfigurationParams()
    params.base_url = served.url
    params.client_id = client_id or FakeIdentityNow.DEFAULT_CLIENT_ID
    params.client_secret = client_secret or FakeIdentityNow.DEFAULT_CLIENT_SECRET
    configuration = Configuration(params)
    configuration.experimental = True
    configuration.suppress_experimental_warnings = True
    return ApiClient(configuration)


@pytest.fixture
def client(served: ServedApp) -> ApiClient:
    return sdk_client(served)


def test_sdk_gets_a_token_from_the_fake(fake: FakeIdentityNow, client: ApiClient) -> None:
    token = client.configuration.access_token
    assert token is not None
    assert token.count(".") == 2
    (token_request,) = fake.requests.filter(method="POST", path="/oauth/token")
    assert token_request.status == 200
    assert b"grant_type=client_credentials" in token_request.body
    assert FakeIdentityNow.DEFAULT_CLIENT_SECRET.encode() not in token_request.body


def test_sdk_with_bad_credentials_gets_no_token(served: ServedApp, capsys: pytest.CaptureFixture[str]) -> None:
    params = ConfigurationParams()
    params.base_url = served.url
    params.client_id = FakeIdentityNow.DEFAULT_CLIENT_ID
    params.client_secret = "wrong"
    assert Configuration(params).access_token is None
    assert "Unauthorized" in capsys.readouterr().out


def test_sdk_lists_sources_with_filters_sorters_and_count(fake: FakeIdentityNow, client: ApiClient) -> None:
    for name in ("Workday", "Badge System", "Badge Archive"):
        fake.add_source(name)
    response = SourcesApi(client).list_sources_v1_with_http_info(
        filters='name sw "badge"', sorters="-name", count=True, limit=1
    )
    assert [source.name for source in response.data] == ["Badge System"]
    assert response.headers["X-Total-Count"] == "2"
    everything = SourcesApi(client).list_sources_v1()
    assert {source.name for source in everything} == {"Workday", "Badge System", "Badge Archive"}
    single = SourcesApi(client).get_source_v1(everything[0].id)
    assert single.connector == "delimited-file"
    assert single.owner is not None
    assert single.owner.id == fake.admin["id"]


def test_sdk_service_desk_integration_lifecycle(fake: FakeIdentityNow, client: ApiClient) -> None:
    source = fake.add_source("Badge System")
    api = ServiceDeskIntegrationApi(client)
    created = api.create_service_desk_integration_v1(
        ServiceDeskIntegrationDto(
            name="ServiceNow - Disconnected Apps",
            description="Tickets for manual provisioning",
            type="ServiceNowSDIM",
            owner_ref=OwnerDto(type="IDENTITY", id=fake.admin["id"]),
            provisioning_config=ProvisioningConfig(
                managed_resource_refs=[ServiceDeskSource(type="SOURCE", id=source["id"])]
            ),
            attributes={"url": "https://example.service-now.com", "username": "svc"},
        )
    )
    assert created.id is not None
    assert created.managed_sources == [source["id"]]
    assert created.provisioning_config is not None
    assert created.provisioning_config.managed_resource_refs is not None
    assert created.provisioning_config.managed_resource_refs[0].name == "Badge System"

    fetched = api.get_service_desk_integration_v1(created.id)
    assert fetched == created
    assert [i.id for i in api.get_service_desk_integrations_v1(filters='name eq "ServiceNow - Disconnected Apps"')] == [
        created.id
    ]

    patched = api.patch_service_desk_integration_v1(
        created.id,
        [JsonPatchOperation(op="replace", path="/description", value=JsonPatchOperationValue("Patched by the SDK"))],
    )
    assert patched.description == "Patched by the SDK"
    assert fake.service_desk_integrations()[0]["description"] == "Patched by the SDK"

    fetched.description = "Replaced by the SDK"
    replaced = api.put_service_desk_integration_v1(created.id, fetched)
    assert replaced.description == "Replaced by the SDK"
    assert replaced.created == created.created

    api.delete_service_desk_integration_v1(created.id)
    assert fake.service_desk_integrations() == []
    with pytest.raises(NotFoundException) as missing:
        api.get_service_desk_integration_v1(created.id)
    assert missing.value.status == 404


def test_sdk_sees_the_documented_403_for_patch_ops_other_than_replace(fake: FakeIdentityNow, client: ApiClient) -> None:
    integration = fake.add_service_desk_integration("SN")
    with pytest.raises(ForbiddenException) as refused:
        ServiceDeskIntegrationApi(client).patch_service_desk_integration_v1(
            integration["id"], [JsonPatchOperation(op="add", path="/attributes/x", value=JsonPatchOperationValue("y"))]
        )
    assert refused.value.status == 403
    assert refused.value.data is not None
    assert refused.value.data.detail_code == "403 Forbidden"


def test_sdk_reads_and_writes_the_status_check_configuration(fake: FakeIdentityNow, client: ApiClient) -> None:
    api = ServiceDeskIntegrationApi(client)
    current = api.get_status_check_details_v1()
    assert (current.provisioning_status_check_interval_minutes, current.provisioning_max_status_check_days) == (
        "30",
        "2",
    )
    updated = api.update_status_check_details_v1(
        QueuedCheckConfigDetails(
            provisioning_status_check_interval_minutes="15", provisioning_max_status_check_days="7"
        )
    )
    assert updated.provisioning_max_status_check_days == "7"
    assert fake.status_check_configuration() == {
        "provisioningStatusCheckIntervalMinutes": "15",
        "provisioningMaxStatusCheckDays": "7",
    }


def test_sdk_reads_types_and_templates(client: ApiClient) -> None:
    api = ServiceDeskIntegrationApi(client)
    types = api.get_service_desk_integration_types_v1()
    assert "ServiceNowSDIM" in {t.type for t in types}
    template = api.get_service_desk_integration_template_v1(types[0].script_name)
    assert template.type == types[0].type


def test_sdk_lists_completes_and_forwards_work_items(fake: FakeIdentityNow, client: ApiClient) -> None:
    source = fake.add_source("Badge System")
    created = fake.add_manual_work_item(source["id"], "Create", "amos", {"email": "amos@example.com"})
    modified = fake.add_manual_work_item(source["id"], "Modify", "amos", [("groups", "Add", "Lobby")])
    helpdesk = fake.add_identity("helpdesk")
    api = WorkItemsApi(client)

    pending = api.list_work_items_v1()
    assert [item.id for item in pending] == [created["id"], modified["id"]]
    assert pending[0].type == "ManualAction"
    assert pending[0].state == "Pending"
    assert pending[0].approval_items is not None
    assert pending[0].approval_items[0].name == "email"
    assert api.get_count_work_items_v1().count == 2

    done = api.complete_work_item_v1(created["id"])
    assert done.state == "Finished"
    assert done.completed is not None
    assert len(fake.completions(created["id"])) == 1

    api.forward_work_item_v1(modified["id"], WorkItemForward(target_owner_id=helpdesk["id"], comment="Ticket failed"))
    assert fake.forwards(modified["id"])[0].comment == "Ticket failed"
    assert api.list_work_items_v1() == []
    assert [item.id for item in api.list_work_items_v1(owner_id=helpdesk["id"])] == [modified["id"]]

    summary = api.get_work_items_summary_v1()
    assert (summary.open, summary.completed, summary.total) == (0, 1, 1)
    assert [item.id for item in api.get_completed_work_items_v1()] == [created["id"]]
    assert api.get_work_item_v1(created["id"]).state == "Finished"

    with pytest.raises(BadRequestException) as again:
        api.complete_work_item_v1(created["id"])
    assert again.value.status == 400


def test_sdk_reads_account_activities(fake: FakeIdentityNow, client: ApiClient) -> None:
    source = fake.add_source("Badge System")
    item = fake.add_manual_work_item(source["id"], "Disable", "amos")
    WorkItemsApi(client).complete_work_item_v1(item["id"])
    api = AccountActivitiesApi(client)
    (activity,) = api.list_account_activities_v1(sorters="-created", filters='type eq "AccountStateUpdate"')
    assert activity.completion_status == "SUCCESS"
    assert activity.items is not None
    assert activity.items[0].provisioning_status == "COMMITED"
    assert api.get_account_activity_v1(activity.id).id == activity.id


def test_sdk_manages_sim_integrations_with_the_experimental_header(fake: FakeIdentityNow, client: ApiClient) -> None:
    source = fake.add_source("Badge System")
    api = SIMIntegrationsApi(client)
    example: dict[str, Any] = FakeIdentityNow.example_sim_integration([source["id"]])
    created = api.create_sim_integration_v1(SimIntegrationDetails.from_dict(example), x_sail_point_experimental="true")
    assert created.name == example["name"]
    assert created.type == "ServiceNow Service Desk"
    listed = api.get_sim_integrations_v1(x_sail_point_experimental="true")
    assert [i.id for i in listed] == [created.id]
    fetched = api.get_sim_integration_v1(created.id, x_sail_point_experimental="true")
    assert fetched.id == created.id
    assert fake.sim_integrations()[0]["statusMap"]["closed_complete"] == "Committed"

    patched = api.patch_sim_attributes_v1(
        created.id,
        JsonPatch(
            operations=[
                SimJsonPatchOperation(op="replace", path="/description", value=SimJsonPatchOperationValue("Patched"))
            ]
        ),
        x_sail_point_experimental="true",
    )
    assert patched.description == "Patched"

    api.delete_sim_integration_v1(created.id, x_sail_point_experimental="true")
    assert fake.sim_integrations() == []


def test_sdk_without_the_experimental_header_gets_a_400(fake: FakeIdentityNow, client: ApiClient) -> None:
    with pytest.raises(BadRequestException) as refused:
        SIMIntegrationsApi(client).get_sim_integrations_v1()
    assert refused.value.status == 400


def test_sdk_sees_401_once_its_token_expires(fake: FakeIdentityNow, client: ApiClient) -> None:
    fake.expire_tokens()
    with pytest.raises(UnauthorizedException) as expired:
        SourcesApi(client).list_sources_v1()
    assert expired.value.status == 401


def test_sdk_over_tls_with_the_fake_ca(fake: FakeIdentityNow) -> None:
    fake.add_source("Badge System")
    with serve(fake, tls=True) as served:
        params = ConfigurationParams()
        params.base_url = served.url
        # The SDK fetches tokens with a bare urllib3 pool that cannot take a CA bundle: hand it a token.
        params.access_token = fake.issue_token()
        configuration = Configuration(params)
        configuration.ssl_ca_cert = served.ca_bundle
        sources = SourcesApi(ApiClient(configuration)).list_sources_v1()
    assert [source.name for source in sources] == ["Badge System"]
