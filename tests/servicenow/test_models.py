"""The typed models, read through the one converter from the shapes ServiceNow's docs show."""

from __future__ import annotations

import datetime as dt

import pytest

from sim_servicenow.errors import DecodeError, ValidationProblem
from sim_servicenow.servicenow import (
    DEFAULT_CHOICES,
    Cart,
    CatalogItem,
    CatalogOrder,
    Choice,
    Incident,
    JournalEntry,
    Record,
    Request,
    RequestItem,
    default_choices,
)
from sim_servicenow.servicenow._convert import structure

UTC = dt.timezone.utc
REQ = "cf56a3fcdb3a2300e890f71fbf9619ac"
USER = "5137153cc611227c000bbd1bd8cd2005"


def test_request_from_a_table_api_record() -> None:
    raw = {
        "sys_id": REQ,
        "number": "REQ0010012",
        "state": "1",
        "request_state": "in_process",
        "approval": "approved",
        "stage": "fulfillment",
        "active": "true",
        "requested_for": {"link": f"https://x/api/now/table/sys_user/{USER}", "value": USER},
        "opened_by": USER,
        "correlation_id": "wi-1/0",
        "correlation_display": "sim-servicenow",
        "opened_at": "2026-03-01 10:00:00",
        "closed_at": "",
        "sys_mod_count": "3",
        "u_cost_center": "CC-9",
        "u_flag": "true",
    }
    request = Record("sc_request", raw).to_model(Request)
    assert request == Request(
        sys_id=REQ,
        number="REQ0010012",
        state="1",
        request_state="in_process",
        approval="approved",
        stage="fulfillment",
        active=True,
        requested_for=USER,
        opened_by=USER,
        correlation_id="wi-1/0",
        correlation_display="sim-servicenow",
        opened_at=dt.datetime(2026, 3, 1, 10, tzinfo=UTC),
        closed_at=None,
        custom_fields={"u_cost_center": "CC-9", "u_flag": "true"},
    )
    with pytest.raises(TypeError):
        request.custom_fields["u_new"] = "x"  # type: ignore[index]


def test_empty_strings_are_none_for_optional_fields_and_stay_empty_for_text() -> None:
    request = structure(
        {"sys_id": REQ, "correlation_id": "", "short_description": "", "active": ""}, Request, where="t"
    )
    assert request.correlation_id is None
    assert request.short_description == ""
    assert request.active is None


def test_request_item_collects_dot_walked_variables() -> None:
    raw = {
        "sys_id": "ritm1",
        "number": "RITM0047366",
        "request": REQ,
        "cat_item": {"display_value": "Badge", "value": "item1"},
        "quantity": "2",
        "state": "2",
        "variables.sim_correlation_id": "wi-1/0",
        "variables.building": "HQ",
    }
    item = structure(raw, RequestItem, where="t")
    assert item.request == REQ
    assert item.cat_item == "item1"
    assert item.quantity == 2
    assert dict(item.variables) == {"sim_correlation_id": "wi-1/0", "building": "HQ"}


def test_incident_reads_integers_and_dates() -> None:
    raw = {
        "sys_id": "inc1",
        "number": "INC0000050",
        "state": "6",
        "priority": "4",
        "impact": "3",
        "urgency": "",
        "resolved_at": "2026-03-02 08:30:00",
        "close_code": "Solution provided",
        "caller_id": "",
    }
    incident = structure(raw, Incident, where="t")
    assert (incident.priority, incident.impact, incident.urgency) == (4, 3, None)
    assert incident.resolved_at == dt.datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert incident.caller_id is None
    assert incident.close_code == "Solution provided"


def test_decode_errors_list_every_problem_with_its_path() -> None:
    with pytest.raises(DecodeError) as caught:
        structure({"number": "INC1", "priority": "high", "active": "maybe"}, Incident, where="incident INC1")
    message = str(caught.value)
    assert message.startswith("incident INC1: cannot read as Incident:")
    assert "required field missing @ $.sys_id" in message
    assert "$.priority" in message
    assert "$.active" in message


def test_catalog_orders_from_order_now_and_submit_order() -> None:
    # c_ServiceCatalogAPI.md: order_now and submit_order sample responses.
    order_now = {
        "sys_id": REQ,
        "number": "REQ0010012",
        "request_number": "REQ0010012",
        "request_id": REQ,
        "table": "sc_request",
    }
    assert structure(order_now, CatalogOrder, where="o") == CatalogOrder(
        request_sys_id=REQ, request_number="REQ0010012"
    )
    submitted = {"request_number": "REQ0010010", "request_id": "f89ed597db21120064301150f0b8f5ff"}
    assert structure(submitted, CatalogOrder, where="o") == CatalogOrder(
        request_sys_id="f89ed597db21120064301150f0b8f5ff", request_number="REQ0010010"
    )
    with pytest.raises(DecodeError, match="names no request"):
        structure({"table": "sc_request"}, CatalogOrder, where="o")


def test_cart_from_add_to_cart() -> None:
    # c_ServiceCatalogAPI.md: add_to_cart sample response.
    raw = {
        "cart_id": "0951c597db21120064301150f0b8f5cf",
        "subtotal": "$1,599.98",
        "items": [
            {
                "catalog_item_id": "0d08837237153000158bbfc8bcbe5d02",
                "quantity": "1",
                "localized_price": "$799.99",
                "price": "$799.99",
                "recurring_frequency": "Monthly",
                "item_name": "Apple iPhone 5",
                "cart_item_id": "ac61c597db21120064301150f0b8f5f9",
            }
        ],
    }
    cart = structure(raw, Cart, where="cart")
    assert cart.cart_id == "0951c597db21120064301150f0b8f5cf"
    assert cart.items[0].quantity == 1
    assert cart.items[0].item_name == "Apple iPhone 5"


# c_ServiceCatalogAPI.md: a catalog item's variables, native JSON booleans and numbers, a container.
LAPTOP = {
    "sys_id": "04b7e94b4f7b4200086eeed18110c7fd",
    "name": "Standard Laptop",
    "short_description": "Lenovo - Carbon x1",
    "show_quantity": False,
    "quantity": "1",
    "order": "100",
    "type": "catalog_item",
    "sys_class_name": "sc_cat_item",
    "variables": [
        {
            "label": "Optional Software",
            "type": 0,
            "mandatory": False,
            "displayvalue": "",
            "friendly_type": "container_start",
            "render_label": True,
            "read_only": False,
            "children": [
                {
                    "label": "Adobe Acrobat",
                    "type": 7,
                    "mandatory": False,
                    "displayvalue": "false",
                    "friendly_type": "check_box",
                    "display_type": "CheckBox",
                    "name": "acrobat",
                    "id": "90b72d4b4f7b4200086eeed18110c701",
                    "value": False,
                    "help_text": "",
                    "max_length": 0,
                },
            ],
            "name": "optional_label",
            "id": "10b72d4b4f7b4200086eeed18110c700",
            "value": "",
        },
        {
            "label": "Preferred Email address",
            "type": 6,
            "mandatory": True,
            "displayvalue": "",
            "friendly_type": "single_line_text",
            "display_type": "Single Line Text",
            "read_only": False,
            "name": "new_email",
            "id": "65865e474fbb4200086eeed18110c7dd",
            "value": "",
            "max_length": 0,
        },
    ],
}


def test_catalog_item_with_nested_variables() -> None:
    item = structure(LAPTOP, CatalogItem, where="item")
    assert [v.name for v in item.all_variables()] == ["optional_label", "acrobat", "new_email"]
    acrobat = item.variable("acrobat")
    assert acrobat is not None
    assert (acrobat.sys_id, acrobat.type, acrobat.value, acrobat.display_value) == (
        "90b72d4b4f7b4200086eeed18110c701",
        7,
        "false",
        "false",
    )
    assert item.variables[0].is_layout
    assert item.variable("nope") is None


def test_catalog_item_checks_order_variables() -> None:
    item = structure(LAPTOP, CatalogItem, where="item")
    assert item.check_variables({"new_email": "ada@example.com", "acrobat": True}) == ()
    assert item.check_variables({"acrobat": True, "new_emial": "typo@example.com", "optional_label": "x"}) == (
        ValidationProblem("variables.new_email", "mandatory variable 'Preferred Email address' missing"),
        ValidationProblem("variables.new_emial", "item 'Standard Laptop' has no such variable"),
        ValidationProblem("variables.optional_label", "item 'Standard Laptop' has no such variable"),
    )
    assert item.check_variables({"new_email": ""})[0].path == "variables.new_email"


def test_journal_entry_renames_sys_journal_field_columns() -> None:
    raw = {
        "sys_id": "j1",
        "name": "sc_req_item",
        "element_id": "ritm1",
        "element": "work_notes",
        "value": "Badge printed",
        "sys_created_on": "2026-03-01 10:00:00",
        "sys_created_by": "fulfiller",
    }
    entry = structure(raw, JournalEntry, where="j")
    assert entry == JournalEntry(
        sys_id="j1",
        table="sc_req_item",
        record_sys_id="ritm1",
        field="work_notes",
        text="Badge printed",
        created_on=dt.datetime(2026, 3, 1, 10, tzinfo=UTC),
        created_by="fulfiller",
    )
    assert not entry.customer_visible


def test_choice_from_sys_choice() -> None:
    raw = {
        "sys_id": "c1",
        "value": "3",
        "label": "Closed Complete",
        "sequence": "30",
        "inactive": "false",
        "dependent_value": "",
    }
    assert structure(raw, Choice, where="c") == Choice(value="3", label="Closed Complete", sequence=30)


def test_default_choices_cover_the_state_fields_the_engine_reads() -> None:
    for table in ("task", "sc_request", "sc_req_item", "sc_task"):
        assert [c.value for c in default_choices(table, "state")] == ["-5", "1", "2", "3", "4", "7"]
    assert [c.value for c in default_choices("incident", "state")] == ["1", "2", "3", "6", "7", "8"]
    assert [c.value for c in default_choices("change_request", "state")] == [
        "-5",
        "-4",
        "-3",
        "-2",
        "-1",
        "0",
        "3",
        "4",
    ]
    assert "closed_complete" in [c.value for c in default_choices("sc_request", "request_state")]
    assert default_choices("sc_request", "approval")[0] == Choice("not requested", "Not Yet Requested", 0)
    assert default_choices("incident", "no_such_field") == ()
    with pytest.raises(TypeError):
        DEFAULT_CHOICES[("x", "y")] = ()  # type: ignore[index]
