"""Provisioning plans: the models, and building them from JSON, work items and events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from sim_servicenow.errors import DecodeError
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    Identity,
    ProvisioningPlan,
)

SPECS = Path(os.environ.get("SIM_SERVICENOW_SAILPOINT_SPECS", "/work/shared/specs/sailpoint"))


def test_attribute_values_are_text_or_tuples_of_text() -> None:
    assert AttributeRequest("a", value=True).value == "true"
    assert AttributeRequest("a", value=3).value == "3"
    assert AttributeRequest("a", value=["x", 1]).value == ("x", "1")
    assert AttributeRequest("a").values == ()
    assert AttributeRequest("a", value="x").values == ("x",)
    assert AttributeRequest("a", value=("x", "y")).values == ("x", "y")


def test_models_are_frozen_and_hashable() -> None:
    plan = ProvisioningPlan("k", account_requests=[AccountRequest(AccountOperation.CREATE)])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        plan.key = "other"  # type: ignore[misc]
    assert isinstance(plan.account_requests, tuple)
    assert hash(plan) == hash(ProvisioningPlan("k", account_requests=(AccountRequest(AccountOperation.CREATE),)))


@pytest.mark.parametrize(("text", "expected"), [("create", "Create"), ("DISABLE", "Disable"), (" Unlock ", "Unlock")])
def test_operations_parse_in_any_case(text: str, expected: str) -> None:
    assert AccountOperation.parse(text).value == expected


def test_unknown_operations_are_refused() -> None:
    with pytest.raises(ValueError, match="'Frob' is not one of Create, Modify"):
        AccountOperation.parse("Frob")
    with pytest.raises(ValueError, match="'Keep' is not one of Add, Remove, Set"):
        AttributeOperation.parse("Keep")


def test_labels_fall_back_sensibly() -> None:
    assert Identity(id="i", name="n", display_name="D").label == "D"
    assert Identity(id="i", name="n").label == "n"
    assert Identity().label == "(unknown identity)"
    assert AccountRequest(AccountOperation.CREATE, source_id="s").source_label == "s"


# --- plain JSON ---------------------------------------------------------------------------------------------------

RECOMMENDED_JSON: dict[str, Any] = {
    "trackingNumber": "051d09b0bb5b453d91f658ba7f1e3171",
    "arguments": {"identityRequestId": "0000001234", "requester": "x", "flow": "AccessRequest"},
    "identity": {
        "id": "ef1e2a36099447cb9448c68e1804dd9f",
        "name": "amos.cunningham",
        "attributes": {"displayName": "Amos Cunningham", "email": "amos@example.com"},
    },
    "accountRequests": [
        {
            "applicationId": "5c71ff71195b4794a0b87e7cf36fb017",
            "applicationName": "Badge System",
            "nativeIdentity": "amos.cunningham",
            "op": "Modify",
            "trackingId": "uuid",
            "attributeRequests": [{"name": "groups", "op": "Add", "value": "Lobby"}],
        }
    ],
}


def test_the_recommended_plan_json_of_the_reference_loads() -> None:
    plan = ProvisioningPlan.from_json(RECOMMENDED_JSON)
    assert plan.key == "051d09b0bb5b453d91f658ba7f1e3171"
    assert plan.identity == Identity(
        "ef1e2a36099447cb9448c68e1804dd9f",
        "amos.cunningham",
        "Amos Cunningham",
        {"displayName": "Amos Cunningham", "email": "amos@example.com"},
    )
    assert plan.arguments["identityRequestId"] == "0000001234"
    assert plan.account_requests == (
        AccountRequest(
            AccountOperation.MODIFY,
            "5c71ff71195b4794a0b87e7cf36fb017",
            "Badge System",
            "amos.cunningham",
            "uuid",
            (AttributeRequest("groups", AttributeOperation.ADD, "Lobby"),),
        ),
    )


def test_plan_json_round_trips_through_text() -> None:
    plan = ProvisioningPlan.from_json(RECOMMENDED_JSON)
    assert ProvisioningPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_to_json_writes_sailpoint_vocabulary() -> None:
    data = ProvisioningPlan.from_json(RECOMMENDED_JSON).to_json()
    assert data["trackingNumber"] == "051d09b0bb5b453d91f658ba7f1e3171"
    request = data["accountRequests"][0]
    assert (request["op"], request["applicationId"], request["applicationName"]) == (
        "Modify",
        "5c71ff71195b4794a0b87e7cf36fb017",
        "Badge System",
    )
    assert request["attributeRequests"] == [{"name": "groups", "op": "Add", "value": "Lobby"}]


def test_search_document_style_spellings_are_accepted() -> None:
    plan = ProvisioningPlan.from_json(
        {
            "key": "k",
            "accountRequests": [
                {
                    "accountId": "jdoe",
                    "operation": "disable",
                    "source": {"id": "s1", "name": "AD", "type": "SOURCE"},
                    "attributeRequests": [{"attributeName": "groups", "operation": "remove", "attributeValue": ["a"]}],
                    "somethingNew": 1,
                }
            ],
            "unknownTopLevel": {"x": 1},
        }
    )
    assert plan.account_requests[0] == AccountRequest(
        AccountOperation.DISABLE,
        "s1",
        "AD",
        "jdoe",
        attribute_requests=(AttributeRequest("groups", AttributeOperation.REMOVE, ("a",)),),
    )


def test_bad_plan_json_lists_every_problem_with_wire_paths() -> None:
    with pytest.raises(DecodeError) as caught:
        ProvisioningPlan.from_json(
            {"identity": 3, "accountRequests": [{"op": "frob", "attributeRequests": [{"value": {}}]}]}
        )
    message = str(caught.value)
    assert message.startswith("not a provisioning plan: ")
    for expected in (
        "trackingNumber: required",
        "identity: expected an object, got int",
        "accountRequests[0].op: 'frob' is not one of Create",
        "accountRequests[0].attributeRequests[0].name: required",
        "accountRequests[0].attributeRequests[0].value: expected text or a list of text, got dict",
    ):
        assert expected in message
    assert "\n" not in message


def test_plan_json_must_be_an_object() -> None:
    with pytest.raises(DecodeError, match="expected a JSON object, got list"):
        ProvisioningPlan.from_json([])  # type: ignore[arg-type]


# --- manual work items ------------------------------------------------------------------------------------------


def spec_example(file: str, schema: str) -> dict[str, Any]:
    """An object built from the property examples of a schema in SailPoint's OpenAPI file."""
    document = json.loads((SPECS / file).read_text())
    properties = document["components"]["schemas"][schema]["properties"]
    return {name: prop["example"] for name, prop in properties.items() if "example" in prop}


def test_a_work_item_with_approval_items_becomes_one_request_per_source_and_account() -> None:
    work_item = {
        "id": "2c9180835d2e5168015d32f890ca1581",
        "name": "Account Modify",
        "description": "Modify account on source 'Active Directory'",
        "requesterId": "r1",
        "requesterDisplayName": "John Smith",
        "created": "2017-07-11T18:45:37.098Z",
        "approvalItems": [
            {
                "id": "a1",
                "account": "john.smith",
                "application": "Active Directory",
                "name": "groups",
                "operation": "Add",
                "value": "Admins",
                "state": "Pending",
            },
            {
                "id": "a2",
                "account": "john.smith",
                "application": "Active Directory",
                "name": "mail",
                "operation": "update",
                "value": "a@b.com",
            },
            {
                "id": "a3",
                "account": "jsmith",
                "application": "Badge",
                "name": "groups",
                "operation": "remove",
                "value": "Lobby",
            },
        ],
    }
    plan = ProvisioningPlan.from_work_item(work_item, source_ids={"Active Directory": "ad-id"})
    assert plan.key == "2c9180835d2e5168015d32f890ca1581"
    assert plan.arguments["requesterDisplayName"] == "John Smith"
    assert plan.arguments["created"] == "2017-07-11T18:45:37.098000Z"
    assert plan.account_requests == (
        AccountRequest(
            AccountOperation.MODIFY,
            "ad-id",
            "Active Directory",
            "john.smith",
            attribute_requests=(
                AttributeRequest("groups", AttributeOperation.ADD, "Admins"),
                AttributeRequest("mail", AttributeOperation.SET, "a@b.com"),
            ),
        ),
        AccountRequest(
            AccountOperation.MODIFY,
            None,
            "Badge",
            "jsmith",
            attribute_requests=(AttributeRequest("groups", AttributeOperation.REMOVE, "Lobby"),),
        ),
    )


@pytest.mark.parametrize(
    ("name", "description", "operation"),
    [
        ("Account Create", None, AccountOperation.CREATE),
        (None, "Create account on source 'AD'", AccountOperation.CREATE),
        ("Manual task", "Disable account on source 'AD'", AccountOperation.DISABLE),
        ("Unlock account", None, AccountOperation.UNLOCK),
        ("Lock account", None, AccountOperation.LOCK),
        ("Account Delete", None, AccountOperation.DELETE),
        ("Something", "Please look", AccountOperation.MODIFY),
    ],
)
def test_the_account_operation_is_read_from_the_work_item_text(
    name: str | None, description: str | None, operation: AccountOperation
) -> None:
    plan = ProvisioningPlan.from_work_item({"id": "w", "name": name, "description": description})
    assert plan.account_requests[0].operation is operation


def test_a_work_item_without_items_names_its_source_in_the_description() -> None:
    plan = ProvisioningPlan.from_work_item({"id": "w", "description": "Create account on source 'HR Portal'"})
    assert plan.account_requests == (AccountRequest(AccountOperation.CREATE, source_name="HR Portal"),)


def test_remediation_items_carry_the_identity() -> None:
    plan = ProvisioningPlan.from_work_item(
        {
            "id": "w",
            "name": "Remediation",
            "remediationItems": [
                {
                    "id": "r",
                    "targetId": "t1",
                    "targetName": "john.smith",
                    "targetDisplayName": "John Smith",
                    "applicationName": "Active Directory",
                    "attributeName": "phoneNumber",
                    "attributeOperation": "remove",
                    "attributeValue": "512-555-1212",
                    "nativeIdentity": "jason.smith2",
                }
            ],
        }
    )
    assert plan.identity == Identity("t1", "john.smith", "John Smith")
    assert plan.account_requests[0].native_identity == "jason.smith2"
    assert plan.account_requests[0].attribute_requests == (
        AttributeRequest("phoneNumber", AttributeOperation.REMOVE, "512-555-1212"),
    )


def test_the_spec_work_item_example_loads() -> None:
    work_item = spec_example("isc-v3-subset.json", "WorkItems")
    work_item["approvalItems"] = [spec_example("isc-v3-subset.json", "ApprovalItemDetails")]
    work_item["remediationItems"] = [spec_example("isc-v3-subset.json", "RemediationItemDetails")]
    plan = ProvisioningPlan.from_work_item(work_item)
    assert plan.key == "2c9180835d2e5168015d32f890ca1581"
    assert {r.source_name for r in plan.account_requests} == {"Active Directory"}


def test_a_bad_work_item_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"not a work item: id: required; approvalItems: expected"):
        ProvisioningPlan.from_work_item({"approvalItems": 3})


# --- the Provisioning Completed event ---------------------------------------------------------------------------

EVENT: dict[str, Any] = {
    "trackingNumber": "4b4d982dddff4267ab12f0f1e72b5a6d",
    "sources": "Corp AD, Corp LDAP, Corp Salesforce",
    "action": "IdentityRefresh",
    "errors": ["General Error"],
    "warnings": ["Notification Skipped due to invalid email"],
    "recipient": {"type": "IDENTITY", "id": "2c91808568c529c60168cca6f90c1313", "name": "William Wilson"},
    "requester": {"type": "IDENTITY", "id": "2c91808568c529c60168cca6f90c1314", "name": "Rick Sanchez"},
    "accountRequests": [
        {
            "source": {
                "id": "4e4d982dddff4267ab12f0f1e72b5a6d",
                "type": "SOURCE",
                "name": "Corporate Active Directory",
            },
            "accountId": "CN=Rick Sanchez,OU=Engineering,OU=Austin,DC=sailpoint,DC=com",
            "accountOperation": "Modify",
            "provisioningResult": "SUCCESS",
            "provisioningTarget": "Corp AD",
            "ticketId": "72619262",
            "attributeRequests": [
                {"attributeName": "memberOf", "attributeValue": "CN=jedi,DC=starwars,DC=com", "operation": "Add"}
            ],
        }
    ],
}


def test_a_provisioning_completed_event_becomes_a_plan() -> None:
    plan = ProvisioningPlan.from_provisioning_event(EVENT)
    assert plan.key == "4b4d982dddff4267ab12f0f1e72b5a6d"
    assert plan.identity == Identity(id="2c91808568c529c60168cca6f90c1313", display_name="William Wilson")
    assert plan.arguments == {
        "action": "IdentityRefresh",
        "sources": "Corp AD, Corp LDAP, Corp Salesforce",
        "requester": {"type": "IDENTITY", "id": "2c91808568c529c60168cca6f90c1314", "name": "Rick Sanchez"},
        "errors": ["General Error"],
        "warnings": ["Notification Skipped due to invalid email"],
    }
    assert plan.account_requests == (
        AccountRequest(
            AccountOperation.MODIFY,
            "4e4d982dddff4267ab12f0f1e72b5a6d",
            "Corporate Active Directory",
            "CN=Rick Sanchez,OU=Engineering,OU=Austin,DC=sailpoint,DC=com",
            attribute_requests=(AttributeRequest("memberOf", AttributeOperation.ADD, "CN=jedi,DC=starwars,DC=com"),),
        ),
    )


def test_an_event_without_required_parts_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"accountRequests\[0\].source: required"):
        ProvisioningPlan.from_provisioning_event(
            {"trackingNumber": "t", "accountRequests": [{"accountOperation": "Create"}]}
        )
