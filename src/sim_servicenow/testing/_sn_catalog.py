"""FakeServiceNow's Service Catalog API: items with variables, ``order_now``, per-user carts, ``submit_order``.

Follows the Service Catalog API pages of ServiceNow's documentation (response shapes of ``GET items/{sys_id}``,
``order_now``, ``add_to_cart``, ``GET cart``, ``submit_order``). Checkout is one-step. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._sn_http import BadRequest, Request, Response, error_response, int_param, json_response, no_resource, read_json
from ._sn_schema import VARIABLE_TYPES
from ._sn_store import Caller, Record, Store, money

__all__ = ["Catalog"]

_SC_CATALOG = {"sys_id": "e0d08b13c3330100c8b837659bba8fb4", "title": "Service Catalog"}


@dataclass
class _CartLine:
    cart_item_id: str
    item_id: str
    quantity: int
    answers: dict[str, str]
    recipients: list[str]
    added_on: str


@dataclass
class _Cart:
    cart_id: str
    owner: str
    lines: list[_CartLine] = field(default_factory=list)


class Catalog:
    """The ``/api/sn_sc/servicecatalog`` endpoints over a `Store`, with one cart per user."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._carts: dict[str, _Cart] = {}

    def handle(self, request: Request, rest: str) -> Response:
        """Answer ``/api/sn_sc/servicecatalog/<rest>`` for an authenticated request."""
        caller = request.caller
        assert caller is not None
        parts = rest.split("/") if rest else []
        if parts[:1] == ["items"]:
            return self._items_endpoint(request, parts[1:], caller)
        if parts[:1] == ["cart"]:
            return self._cart_endpoint(request, parts[1:], caller)
        return no_resource()

    def _items_endpoint(self, request: Request, parts: list[str], caller: Caller) -> Response:
        method = request.method
        if not parts and method == "GET":
            return self._catalog_items(request)
        if len(parts) == 1 and method == "GET":
            item = self._catalog_item(parts[0])
            if item is None:
                return error_response(400, "Security constraints prevent access to requested item")
            return json_response(200, {"result": self._item_details(item)})
        if len(parts) == 2 and method == "POST" and parts[1] == "order_now":
            line = self._order_line(request, self._catalog_item(parts[0]), caller)
            placed = self._store.order([line], caller, line[3][0])
            return json_response(
                200,
                {
                    "result": {
                        "sys_id": placed["sys_id"],
                        "number": placed["number"],
                        "request_number": placed["number"],
                        "request_id": placed["sys_id"],
                        "table": "sc_request",
                    }
                },
            )
        if len(parts) == 2 and method == "POST" and parts[1] == "add_to_cart":
            item, quantity, answers, recipients = self._order_line(request, self._catalog_item(parts[0]), caller)
            cart = self._cart(caller)
            cart_item_id = self._store.new_sys_id()
            cart.lines.append(_CartLine(cart_item_id, item["sys_id"], quantity, answers, recipients, self._store.now()))
            return json_response(200, {"result": self._cart_summary(cart)})
        return no_resource()

    def _cart_endpoint(self, request: Request, parts: list[str], caller: Caller) -> Response:
        method = request.method
        cart = self._cart(caller)
        if not parts and method == "GET":
            return json_response(200, {"result": self._cart_details(cart)})
        if len(parts) == 1 and method == "POST" and parts[0] in ("submit_order", "checkout"):
            return self._submit_cart(cart, caller)
        if len(parts) == 1 and method == "DELETE":
            removed = next((line for line in cart.lines if line.cart_item_id == parts[0]), None)
            if removed is None:
                return error_response(
                    400, "Invalid cart item id", f"No item {parts[0]} in the cart of {caller.user_name}"
                )
            cart.lines.remove(removed)
            return Response(204)
        if len(parts) == 1 and method == "PUT":
            return self._update_cart_line(request, cart, parts[0], caller)
        if len(parts) == 2 and parts[1] == "empty" and method == "DELETE":
            if parts[0] != cart.cart_id:
                return error_response(400, "Invalid cart id", f"{parts[0]} is not the cart of {caller.user_name}")
            cart.lines.clear()
            return Response(204)
        return no_resource()

    def _catalog_item(self, sys_id: str) -> Record | None:
        found = self._store.find("sc_cat_item", sys_id)
        if found is None or found[1]["active"] != "true":
            return None
        return found[1]

    def _catalog_items(self, request: Request) -> Response:
        text = (request.param("sysparm_text") or "").lower()
        items = [
            record
            for _, record in self._store.view_rows("sc_cat_item")
            if record["active"] == "true"
            and (not text or any(text in record[name].lower() for name in ("name", "short_description", "description")))
        ]
        limit = int_param(request, "sysparm_limit", 10000)
        offset = int_param(request, "sysparm_offset", 0)
        return json_response(200, {"result": [self._item_summary(item) for item in items[offset : offset + limit]]})

    def _item_summary(self, item: Record) -> dict[str, Any]:
        price = _float(item["price"])
        return {
            "short_description": item["short_description"],
            "kb_article": "",
            "icon": "",
            "description": item["description"],
            "show_price": price > 0,
            "type": "catalog_item",
            "show_quantity": True,
            "sys_class_name": item["sys_class_name"] or "sc_cat_item",
            "picture": "",
            "url": "",
            "sys_id": item["sys_id"],
            "content_type": "",
            "price": money(price),
            "catalogs": [dict(_SC_CATALOG)],
            "name": item["name"],
            "order": int(item["order"] or "0"),
        }

    def _item_details(self, item: Record) -> dict[str, Any]:
        price = _float(item["price"])
        recurring = _float(item["recurring_price"])
        details = self._item_summary(item)
        details.update(
            {
                "recurring_price": money(recurring),
                "local_currency": "USD",
                "recurring_price_currency": "USD",
                "localized_price": money(price),
                "recurring_frequency": None,
                "localized_recurring_price": money(recurring),
                "price_currency": "USD",
                "categories": [],
                "variables": [self._variable_details(option) for option in self._store.item_variables(item["sys_id"])],
                "ui_policy": [],
                "client_script": {"onChange": [], "onSubmit": [], "onLoad": []},
                "data_lookup": [],
            }
        )
        return details

    def _variable_details(self, option: Record) -> dict[str, Any]:
        type_number = int(option["type"] or "6")
        friendly, display = next(
            ((name, label) for name, (number, label) in VARIABLE_TYPES.items() if number == type_number),
            ("single_line_text", "Single Line Text"),
        )
        default = option["default_value"]
        return {
            "label": option["question_text"],
            "type": type_number,
            "mandatory": option["mandatory"] == "true",
            "displayvalue": default,
            "friendly_type": friendly,
            "display_type": display,
            "render_label": True,
            "read_only": option["read_only"] == "true",
            "name": option["name"],
            "attributes": "",
            "id": option["sys_id"],
            "value": (default == "true") if friendly == "check_box" else default,
            "help_text": option["help_text"],
            "max_length": 0,
        }

    def _order_line(
        self, request: Request, item: Record | None, caller: Caller, in_cart: _CartLine | None = None
    ) -> tuple[Record, int, dict[str, str], list[str]]:
        """Validate an ``order_now`` / ``add_to_cart`` body: ``(item, quantity, answers, recipients)``.

        For a change to a line already ``in_cart``, what the body leaves out keeps its value.
        """
        body = read_json(request)
        if not isinstance(body, Mapping):
            body = {}
        if in_cart is not None and "sysparm_quantity" not in body:
            quantity: int | None = in_cart.quantity
        else:
            quantity = _quantity(body.get("sysparm_quantity"))
        if quantity is None:
            raise BadRequest(error_response(400, "Invalid quantity value", "sysparm_quantity must be a number >= 0"))
        if item is None:
            raise BadRequest(error_response(400, "Security constraints prevent ordering of Item"))
        raw_answers = body.get("variables") or {}
        if not isinstance(raw_answers, Mapping):
            raise BadRequest(error_response(400, "Invalid variables", "variables must be an object of name -> value"))
        options = self._store.item_variables(item["sys_id"])
        known = {option["name"] for option in options}
        answers = {str(name): _text_value(value) for name, value in raw_answers.items() if name in known}
        if in_cart is not None:
            answers = {**in_cart.answers, **answers}
        missing = [
            option["name"]
            for option in options
            if option["mandatory"] == "true" and not (answers.get(option["name"]) or option["default_value"])
        ]
        if missing:
            raise BadRequest(error_response(400, "Mandatory Variables are required", ", ".join(missing)))
        default_recipient = in_cart.recipients[0] if in_cart is not None else caller.sys_id
        requested_for = str(body.get("sysparm_requested_for") or default_recipient)
        if requested_for != default_recipient and self._store.find("sys_user", requested_for) is None:
            raise BadRequest(error_response(400, "Invalid value for sysparm_requested_for", f"No user {requested_for}"))
        if in_cart is not None and "sysparm_also_request_for" not in body:
            also: Any = in_cart.recipients[1:]
        else:
            also = body.get("sysparm_also_request_for") or []
        also_ids = [s.strip() for s in (also.split(",") if isinstance(also, str) else map(str, also)) if s.strip()]
        if also_ids:
            if len(also_ids) > 50:
                raise BadRequest(error_response(400, "Too many users in sysparm_also_request_for", "At most 50 users"))
            if not any(option["type"] == str(VARIABLE_TYPES["requested_for"][0]) for option in options):
                raise BadRequest(
                    error_response(
                        400, "Item does not support also request for", "The item has no requested_for variable"
                    )
                )
            unknown = [user for user in also_ids if self._store.find("sys_user", user) is None]
            if unknown:
                raise BadRequest(error_response(400, "Invalid value for sysparm_also_request_for", ", ".join(unknown)))
        recipients = list(dict.fromkeys([requested_for, *also_ids]))
        return item, quantity, answers, recipients

    def _cart(self, caller: Caller) -> _Cart:
        cart = self._carts.get(caller.user_name)
        if cart is None:
            cart = self._carts[caller.user_name] = _Cart(self._store.new_sys_id(), caller.user_name)
        return cart

    def _cart_line_details(self, line: _CartLine) -> dict[str, Any]:
        found = self._store.find("sc_cat_item", line.item_id)
        item = found[1] if found is not None else {"name": "", "price": "0", "short_description": ""}
        price = _float(item["price"])
        return {
            "cart_item_id": line.cart_item_id,
            "catalog_item_id": line.item_id,
            "item_name": item["name"],
            "quantity": str(line.quantity),
            "price": money(price),
            "localized_price": money(price),
            "recurring_price": money(0),
            "localized_recurring_price": money(0),
            "recurring_frequency": "",
        }

    def _cart_subtotal(self, cart: _Cart) -> str:
        total = 0.0
        for line in cart.lines:
            found = self._store.find("sc_cat_item", line.item_id)
            total += _float(found[1]["price"]) * line.quantity if found is not None else 0.0
        return money(total)

    def _cart_summary(self, cart: _Cart) -> dict[str, Any]:
        return {
            "cart_id": cart.cart_id,
            "subtotal": self._cart_subtotal(cart),
            "items": [self._cart_line_details(line) for line in cart.lines],
        }

    def _cart_details(self, cart: _Cart) -> dict[str, Any]:
        items = []
        for line in cart.lines:
            details = self._cart_line_details(line)
            found = self._store.find("sc_cat_item", line.item_id)
            price = _float(found[1]["price"]) if found is not None else 0.0
            details.update(
                {
                    "sys_id": line.cart_item_id,
                    "item_id": line.item_id,
                    "name": details["item_name"],
                    "short_description": found[1]["short_description"] if found is not None else "",
                    "variables": dict(line.answers),
                    "subtotal_price": money(price * line.quantity),
                    "subtotal": price * line.quantity,
                    "recurring_subtotal_price": money(0),
                    "recurring_subtotal": 0,
                    "show_price": price > 0,
                    "show_quantity": True,
                    "show_recurring_price": False,
                    "delivery_time": "",
                    "picture": "",
                    "order_guide": "",
                    "created_on": line.added_on,
                    "created_by": cart.owner,
                    "updated_on": line.added_on,
                    "updated_by": cart.owner,
                    "sys_class_name": "sc_cat_item",
                }
            )
            items.append(details)
        subtotal = self._cart_subtotal(cart)
        section = {
            "subtotal_price": subtotal,
            "subtotal_recurring_frequency": "",
            "subtotal_recurring_price": money(0),
            "total_title": "Total",
            "frequency_label": None,
            "items": items,
            "show_subtotal_price": "true",
            "subtotal_title": "Subtotal",
        }
        return {
            "cart_id": cart.cart_id,
            "subtotal_price": subtotal,
            "subtotal_recurring_frequency": "",
            "subtotal_recurring_price": money(0),
            "total_title": "Total",
            "none": section,
            "show_subtotal_price": "true",
            "subtotal_title": "Subtotal",
        }

    def _submit_cart(self, cart: _Cart, caller: Caller) -> Response:
        lines = []
        for line in cart.lines:
            found = self._store.find("sc_cat_item", line.item_id)
            if found is not None:
                lines.append((found[1], line.quantity, line.answers, line.recipients))
        if not lines:
            return error_response(400, "Cart is empty", f"The cart of {caller.user_name} has no items")
        request_record = self._store.order(lines, caller, lines[0][3][0])
        cart.lines.clear()
        return json_response(
            200, {"result": {"request_number": request_record["number"], "request_id": request_record["sys_id"]}}
        )

    def _update_cart_line(self, request: Request, cart: _Cart, cart_item_id: str, caller: Caller) -> Response:
        line = next((x for x in cart.lines if x.cart_item_id == cart_item_id), None)
        if line is None:
            return error_response(
                400, "Invalid cart item id", f"No item {cart_item_id} in the cart of {caller.user_name}"
            )
        _, quantity, answers, recipients = self._order_line(request, self._catalog_item(line.item_id), caller, line)
        line.quantity, line.answers, line.recipients = quantity, answers, recipients
        return json_response(200, {"result": self._cart_summary(cart)})


def _quantity(raw: Any) -> int | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() and raw >= 0 else None
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text_value(v) for v in value)
    return str(value)


def _float(text: str) -> float:
    try:
        return float(text or "0")
    except ValueError:
        return 0.0
