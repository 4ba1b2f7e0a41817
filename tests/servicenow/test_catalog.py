"""The Service Catalog surface: items, order_now with its requested items, the cart."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import requests

from sim_servicenow.auth import BasicAuth
from sim_servicenow.errors import BadRequestError, ServerError, ValidationProblem
from sim_servicenow.http import RetryPolicy
from sim_servicenow.servicenow import CatalogVariablesError, Field, InvalidInputError, RequestItem, ServiceNowClient
from sim_servicenow.testing import FakeServiceNow, mount

CATALOG = "/api/sn_sc/servicecatalog"


@pytest.fixture
def badge(fake: FakeServiceNow) -> str:
    return fake.add_catalog_item(
        "Building badge",
        [
            {"name": "building", "label": "Building", "mandatory": True},
            {"name": "vip", "label": "VIP access", "type": "check_box"},
            "sim_correlation_id",
        ],
    )


def test_get_item_describes_its_variables(client: ServiceNowClient, badge: str) -> None:
    item = client.catalog.get_item(badge)
    assert (item.sys_id, item.name) == (badge, "Building badge")
    by_name = {v.name: v for v in item.all_variables()}
    assert set(by_name) == {"building", "vip", "sim_correlation_id"}
    assert by_name["building"].mandatory
    assert by_name["building"].friendly_type == "single_line_text"
    assert (by_name["vip"].friendly_type, by_name["vip"].value, by_name["vip"].mandatory) == (
        "check_box",
        "false",
        False,
    )
    with pytest.raises(BadRequestError):
        client.catalog.get_item("0" * 32)


def test_order_now_returns_the_request_and_its_items(
    client: ServiceNowClient, fake: FakeServiceNow, badge: str
) -> None:
    ada = fake.add_user("ada.lovelace")
    order = client.catalog.order_now(
        badge, {"building": "HQ", "vip": True, "sim_correlation_id": "wi-1/0"}, requested_for=ada
    )
    request = fake.get("sc_request", order.request_sys_id)
    assert request is not None
    assert order.request_number == request["number"]
    assert order.table == "sc_request"
    [item] = order.items
    assert item.request == order.request_sys_id
    assert item.cat_item == badge
    assert item.requested_for == ada
    assert item.number.startswith("RITM")
    assert fake.variables(item.sys_id) == {"building": "HQ", "vip": "true", "sim_correlation_id": "wi-1/0"}
    body = json.loads(fake.requests.filter("POST", f"{CATALOG}/items/{badge}/order_now")[0].body)
    assert body == {
        "sysparm_quantity": 1,
        "variables": {"building": "HQ", "vip": "true", "sim_correlation_id": "wi-1/0"},
        "sysparm_requested_for": ada,
    }


def test_the_item_check_refuses_before_ordering(client: ServiceNowClient, fake: FakeServiceNow, badge: str) -> None:
    with pytest.raises(CatalogVariablesError) as caught:
        client.catalog.order_now(badge, {"biulding": "HQ"}, check_variables=True)
    assert caught.value.problems == (
        ValidationProblem("variables.building", "mandatory variable 'Building' missing"),
        ValidationProblem("variables.biulding", "item 'Building badge' has no such variable"),
    )
    assert isinstance(caught.value, ValueError)
    assert fake.records("sc_request") == []
    assert fake.requests.count("POST") == 0
    order = client.catalog.order_now(badge, {"building": "HQ"}, check_variables=True)
    assert len(order.items) == 1


def test_the_catalog_itself_refuses_missing_mandatory_variables(
    client: ServiceNowClient, fake: FakeServiceNow, badge: str
) -> None:
    with pytest.raises(BadRequestError, match="Mandatory Variables are required"):
        client.catalog.order_now(badge, {"vip": True})
    assert fake.records("sc_request") == []


def test_orders_are_never_retried(client: ServiceNowClient, fake: FakeServiceNow, badge: str) -> None:
    fake.faults.add("error", status=503, times=1, method="POST")
    with pytest.raises(ServerError):
        client.catalog.order_now(badge, {"building": "HQ"})
    assert fake.requests.count("POST") == 1


def test_bad_order_arguments_are_refused_locally(client: ServiceNowClient, fake: FakeServiceNow, badge: str) -> None:
    for quantity in (0, -1, True):
        with pytest.raises(InvalidInputError, match="quantity"):
            client.catalog.order_now(badge, {"building": "HQ"}, quantity=quantity)
    with pytest.raises(InvalidInputError, match="at most 50"):
        client.catalog.order_now(badge, {"building": "HQ"}, also_request_for=[f"u{i}" for i in range(51)])
    with pytest.raises(InvalidInputError, match="at most 50"):
        client.catalog.order_now(badge, {"building": "HQ"}, also_request_for="u1,u2")
    assert fake.requests.count() == 0


class _HidingItems:
    """The fake, except that the next ``remaining`` item lookups see no items yet (eventual visibility)."""

    def __init__(self, app: FakeServiceNow, remaining: int) -> None:
        self.app = app
        self.remaining = remaining

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/api/now/table/sc_req_item" and self.remaining > 0:
            self.remaining -= 1
            start_response("200 OK", [("Content-Type", "application/json"), ("X-Total-Count", "0")])
            return [b'{"result":[]}']
        return self.app(environ, start_response)


def _client_on(app: Any, **options: Any) -> tuple[ServiceNowClient, list[float]]:
    slept: list[float] = []
    session = mount(requests.Session(), "https://fake-sn.test", app)
    client = ServiceNowClient(
        "https://fake-sn.test",
        BasicAuth("admin", "admin"),
        session=session,
        retry=RetryPolicy(sleep=slept.append),
        **options,
    )
    return client, slept


def test_items_that_appear_late_are_waited_for(fake: FakeServiceNow, badge: str) -> None:
    client, slept = _client_on(_HidingItems(fake, 2))
    order = client.catalog.order_now(badge, {"building": "HQ"})
    assert len(order.items) == 1
    assert slept == [0.1, 0.2]
    client.http.session.close()  # type: ignore[union-attr]


def test_an_order_whose_items_never_appear_is_still_returned(
    fake: FakeServiceNow, badge: str, caplog: pytest.LogCaptureFixture
) -> None:
    hiding = _HidingItems(fake, 1000)
    client, slept = _client_on(hiding, request_item_wait=1.0)
    with caplog.at_level(logging.WARNING, logger="sim_servicenow.servicenow"):
        order = client.catalog.order_now(badge, {"building": "HQ"})
    assert order.items == ()
    assert order.request_number.startswith("REQ")
    assert sum(slept) == pytest.approx(1.0)
    assert max(slept) <= 1.0
    assert f"request {order.request_number}" in caplog.text
    hiding.remaining = 0
    assert [i.request for i in client.catalog.request_items(order.request_sys_id)] == [order.request_sys_id]
    client.http.session.close()  # type: ignore[union-attr]


def test_request_items_without_waiting(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    assert client.catalog.request_items("0" * 32) == ()
    assert fake.requests.count("GET", "/api/now/table/sc_req_item") == 1


def test_the_cart_collects_lines_and_submits_one_request(
    client: ServiceNowClient, fake: FakeServiceNow, badge: str
) -> None:
    laptop = fake.add_catalog_item("Laptop", ["model"], price=1200.0)
    first = client.catalog.add_to_cart(badge, {"building": "HQ"})
    assert [line.catalog_item_id for line in first.items] == [badge]
    cart = client.catalog.add_to_cart(laptop, {"model": "x1"}, quantity=2)
    assert cart.cart_id == first.cart_id
    assert [(line.item_name, line.quantity) for line in cart.items] == [("Building badge", 1), ("Laptop", 2)]
    assert client.catalog.get_cart().items == cart.items
    order = client.catalog.submit_order()
    assert sorted(i.cat_item for i in order.items if i.cat_item) == sorted([badge, laptop])
    assert {i.request for i in order.items} == {order.request_sys_id}
    assert client.catalog.get_cart().items == ()
    with pytest.raises(BadRequestError, match="Cart is empty"):
        client.catalog.submit_order()


def test_lines_can_be_removed_and_the_cart_emptied(client: ServiceNowClient, fake: FakeServiceNow, badge: str) -> None:
    one = client.catalog.add_to_cart(badge, {"building": "A"}).items[0]
    client.catalog.add_to_cart(badge, {"building": "B"})
    client.catalog.remove_from_cart(one.cart_item_id)
    assert [line.cart_item_id for line in client.catalog.get_cart().items] != [one.cart_item_id]
    assert len(client.catalog.get_cart().items) == 1
    client.catalog.empty_cart()
    assert client.catalog.get_cart().items == ()
    with pytest.raises(BadRequestError):
        client.catalog.remove_from_cart(one.cart_item_id)


def test_the_cart_check_refuses_like_order_now(
    make_client: Callable[..., ServiceNowClient], fake: FakeServiceNow, badge: str
) -> None:
    client = make_client()
    with pytest.raises(CatalogVariablesError, match="building"):
        client.catalog.add_to_cart(badge, {}, check_variables=True)
    assert client.catalog.get_cart().items == ()


def test_request_items_read_with_their_variables(client: ServiceNowClient, badge: str) -> None:
    order = client.catalog.order_now(badge, {"building": "HQ", "sim_correlation_id": "wi-3/1"})
    records = client.table("sc_req_item").query(
        Field("request").eq(order.request_sys_id),
        fields=["number", "request", "variables.sim_correlation_id", "variables.building"],
    )
    [item] = [record.to_model(RequestItem) for record in records]
    assert item.number == order.items[0].number
    assert dict(item.variables) == {"sim_correlation_id": "wi-3/1", "building": "HQ"}
    by_key = client.table("sc_req_item").first(Field("variables.sim_correlation_id").eq("wi-3/1"))
    assert by_key is not None
    assert by_key.sys_id == item.sys_id


def test_an_item_can_be_ordered_for_several_users(client: ServiceNowClient, fake: FakeServiceNow) -> None:
    item = fake.add_catalog_item("Laptop", [{"name": "requested_for", "type": "requested_for"}, "model"])
    ada, alan = fake.add_user("ada.lovelace"), fake.add_user("alan.turing")
    order = client.catalog.order_now(item, {"model": "x1"}, requested_for=ada, also_request_for=[alan])
    body = json.loads(fake.requests.filter("POST", f"{CATALOG}/items/{item}/order_now")[0].body)
    assert (body["sysparm_requested_for"], body["sysparm_also_request_for"]) == (ada, alan)
    assert sorted(i.requested_for or "" for i in order.items) == sorted([ada, alan])
