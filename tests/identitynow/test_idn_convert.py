"""The IdentityNow converter against SailPoint's own OpenAPI examples and schemas, and its wire rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_servicenow.errors import DecodeError
from sim_servicenow.identitynow import (
    AccountActivity,
    PatchOperation,
    ProvisioningConfig,
    ProvisioningState,
    Reference,
    ServiceDeskIntegration,
    ServiceDeskIntegrationTemplate,
    ServiceDeskIntegrationType,
    SimIntegration,
    Source,
    StatusCheckConfiguration,
    WorkItem,
    WorkItemsSummary,
    WorkItemState,
    make_converter,
)
from sim_servicenow.identitynow._convert import structure, unstructure

STRICT = make_converter(strict=True)
UTC = timezone.utc

# --------------------------------------------------------------------------------- SailPoint's examples


def test_service_desk_integration_example_reads_with_one_truth(v3_spec: Any) -> None:
    example = v3_spec.example(v3_spec.response_schema("/service-desk-integrations/{id}", "get"))
    # The example's deprecated mirrors disagree with the current fields on purpose: the current ones win.
    assert example["cluster"] != example["clusterRef"]["id"]
    integration = structure(example, ServiceDeskIntegration, converter=STRICT)
    assert integration.id == "62945a496ef440189b1f03e3623411c8"
    assert integration.created == datetime(2024, 1, 17, 18, 45, 25, 994000, tzinfo=UTC)
    assert integration.owner_ref == Reference("IDENTITY", "2c9180a46faadee4016fb4e018c20639", "Support")
    assert integration.cluster_id == "2c9180847a7fccdd017aa5896f9f4f6f"
    assert integration.managed_source_ids == ("2c9180855d191c59015d291ceb051111", "2c9180855d191c59015d291ceb052222")
    config = integration.provisioning_config
    assert config is not None
    assert config.plan_initializer_script is not None
    assert config.plan_initializer_script.startswith("<?xml")
    assert config.provisioning_request_expiration == 7
    assert integration.before_provisioning_rule == Reference(
        "RULE", "048eb3d55c5a4758bd07dccb87741c78", "Before Provisioning Airtable Rule"
    )
    assert dict(integration.attributes) == {"property": "value", "key": "value"}


@pytest.mark.parametrize(
    ("spec_fixture", "path"),
    [("v3_spec", "/service-desk-integrations"), ("sdim_v1_spec", "/service-desk-integrations/v1")],
)
def test_written_service_desk_integration_satisfies_the_request_schema(
    spec_fixture: str, path: str, request: pytest.FixtureRequest
) -> None:
    spec = request.getfixturevalue(spec_fixture)
    integration = structure(spec.example(spec.response_schema(path + "/{id}", "get")), ServiceDeskIntegration)
    body = unstructure(integration)
    spec.validate(body, spec.request_schema(path, "post"))
    spec.validate(body, spec.request_schema(path + "/{id}", "put"))
    # One truth, written back with its mirrors; read-only fields are left out.
    assert body["cluster"] == body["clusterRef"]["id"]
    assert body["managedSources"] == [ref["id"] for ref in body["provisioningConfig"]["managedResourceRefs"]]
    assert "universalManager" not in body["provisioningConfig"]
    assert "created" not in body
    assert "modified" not in body


def test_types_and_template_examples(v3_spec: Any) -> None:
    types = structure(
        v3_spec.example(v3_spec.response_schema("/service-desk-integrations/types", "get")),
        tuple[ServiceDeskIntegrationType, ...],
        converter=STRICT,
    )
    assert types == (ServiceDeskIntegrationType(type="aType", script_name="aScriptName", name="aName"),)
    template = structure(
        v3_spec.example(v3_spec.response_schema("/service-desk-integrations/templates/{scriptName}", "get")),
        ServiceDeskIntegrationTemplate,
        converter=STRICT,
    )
    assert template.type == "Web Service SDIM"
    assert template.created == datetime(2015, 5, 28, 14, 7, 17, tzinfo=UTC)
    assert template.provisioning_config is not None
    assert template.provisioning_config.universal_manager is True


def test_status_check_configuration_is_strings_on_the_wire_and_integers_here(v3_spec: Any) -> None:
    path = "/service-desk-integrations/status-check-configuration"
    # SailPoint's example gives numbers although the schema says strings: both are read.
    example = v3_spec.example(v3_spec.response_schema(path, "get"))
    assert example == {"provisioningStatusCheckIntervalMinutes": 30, "provisioningMaxStatusCheckDays": 2}
    config = structure(example, StatusCheckConfiguration, converter=STRICT)
    assert config == structure(
        {"provisioningStatusCheckIntervalMinutes": "30", "provisioningMaxStatusCheckDays": "2"},
        StatusCheckConfiguration,
    )
    assert config.check_interval == timedelta(minutes=30)
    assert config.max_check_duration == timedelta(days=2)
    body = unstructure(config)
    assert body == {"provisioningStatusCheckIntervalMinutes": "30", "provisioningMaxStatusCheckDays": "2"}
    v3_spec.validate(body, v3_spec.request_schema(path, "put"))


@pytest.mark.parametrize("bad", ["thirty", "", None, True, 1.5])
def test_status_check_configuration_rejects_non_integers(bad: object) -> None:
    with pytest.raises(DecodeError, match="provisioning_status_check_interval_minutes"):
        structure(
            {"provisioningStatusCheckIntervalMinutes": bad, "provisioningMaxStatusCheckDays": "2"},
            StatusCheckConfiguration,
        )


@pytest.mark.parametrize(
    ("spec_fixture", "path"), [("v3_spec", "/work-items"), ("work_items_v1_spec", "/work-items/v1")]
)
def test_work_item_examples(spec_fixture: str, path: str, request: pytest.FixtureRequest) -> None:
    spec = request.getfixturevalue(spec_fixture)
    (item,) = structure(spec.example(spec.response_schema(path, "get")), tuple[WorkItem, ...], converter=STRICT)
    assert item.state == WorkItemState.FINISHED
    assert not item.is_pending
    assert item.completed == datetime(2018, 10, 19, 13, 49, 37, 385000, tzinfo=UTC)
    (approval,) = item.approval_items
    assert (approval.account, approval.application, approval.name, approval.value) == (
        "john.smith",
        "Active Directory",
        "emailAddress",
        "a@b.com",
    )
    assert item.remediation_items[0].native_identity == "jason.smith2"
    assert item.form is not None
    assert item.form.target_user == "Jane.Doe"
    assert item.form.sections[0].label == "Section 1"
    assert item.errors == ("The work item ID that was specified was not found.",)
    summary = structure(spec.example(spec.response_schema(path + "/summary", "get")), WorkItemsSummary)
    assert summary == WorkItemsSummary(open=29, completed=1, total=30)


def test_account_activity_example(v3_spec: Any) -> None:
    (activity,) = structure(
        v3_spec.example(v3_spec.response_schema("/account-activities", "get")),
        tuple[AccountActivity, ...],
        converter=STRICT,
    )
    assert activity.completion_status == "SUCCESS"
    assert activity.requester_identity_summary is not None
    assert activity.requester_identity_summary.identity_id == "c15b9f5cca5a4e9599eaa0e64fa921bd"
    (item,) = activity.items
    assert item.provisioning_status == ProvisioningState.PENDING
    assert item.requester_comment is not None
    assert item.requester_comment.date == datetime(2017, 7, 11, 18, 45, 37, 98000, tzinfo=UTC)
    assert item.account_request_info is not None
    assert item.account_request_info.requested_object_type == "ACCESS_PROFILE"
    assert dict(activity.client_metadata) == {"customKey1": "custom value 1", "customKey2": "custom value 2"}


#: Source properties the model leaves out on purpose: nothing in the SIM set-up or the engine needs them.
UNMODELLED_SOURCE_PROPERTIES = {
    "accountCorrelationConfig",
    "accountCorrelationRule",
    "managerCorrelationMapping",
    "managerCorrelationRule",
    "schemas",
    "passwordPolicies",
    "deleteThreshold",
    "since",
    "credentialProviderEnabled",
    "category",
}


def test_source_example(v3_spec: Any) -> None:
    (example,) = v3_spec.example(v3_spec.response_schema("/sources", "get"))
    (source,) = structure([example], tuple[Source, ...])
    assert source.id == "2c91808568c529c60168cca6f90c1324"
    assert source.owner == Reference("IDENTITY", "2c91808568c529c60168cca6f90c1313", "MyName")
    assert source.cluster is not None
    assert source.cluster.name == "Corporate Cluster"
    assert "PROVISIONING" in source.features
    assert source.connector_attributes["healthCheckTimeout"] == 30
    # The strict converter names exactly the properties the model leaves out.
    with pytest.raises(DecodeError) as raised:
        structure(example, Source, converter=STRICT)
    unknown = str(raised.value).split("extra fields found (")[1].split(")")[0].split(", ")
    assert set(unknown) == UNMODELLED_SOURCE_PROPERTIES


@pytest.mark.parametrize(
    ("spec_fixture", "path"), [("beta_sim_spec", "/sim-integrations"), ("sim_v1_spec", "/sim-integrations/v1")]
)
def test_sim_integration_example_round_trips_through_the_request_schema(
    spec_fixture: str, path: str, request: pytest.FixtureRequest
) -> None:
    spec = request.getfixturevalue(spec_fixture)
    example = spec.example(spec.request_schema(path, "post"))
    # SailPoint's example gives ``attributes`` as a JSON string (a documentation artefact): it is read as an object.
    assert isinstance(example["attributes"], str)
    sim = structure(example, SimIntegration, converter=STRICT)
    assert sim.attributes["uid"] == "Walter White"
    assert sim.sources == ("2c9180835d191a86015d28455b4a2329", "2c5680835d191a85765d28455b4a9823")
    assert sim.cluster == "xyzzy999"
    assert sim.status_map["closed_complete"] == "Committed"
    assert sim.request["short_description"] == "SailPoint Access Request $!plan.arguments.identityRequestId"
    body = unstructure(sim)
    spec.validate(body, spec.request_schema(path, "post"))
    spec.validate(body, spec.request_schema(path + "/{id}", "put"))
    assert structure(body, SimIntegration) == attrs.evolve(sim, created=None, modified=None)


def test_sim_integration_answered_in_the_service_desk_shape_is_folded(beta_sim_spec: Any) -> None:
    # SailPoint's document describes the answers as ServiceDeskIntegrationDto: sources and cluster are read from it.
    example = beta_sim_spec.example(beta_sim_spec.response_schema("/sim-integrations/{id}", "get"))
    sim = structure(example, SimIntegration)
    assert sim.sources == tuple(example["managedSources"])
    assert sim.cluster == "xyzzy999"
    without_mirror = {k: v for k, v in example.items() if k not in ("managedSources", "cluster")}
    sim = structure(without_mirror, SimIntegration)
    assert sim.sources == tuple(ref["id"] for ref in example["provisioningConfig"]["managedResourceRefs"])
    assert sim.cluster == example["clusterRef"]["id"]


def test_json_patch_operations_satisfy_the_schemas(v3_spec: Any, beta_sim_spec: Any) -> None:
    operations = [
        PatchOperation.replace("/ownerRef", Reference("IDENTITY", "2c9180867d05b227017d09921a205b4d", "Angelo")),
        PatchOperation.replace("/description", None),
        PatchOperation("remove", "/attributes/x"),
        PatchOperation("move", "/a", from_="/b"),
    ]
    body = [unstructure(op) for op in operations]
    assert body[0] == {
        "op": "replace",
        "path": "/ownerRef",
        "value": {"type": "IDENTITY", "id": "2c9180867d05b227017d09921a205b4d", "name": "Angelo"},
    }
    assert body[1] == {"op": "replace", "path": "/description", "value": None}
    assert body[2] == {"op": "remove", "path": "/attributes/x"}
    assert body[3] == {"op": "move", "path": "/a", "from": "/b"}
    v3_spec.validate(body[:1], v3_spec.request_schema("/service-desk-integrations/{id}", "patch"))
    beta_sim_spec.validate({"operations": body[:1]}, beta_sim_spec.request_schema("/sim-integrations/{id}", "patch"))


# ----------------------------------------------------------------------------------------- wire rules


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2024-01-17T18:45:25.994Z", datetime(2024, 1, 17, 18, 45, 25, 994000, tzinfo=UTC)),
        ("2024-01-17T20:45:25+02:00", datetime(2024, 1, 17, 18, 45, 25, tzinfo=UTC)),
        ("2024-01-17T18:45:25", datetime(2024, 1, 17, 18, 45, 25, tzinfo=UTC)),
        ("2021-09-28T15:48:29.3801666300Z", datetime(2021, 9, 28, 15, 48, 29, 380166, tzinfo=UTC)),
    ],
)
def test_datetimes_become_utc_aware(wire: str, expected: datetime) -> None:
    item = structure({"id": "w", "created": wire}, WorkItem)
    assert item.created == expected
    assert item.created is not None
    assert item.created.utcoffset() == timedelta(0)


def test_datetimes_are_written_with_milliseconds_and_z() -> None:
    zone = timezone(timedelta(hours=-5))
    written = unstructure(
        ServiceDeskIntegration("x", owner_ref=None, created=datetime(2024, 1, 1, 7, 0, 0, 123456, tzinfo=zone))
    )
    assert "created" not in written  # read-only on the wire
    conv = make_converter()
    assert conv.unstructure(datetime(2024, 1, 1, 7, 0, 0, 123456, tzinfo=zone)) == "2024-01-01T12:00:00.123Z"


@pytest.mark.parametrize(
    ("wire", "cluster_id", "sources"),
    [
        ({"cluster": "old"}, "old", ()),
        ({"clusterRef": {"type": "CLUSTER", "id": "new"}}, "new", ()),
        ({"cluster": "old", "clusterRef": {"type": "CLUSTER", "id": "new"}}, "new", ()),
        ({"managedSources": ["a", "b"]}, None, ("a", "b")),
        ({"managedSources": ["a"], "provisioningConfig": {"managedResourceRefs": [{"id": "z"}]}}, None, ("z",)),
        ({"managedSources": ["a"], "provisioningConfig": {"noProvisioningRequests": True}}, None, ("a",)),
        ({"cluster": None, "managedSources": None}, None, ()),
    ],
)
def test_deprecated_mirrors_fold_into_one_truth(
    wire: dict[str, Any], cluster_id: str | None, sources: tuple[str, ...]
) -> None:
    integration = structure(
        {"name": "n", "description": "d", "type": "t", "attributes": {}, **wire}, ServiceDeskIntegration
    )
    assert integration.cluster_id == cluster_id
    assert integration.managed_source_ids == sources
    written = unstructure(integration)
    assert written.get("cluster") == cluster_id
    if integration.provisioning_config is not None:
        assert tuple(written["managedSources"]) == sources


def test_unknown_keys_are_ignored_unless_strict() -> None:
    wire = {"id": "w", "state": "Pending", "somethingNew": {"x": 1}}
    assert structure(wire, WorkItem).is_pending
    with pytest.raises(DecodeError, match=r"extra fields found \(somethingNew\)"):
        structure(wire, WorkItem, converter=STRICT)


def test_null_collections_and_flags_mean_their_defaults() -> None:
    item = structure({"id": "w", "approvalItems": None, "remediationItems": None, "errors": None}, WorkItem)
    assert (item.approval_items, item.remediation_items, item.errors) == ((), (), ())
    sim = structure({"name": "s", "attributes": None, "sources": None}, SimIntegration)
    assert dict(sim.attributes) == {}
    assert sim.sources == ()


def test_new_vocabulary_values_do_not_break_decoding() -> None:
    item = structure({"id": "w", "state": "Snoozed", "type": "Quantum"}, WorkItem)
    assert item.state == "Snoozed"
    assert not item.is_pending


@pytest.mark.parametrize(
    ("wire", "cls", "where"),
    [
        ([{"id": "a"}, {"name": "no id"}], tuple[WorkItem, ...], r"\$\[1\]\.id"),
        ({"id": "w", "created": 1234}, WorkItem, r"\$\.created"),
        ({"id": "w", "numItems": "many"}, WorkItem, r"\$\.num_items"),
        ({"id": None}, WorkItem, r"\$\.id"),
        ({"id": "s", "name": "n", "authoritative": "yes"}, Source, r"\$\.authoritative"),
        ("not an object", WorkItem, "expected a JSON object"),
    ],
)
def test_shape_errors_are_decode_errors_naming_the_place(wire: Any, cls: Any, where: str) -> None:
    with pytest.raises(DecodeError, match=where):
        structure(wire, cls)


def test_secrets_never_appear_in_a_repr() -> None:
    attributes = {"url": "https://sn.example", "username": "svc", "password": "hunter2", "clientSecret": "s3cr3t"}
    for model in (
        ServiceDeskIntegration("n", attributes=attributes),
        SimIntegration("n", attributes=attributes),
        ServiceDeskIntegrationTemplate("t", attributes=attributes),
        Source("s", "n", connector_attributes={"password": "hunter2"}),
    ):
        text = repr(model)
        assert "hunter2" not in text
        assert "s3cr3t" not in text
    assert "https://sn.example" in repr(ServiceDeskIntegration("n", attributes=attributes))


def test_models_are_frozen_including_their_mappings() -> None:
    integration = ServiceDeskIntegration("n", attributes={"url": "u"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        integration.name = "m"  # type: ignore[misc]
    with pytest.raises(TypeError):
        integration.attributes["url"] = "v"  # type: ignore[index]


# ------------------------------------------------------------------------------------------ properties

_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)
_text = st.text(max_size=40)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | _text
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_refs = st.builds(
    Reference, type=st.sampled_from(["SOURCE", "CLUSTER", "IDENTITY", "RULE"]), id=_ids, name=_text | st.none()
)
_configs = st.builds(
    ProvisioningConfig,
    managed_resource_refs=st.lists(_refs, max_size=4).map(tuple),
    plan_initializer_script=st.none() | _text,
    no_provisioning_requests=st.booleans(),
    provisioning_request_expiration=st.none() | st.integers(0, 10_000),
)


@given(
    st.builds(
        ServiceDeskIntegration,
        name=_text,
        description=_text,
        type=_text,
        attributes=st.dictionaries(_text, _json, max_size=4),
        id=st.none() | _ids,
        owner_ref=st.none() | _refs,
        cluster_ref=st.none() | _refs,
        provisioning_config=st.none() | _configs,
        before_provisioning_rule=st.none() | _refs,
    )
)
def test_service_desk_integration_round_trips(integration: ServiceDeskIntegration) -> None:
    assert structure(unstructure(integration), ServiceDeskIntegration, converter=STRICT) == integration


@given(
    st.builds(
        SimIntegration,
        name=_text,
        description=st.none() | _text,
        type=_text,
        attributes=st.dictionaries(_text, _json, max_size=4),
        sources=st.lists(_ids, max_size=4).map(tuple),
        cluster=st.none() | _ids,
        status_map=st.dictionaries(_text, st.sampled_from(["Queued", "Committed", "Failed"]), max_size=6),
        request=st.dictionaries(_text, _text, max_size=4),
        before_provisioning_rule=st.none() | _refs,
        id=st.none() | _ids,
    )
)
def test_sim_integration_round_trips(sim: SimIntegration) -> None:
    assert structure(unstructure(sim), SimIntegration, converter=STRICT) == sim
