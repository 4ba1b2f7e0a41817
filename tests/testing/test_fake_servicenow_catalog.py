"""FakeServiceNow's Service Catalog API: items and variables, order_now, the cart, submit_order, checkout."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount

BASE = "https://acme.service-now.test"
CATALOG = f"{BASE}/api/sn_sc/servicecatalog"
TABLE = f"{BASE}/api/now/table"


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(seed=11, users={"admin": "admin", "svc.sim": "pw"})


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = ("svc.sim", "pw")
    return session


@pytest.fixture
def item(fake: FakeServiceNow) -> str:
    return fake.add_catalog_item(
        "Access request",
        [
            {"name": "account", "label": "Account name", "mandatory": True},
            {"name": "sim_correlation_id"},
            {"name": "notes", "type": "multi_line_text"},
            {"name": "urgent", "type": "check_box", "default": "false"},
            {"name": "for_whom", "type": "requested_for"},
        ],
        short_description="Grant or revoke access",
        price=12.5,
    )


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["result"]


def failure(response: requests.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "failure"
    return str(body["error"]["message"])


def test_get_item_lists_its_variables(sn: requests.Session, item: str) -> None:
    details = ok(sn.get(f"{CATALOG}/items/{item}"))
    assert (details["sys_id"], details["name"], details["short_description"]) == (
        item,
        "Access request",
        "Grant or revoke access",
    )
    assert details["price"] == "$12.50"
    variables = {v["name"]: v for v in details["variables"]}
    assert list(variables) == ["account", "sim_correlation_id", "notes", "urgent", "for_whom"]
    account = variables["account"]
    assert (account["label"], account["mandatory"], account["friendly_type"], account["type"]) == (
        "Account name",
        True,
        "single_line_text",
        6,
    )
    assert variables["urgent"]["value"] is False
    assert variables["notes"]["display_type"] == "Multi Line Text"
    assert details["client_script"] == {"onChange": [], "onSubmit": [], "onLoad": []}


def test_unknown_or_inactive_items(fake: FakeServiceNow, sn: requests.Session) -> None:
    retired = fake.add_catalog_item("Retired", active=False)
    assert "Security constraints" in failure(sn.get(f"{CATALOG}/items/{'0' * 32}"))
    assert "Security constraints" in failure(sn.get(f"{CATALOG}/items/{retired}"))
    message = failure(sn.post(f"{CATALOG}/items/{retired}/order_now", json={"sysparm_quantity": 1}))
    assert message == "Security constraints prevent ordering of Item"


def test_list_items_with_text_search_and_paging(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    fake.add_catalog_item("Laptop", short_description="A laptop")
    fake.add_catalog_item("Monitor")
    names = [i["name"] for i in ok(sn.get(f"{CATALOG}/items"))]
    assert names == ["Access request", "Laptop", "Monitor"]
    assert [i["name"] for i in ok(sn.get(f"{CATALOG}/items", params={"sysparm_text": "LAPTOP"}))] == ["Laptop"]
    assert [i["name"] for i in ok(sn.get(f"{CATALOG}/items", params={"sysparm_limit": 1, "sysparm_offset": 1}))] == [
        "Laptop"
    ]


def test_order_now_creates_the_request_and_its_item(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    order = ok(
        sn.post(
            f"{CATALOG}/items/{item}/order_now",
            json={
                "sysparm_quantity": "1",
                "variables": {"account": "jdoe", "sim_correlation_id": "plan-1/g1", "x": "?"},
            },
        )
    )
    assert set(order) == {"sys_id", "number", "request_number", "request_id", "table"}
    assert order["table"] == "sc_request"
    assert order["sys_id"] == order["request_id"]
    assert order["number"] == order["request_number"] == "REQ0010001"
    svc = fake.records("sys_user")[1]["sys_id"]
    request = ok(sn.get(f"{TABLE}/sc_request/{order['request_id']}", params={"sysparm_exclude_reference_link": "true"}))
    assert (request["requested_for"], request["opened_by"], request["request_state"], request["approval"]) == (
        svc,
        svc,
        "requested",
        "requested",
    )
    items = ok(
        sn.get(
            f"{TABLE}/sc_req_item",
            params={
                "sysparm_query": f"request={order['request_id']}^ORDERBYnumber",
                "sysparm_fields": "number,cat_item,stage,quantity,variables.account,variables.sim_correlation_id,"
                "variables.urgent,request.number",
                "sysparm_exclude_reference_link": "true",
            },
        )
    )
    assert items == [
        {
            "number": "RITM0010001",
            "cat_item": item,
            "stage": "waiting_for_approval",
            "quantity": "1",
            "variables.account": "jdoe",
            "variables.sim_correlation_id": "plan-1/g1",
            "variables.urgent": "false",
            "request.number": "REQ0010001",
        }
    ]
    assert fake.variables("RITM0010001") == {
        "account": "jdoe",
        "sim_correlation_id": "plan-1/g1",
        "notes": "",
        "urgent": "false",
        "for_whom": svc,
    }


def test_variable_answers_are_sc_item_option_records(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    ok(sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, "variables": {"account": "jdoe"}}))
    ritm = fake.records("sc_req_item")[0]
    links = ok(
        sn.get(
            f"{TABLE}/sc_item_option_mtom",
            params={
                "sysparm_query": f"request_item={ritm['sys_id']}^sc_item_option.item_option_new.name=account",
                "sysparm_fields": "sc_item_option.value,sc_item_option.item_option_new.name",
            },
        )
    )
    assert links == [{"sc_item_option.value": "jdoe", "sc_item_option.item_option_new.name": "account"}]


def test_variables_are_queried_by_the_variable_sys_id(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    for key in ("plan-1/g1", "plan-2/g1"):
        variables = {"account": "jdoe", "sim_correlation_id": key}
        ok(sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, "variables": variables}))
    variable = next(v for v in ok(sn.get(f"{CATALOG}/items/{item}"))["variables"] if v["name"] == "sim_correlation_id")
    by_id = ok(
        sn.get(
            f"{TABLE}/sc_req_item",
            params={
                "sysparm_query": f"cat_item={item}^variables.{variable['id']}=plan-2/g1",
                "sysparm_fields": "number",
            },
        )
    )
    assert by_id == [{"number": "RITM0010002"}]
    # As on an instance, a variable *name* is not a valid query field: the condition is ignored.
    by_name = ok(
        sn.get(
            f"{TABLE}/sc_req_item",
            params={"sysparm_query": "variables.sim_correlation_id=plan-2/g1", "sysparm_fields": "number"},
        )
    )
    assert len(by_name) == 2


def test_catalog_tasks_show_their_items_variables(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    order = ok(
        sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, "variables": {"account": "a"}})
    )
    ritm = fake.records("sc_req_item")[0]
    task = fake.insert("sc_task", request=order["request_id"], request_item=ritm["sys_id"])
    shown = ok(sn.get(f"{TABLE}/sc_task/{task['sys_id']}", params={"sysparm_fields": "variables.account"}))
    assert shown == {"variables.account": "a"}


@pytest.mark.parametrize("quantity", [None, -1, "two", 1.5, True])
def test_order_now_needs_a_valid_quantity(sn: requests.Session, item: str, quantity: Any) -> None:
    body: dict[str, Any] = {"variables": {"account": "jdoe"}}
    if quantity is not None:
        body["sysparm_quantity"] = quantity
    assert failure(sn.post(f"{CATALOG}/items/{item}/order_now", json=body)) == "Invalid quantity value"


def test_mandatory_variables_are_required(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    for variables in ({}, {"account": ""}):
        response = sn.post(f"{CATALOG}/items/{item}/order_now", json={"sysparm_quantity": 1, "variables": variables})
        assert failure(response) == "Mandatory Variables are required"
        assert response.json()["error"]["detail"] == "account"
    assert fake.records("sc_request") == []


def test_requested_for_and_also_request_for(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    beth = fake.add_user("beth.anglin")
    fred = fake.add_user("fred.luddy")
    order = ok(
        sn.post(
            f"{CATALOG}/items/{item}/order_now",
            json={
                "sysparm_quantity": 2,
                "variables": {"account": "shared"},
                "sysparm_requested_for": beth,
                "sysparm_also_request_for": fred,
            },
        )
    )
    items = fake.records("sc_req_item")
    assert [(i["requested_for"], i["quantity"], i["request"]) for i in items] == [
        (beth, "2", order["request_id"]),
        (fred, "2", order["request_id"]),
    ]
    assert [fake.variables(i["number"])["for_whom"] for i in items] == [beth, fred]
    assert fake.get("sc_request", order["request_id"])["requested_for"] == beth  # type: ignore[index]
    unknown = sn.post(
        f"{CATALOG}/items/{item}/order_now",
        json={"sysparm_quantity": 1, "variables": {"account": "x"}, "sysparm_requested_for": "0" * 32},
    )
    assert failure(unknown) == "Invalid value for sysparm_requested_for"


def test_also_request_for_needs_a_requested_for_variable(fake: FakeServiceNow, sn: requests.Session) -> None:
    plain = fake.add_catalog_item("Plain")
    fred = fake.add_user("fred.luddy")
    response = sn.post(
        f"{CATALOG}/items/{plain}/order_now", json={"sysparm_quantity": 1, "sysparm_also_request_for": [fred]}
    )
    assert failure(response) == "Item does not support also request for"


def test_cart_flow(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    laptop = fake.add_catalog_item("Laptop", price=1000)
    added = ok(
        sn.post(f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": 1, "variables": {"account": "a"}})
    )
    assert set(added) == {"cart_id", "subtotal", "items"}
    added = ok(sn.post(f"{CATALOG}/items/{laptop}/add_to_cart", json={"sysparm_quantity": 2}))
    assert added["subtotal"] == "$2,012.50"
    assert [(line["item_name"], line["quantity"]) for line in added["items"]] == [
        ("Access request", "1"),
        ("Laptop", "2"),
    ]
    cart = ok(sn.get(f"{CATALOG}/cart"))
    assert cart["cart_id"] == added["cart_id"]
    assert [line["variables"] for line in cart["none"]["items"]] == [{"account": "a"}, {}]
    assert cart["subtotal_price"] == "$2,012.50"
    submitted = ok(sn.post(f"{CATALOG}/cart/submit_order"))
    assert set(submitted) == {"request_number", "request_id"}
    items = fake.records("sc_req_item")
    assert {i["request"] for i in items} == {submitted["request_id"]}
    assert [i["cat_item"] for i in items] == [item, laptop]
    assert ok(sn.get(f"{CATALOG}/cart"))["none"]["items"] == []
    assert failure(sn.post(f"{CATALOG}/cart/submit_order")) == "Cart is empty"


def test_carts_belong_to_their_user(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    ok(sn.post(f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": 1, "variables": {"account": "a"}}))
    admin = mount(requests.Session(), BASE, fake)
    admin.auth = ("admin", "admin")
    assert ok(admin.get(f"{CATALOG}/cart"))["none"]["items"] == []
    assert len(ok(sn.get(f"{CATALOG}/cart"))["none"]["items"]) == 1


def test_cart_items_can_be_changed_removed_and_emptied(sn: requests.Session, item: str) -> None:
    first = ok(
        sn.post(f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": 1, "variables": {"account": "a"}})
    )
    line_id = first["items"][0]["cart_item_id"]
    changed = ok(sn.put(f"{CATALOG}/cart/{line_id}", json={"sysparm_quantity": 3}))
    assert changed["items"][0]["quantity"] == "3"
    assert sn.delete(f"{CATALOG}/cart/{line_id}").status_code == 204
    failure(sn.delete(f"{CATALOG}/cart/{line_id}"))
    ok(sn.post(f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": 1, "variables": {"account": "b"}}))
    failure(sn.delete(f"{CATALOG}/cart/{'0' * 32}/empty"))
    assert sn.delete(f"{CATALOG}/cart/{first['cart_id']}/empty").status_code == 204
    assert ok(sn.get(f"{CATALOG}/cart"))["none"]["items"] == []


def test_checkout_places_the_order_in_one_step(fake: FakeServiceNow, sn: requests.Session, item: str) -> None:
    ok(sn.post(f"{CATALOG}/items/{item}/add_to_cart", json={"sysparm_quantity": 1, "variables": {"account": "a"}}))
    placed = ok(sn.post(f"{BASE}/api/sn_sc/v1/servicecatalog/cart/checkout"))
    assert fake.get("sc_request", placed["request_id"]) is not None


def test_unknown_catalog_paths(sn: requests.Session) -> None:
    assert failure(sn.get(f"{CATALOG}/wishlist")) == "Requested URI does not represent any resource"


def test_catalog_variables_are_validated_when_added(fake: FakeServiceNow) -> None:
    with pytest.raises(ValueError, match="unknown variable type"):
        fake.add_catalog_item("Bad", [{"name": "x", "type": "hologram"}])
    with pytest.raises(ValueError, match="has no name"):
        fake.add_catalog_item("Bad", [{"label": "nameless"}])


def test_catalog_item_with_a_chosen_sys_id(fake: FakeServiceNow, sn: requests.Session) -> None:
    chosen = "d82ea08510247200964f77ffeec6c4ee"
    assert fake.add_catalog_item("Mobile", ["plan"], chosen) == chosen
    assert ok(sn.get(f"{CATALOG}/items/{chosen}"))["name"] == "Mobile"
