"""Request templates: SailPoint's variable model, the default template set, the field-routing rule."""

from __future__ import annotations

import pytest

from sim_servicenow.errors import TemplateError
from sim_servicenow.mapping import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    Identity,
    ProvisioningPlan,
    RenderedFields,
    RenderLimits,
    RequestTemplate,
    TicketType,
    template_context,
)

PLAN = ProvisioningPlan(
    "plan-1",
    Identity("i1", "amos.cunningham", "Amos Cunningham", {"email": "amos@example.com"}),
    {"identityRequestId": "0000001234", "uid": "amos.cunningham", "displayName": "Amos Cunningham"},
    [
        AccountRequest(
            AccountOperation.MODIFY,
            "s1",
            "Badge System",
            "amos",
            "t1",
            [
                AttributeRequest("groups", AttributeOperation.ADD, ["Lobby", "Garage"]),
                AttributeRequest("groups", AttributeOperation.REMOVE, "Roof"),
            ],
        ),
        AccountRequest(AccountOperation.DISABLE, "s2", "HR Portal", "amos.c"),
        AccountRequest(AccountOperation.ENABLE, "s2", "HR Portal", "amos.d"),
        AccountRequest(AccountOperation.UNLOCK, "s3", "VPN", "amos"),
        AccountRequest(AccountOperation.CREATE, "s4", "Wiki", None, None, [AttributeRequest("email", value="a@b.c")]),
        AccountRequest(AccountOperation.DELETE, "s5", "Legacy", "amos.old"),
    ],
)


def render(source: str, plan: ProvisioningPlan = PLAN) -> str:
    return RequestTemplate({"f": source}).render(plan)["f"]


def test_the_generic_sdim_style_template_reads_the_plan() -> None:
    source = (
        "#foreach($req in $plan.requests)"
        "#if($req.operation == 'Create')Create Account on application $req.resource"
        "#else For $req.id in application $req.resource#end"
        "#foreach($item in $req.items)"
        "#if($item.name == '*disabled*' && $item.value == 'true') Disable"
        "#elseif($item.name == '*disabled*') Enable"
        "#elseif($item.name == '*locked*') Unlock"
        "#else $item.Operation $item.name: $item.value#end"
        "#end;#end"
    )
    assert render(source) == (
        " For amos in application Badge System Add groups: [Lobby, Garage] Remove groups: Roof;"
        " For amos.c in application HR Portal Disable;"
        " For amos.d in application HR Portal Enable;"
        " For amos in application VPN Unlock;"
        "Create Account on application Wiki Set email: a@b.c;"
        " For amos.old in application Legacy;"
    )


def test_aliases_of_the_variable_model() -> None:
    source = (
        "$plan.trackingNumber $plan.key $plan.accountRequests.size() "
        "${plan.requests[0].Operation} ${plan.requests[0].op} ${plan.requests[0].application} "
        "${plan.requests[0].sourceId} ${plan.requests[0].nativeIdentity} ${plan.requests[0].trackingId} "
        "${plan.requests[0].attributeRequests[0].op} ${plan.requests[0].items[0].values.size()} "
        "$plan.arguments.uid $plan.arguments.displayName $identity.displayName $plan.identity.attributes.email"
    )
    assert render(source) == (
        "plan-1 plan-1 6 Modify Modify Badge System s1 amos t1 Add 2 amos.cunningham Amos Cunningham "
        "Amos Cunningham amos@example.com"
    )


def test_pseudo_items_are_added_only_when_missing() -> None:
    plan = ProvisioningPlan(
        "k",
        account_requests=[
            AccountRequest(AccountOperation.DISABLE, attribute_requests=[AttributeRequest("*disabled*", value="true")])
        ],
    )
    items = template_context(plan)["plan"]["requests"][0]["items"]
    assert items == [
        {"name": "*disabled*", "value": "true", "values": ["true"], "operation": "Set", "Operation": "Set", "op": "Set"}
    ]
    lock = template_context(ProvisioningPlan("k", account_requests=[AccountRequest(AccountOperation.LOCK)]))
    assert lock["plan"]["requests"][0]["items"][0]["name"] == "*locked*"
    assert lock["plan"]["requests"][0]["items"][0]["value"] == "true"


def test_context_is_plain_data_and_restricted_to_the_given_requests() -> None:
    context = template_context(PLAN, PLAN.account_requests[:1])
    assert context["newline"] == "\n"
    assert len(context["plan"]["requests"]) == 1
    allowed = (dict, list, str, int, float, bool, type(None))

    def walk(value: object) -> None:
        assert isinstance(value, allowed)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(context)


def test_missing_optional_values_render_quietly_with_quiet_references() -> None:
    plan = ProvisioningPlan("k", account_requests=[AccountRequest(AccountOperation.CREATE)])
    assert render("[$!plan.requests[0].id][$!plan.arguments.identityRequestId]", plan) == "[][]"
    assert render("[$plan.requests[0].id]", plan) == "[$plan.requests[0].id]"


# --- SailPoint's own example -----------------------------------------------------------------------------------------

SAILPOINT_REQUEST = {
    "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
    "description": "SailPoint Access Request",
    "req_short_description": "SailPoint New Access Request Created from IdentityNow",
    "req_description": "The Service Request created by SailPoint ServiceNow Service Integration Module (SIM).",
}


def test_sailpoints_example_request_renders_unchanged() -> None:
    rendered = RequestTemplate(SAILPOINT_REQUEST).render(PLAN)
    assert rendered == {
        "short_description": "SailPoint Access Request 0000001234",
        "description": "SailPoint Access Request",
        "req_short_description": "SailPoint New Access Request Created from IdentityNow",
        "req_description": "The Service Request created by SailPoint ServiceNow Service Integration Module (SIM).",
    }


def test_the_robinson_gist_style_catalog_variables_render() -> None:
    template = RequestTemplate({"employee_id": "$plan.arguments.uid", "employee_name": "$plan.arguments.displayName"})
    assert template.render(PLAN) == {"employee_id": "amos.cunningham", "employee_name": "Amos Cunningham"}


# --- routing rule ----------------------------------------------------------------------------------------------------


def test_prefixes_route_fields_to_their_records() -> None:
    fields = RenderedFields.from_rendered(
        {"short_description": "a", "req_short_description": "b", "ritm_description": "c", "req_": "d", "u_x": "e"}
    )
    assert fields.ticket == {"short_description": "a", "req_": "d", "u_x": "e"}
    assert fields.request == {"short_description": "b"}
    assert fields.item == {"description": "c"}


# --- the default template set ----------------------------------------------------------------------------------------


def test_default_table_template_writes_a_useful_ticket() -> None:
    rendered = RequestTemplate.default().render(PLAN)
    assert rendered["short_description"] == "6 account changes for Amos Cunningham"
    assert rendered["description"] == (
        "Please make the following account changes for Amos Cunningham (amos.cunningham).\n"
        "IdentityNow access request: 0000001234\n"
        "\n"
        "1. Modify the account amos on Badge System\n"
        "   - Add groups: Lobby, Garage\n"
        "   - Remove groups: Roof\n"
        "2. Disable the account amos.c on HR Portal\n"
        "   - Disable the account\n"
        "3. Enable the account amos.d on HR Portal\n"
        "   - Enable the account\n"
        "4. Unlock the account amos on VPN\n"
        "   - Unlock the account\n"
        "5. Create an account on Wiki\n"
        "   - Set email to a@b.c\n"
        "6. Delete the account amos.old on Legacy\n"
        "\n"
        "When the changes are made, close this ticket as complete. If they cannot be made, close it as incomplete "
        "and say why in the work notes.\n"
        "Ticket created by sim-servicenow for IdentityNow provisioning plan plan-1."
    )


def test_default_short_description_of_one_request() -> None:
    one = RequestTemplate.default().render(PLAN, PLAN.account_requests[:1])
    assert one["short_description"] == "Modify account amos on Badge System for Amos Cunningham"
    create = RequestTemplate.default().render(PLAN, PLAN.account_requests[4:5])
    assert create["short_description"] == "Create account on Wiki for Amos Cunningham"


def test_default_template_without_identity_or_request_id() -> None:
    plan = ProvisioningPlan(
        "k",
        account_requests=[AccountRequest(AccountOperation.MODIFY, None, "AD", "x", None, [AttributeRequest("title")])],
    )
    rendered = RequestTemplate.default().render(plan)
    assert rendered["short_description"] == "Modify account x on AD for (unknown identity)"
    assert "IdentityNow access request" not in rendered["description"]
    assert "   - Set title (no value)\n" in rendered["description"]
    assert "$" not in rendered["description"]


def test_default_catalog_template_fills_the_req_and_the_ritm() -> None:
    template = RequestTemplate.default(TicketType.CATALOG)
    assert set(template.fields) == {
        "req_short_description",
        "req_description",
        "ritm_short_description",
        "ritm_description",
    }
    assert template.fields["req_description"] == RequestTemplate.default().fields["description"]


def test_render_only_selected_fields() -> None:
    assert set(RequestTemplate.default().render(PLAN, only=["short_description"])) == {"short_description"}


def test_templates_compile_when_made() -> None:
    with pytest.raises(TemplateError) as caught:
        RequestTemplate({"ok": "fine", "description": "line\n#if($x"})
    assert caught.value.field == "description"
    assert caught.value.line == 2
    with pytest.raises(TemplateError, match="expected template text, got int"):
        RequestTemplate({"n": 3})  # type: ignore[dict-item]


def test_strict_templates_refuse_missing_values() -> None:
    template = RequestTemplate({"short_description": "For $plan.arguments.nothing"}, strict=True)
    with pytest.raises(TemplateError, match="field 'short_description', line 1, column 5"):
        template.render(PLAN)


def test_limits_apply_per_template() -> None:
    template = RequestTemplate({"d": "#foreach($i in [1..50])abc#end"}, limits=RenderLimits(max_output_chars=20))
    assert len(template.render(PLAN)["d"]) == 20


def test_equality_ignores_the_compiled_form() -> None:
    assert RequestTemplate(SAILPOINT_REQUEST) == RequestTemplate(dict(SAILPOINT_REQUEST))
    assert RequestTemplate(SAILPOINT_REQUEST) != RequestTemplate(SAILPOINT_REQUEST, strict=True)
