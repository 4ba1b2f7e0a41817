"""Typed models of the ServiceNow records the integration works with.

Plain frozen attrs classes with snake_case fields; how they are read from ServiceNow's string wire
format (renames, ``"true"`` booleans, UTC date-times, ``u_*`` custom fields) lives in the one converter,
`sim_servicenow.servicenow._convert`. Choice fields (``state``, ``request_state``, ``approval``,
``stage``) stay strings: their values are instance-configurable and status maps compare them as text.
Reference fields hold the referenced sys_id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .._errors import ValidationProblem

__all__ = [
    "Cart",
    "CartItem",
    "CatalogItem",
    "CatalogOrder",
    "CatalogVariable",
    "Choice",
    "Incident",
    "JournalEntry",
    "Request",
    "RequestItem",
]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


def _mapping_field() -> Any:
    return attrs.field(factory=dict, converter=_frozen_mapping, hash=False)


@attrs.frozen
class Request:
    """A catalog request (``sc_request``, ``REQ...``): the order header.

    Attributes:
        sys_id: the record's sys_id.
        number: ``REQ0010012``.
        state: the task state value (``"1"`` Open ... ``"3"`` Closed Complete).
        request_state: ``requested``, ``in_process``, ``closed_complete``, ``closed_incomplete``, ...
        approval: ``not requested``, ``requested``, ``approved``, ``rejected``.
        stage: the request's stage.
        active: ``False`` once the request is closed; ``None`` when not read.
        requested_for: sys_id of the user the request is for.
        opened_by: sys_id of the user who opened it.
        correlation_id: the external correlation key (sim-servicenow writes its own here).
        correlation_display: the name of the system that owns `correlation_id`.
        short_description: the one-line summary.
        description: the long description.
        opened_at: when it was opened (UTC).
        closed_at: when it was closed (UTC).
        sys_created_on: when the record was created (UTC).
        sys_updated_on: when the record last changed (UTC).
        custom_fields: the instance's ``u_*`` fields, raw.
    """

    sys_id: str
    number: str = ""
    state: str = ""
    request_state: str = ""
    approval: str = ""
    stage: str = ""
    active: bool | None = None
    requested_for: str | None = None
    opened_by: str | None = None
    correlation_id: str | None = None
    correlation_display: str | None = None
    short_description: str = ""
    description: str = ""
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    sys_created_on: dt.datetime | None = None
    sys_updated_on: dt.datetime | None = None
    custom_fields: Mapping[str, Any] = _mapping_field()


@attrs.frozen
class RequestItem:
    """A requested item (``sc_req_item``, ``RITM...``): one ordered catalog item of a request.

    Attributes:
        sys_id: the record's sys_id.
        number: ``RITM0047366``.
        request: sys_id of the parent `Request`.
        cat_item: sys_id of the ordered catalog item.
        state: the task state value.
        stage: the fulfilment stage (``waiting_for_approval``, ``fulfillment``, ``complete``, ...).
        approval: the approval value.
        active: ``False`` once closed; ``None`` when not read.
        quantity: the ordered quantity.
        requested_for: sys_id of the user the item is for.
        correlation_id: the external correlation key, if set.
        short_description: the one-line summary.
        opened_at: when it was opened (UTC).
        closed_at: when it was closed (UTC).
        sys_updated_on: when the record last changed (UTC).
        variables: catalog variable values read with ``fields=["variables.<name>", ...]``, by name.
        custom_fields: the instance's ``u_*`` fields, raw.
    """

    sys_id: str
    number: str = ""
    request: str | None = None
    cat_item: str | None = None
    state: str = ""
    stage: str = ""
    approval: str = ""
    active: bool | None = None
    quantity: int | None = None
    requested_for: str | None = None
    correlation_id: str | None = None
    short_description: str = ""
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    sys_updated_on: dt.datetime | None = None
    variables: Mapping[str, str] = _mapping_field()
    custom_fields: Mapping[str, Any] = _mapping_field()


@attrs.frozen
class Incident:
    """An incident (``incident``, ``INC...``).

    Attributes:
        sys_id: the record's sys_id.
        number: ``INC0000050``.
        state: ``"1"`` New, ``"2"`` In Progress, ``"3"`` On Hold, ``"6"`` Resolved, ``"7"`` Closed, ``"8"`` Canceled.
        active: ``False`` once closed; ``None`` when not read.
        short_description: the one-line summary.
        description: the long description.
        caller_id: sys_id of the caller.
        assignment_group: sys_id of the assigned group.
        assigned_to: sys_id of the assignee.
        priority: 1 (critical) to 5 (planning).
        impact: 1 (high) to 3 (low).
        urgency: 1 (high) to 3 (low).
        close_code: the resolution code (``Solution provided``, ...).
        close_notes: the resolution notes.
        correlation_id: the external correlation key.
        correlation_display: the name of the system that owns `correlation_id`.
        opened_at: when it was opened (UTC).
        resolved_at: when it was resolved (UTC).
        closed_at: when it was closed (UTC).
        sys_created_on: when the record was created (UTC).
        sys_updated_on: when the record last changed (UTC).
        custom_fields: the instance's ``u_*`` fields, raw.
    """

    sys_id: str
    number: str = ""
    state: str = ""
    active: bool | None = None
    short_description: str = ""
    description: str = ""
    caller_id: str | None = None
    assignment_group: str | None = None
    assigned_to: str | None = None
    priority: int | None = None
    impact: int | None = None
    urgency: int | None = None
    close_code: str | None = None
    close_notes: str | None = None
    correlation_id: str | None = None
    correlation_display: str | None = None
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    sys_created_on: dt.datetime | None = None
    sys_updated_on: dt.datetime | None = None
    custom_fields: Mapping[str, Any] = _mapping_field()


@attrs.frozen
class CatalogOrder:
    """A placed catalog order: the request (REQ) it created and the requested items (RITMs) found for it.

    Attributes:
        request_sys_id: sys_id of the `Request` (``sc_request``) the order created.
        request_number: its number, ``REQ0010012``.
        items: the request's items, ordered by number. Empty when none became visible within the
            client's ``request_item_wait`` (look them up later with
            `request_items`).
        table: the table of the request record (``sc_request``).
        parent_id: sys_id of the parent record when a parent mapping applies.
        parent_table: table of the parent record when a parent mapping applies.
    """

    request_sys_id: str
    request_number: str
    items: tuple[RequestItem, ...] = ()
    table: str = "sc_request"
    parent_id: str | None = None
    parent_table: str | None = None


@attrs.frozen
class JournalEntry:
    """One entry of a record's journal (``sys_journal_field``): an additional comment or a work note.

    Attributes:
        sys_id: the journal entry's sys_id.
        table: the table of the record the entry belongs to.
        record_sys_id: sys_id of that record.
        field: the journal field: ``comments`` (customer-visible) or ``work_notes`` (internal).
        text: the entry's text.
        created_on: when it was written (UTC).
        created_by: the user name of its author.
    """

    sys_id: str
    table: str
    record_sys_id: str
    field: str
    text: str
    created_on: dt.datetime | None = None
    created_by: str = ""

    @property
    def customer_visible(self) -> bool:
        """Whether the requester sees the entry (an additional comment, not a work note)."""
        return self.field == "comments"


#: Variable types that structure a form rather than take an answer.
_LAYOUT_TYPES = frozenset(
    {"container_start", "container_end", "container_split", "label", "break", "ui_page", "macro", "html"}
)


@attrs.frozen
class CatalogVariable:
    """One variable (question) of a catalog item, as ``GET /servicecatalog/items/{sys_id}`` describes it.

    Attributes:
        name: the variable name used in ``variables`` of an order.
        label: the question shown to the requester.
        sys_id: the variable's sys_id.
        type: ServiceNow's numeric variable type.
        friendly_type: ``single_line_text``, ``check_box``, ``container_start``, ...
        display_type: the type's display name.
        mandatory: whether an order must answer it.
        read_only: whether it is read-only on the form.
        value: the default value.
        display_value: the default value's display value.
        help_text: the help text.
        max_length: the maximum answer length, if limited.
        children: the variables inside a container.
    """

    name: str = ""
    label: str = ""
    sys_id: str = ""
    type: int | None = None
    friendly_type: str = ""
    display_type: str = ""
    mandatory: bool = False
    read_only: bool = False
    value: str = ""
    display_value: str = ""
    help_text: str = ""
    max_length: int | None = None
    children: tuple[CatalogVariable, ...] = ()

    @property
    def is_layout(self) -> bool:
        """Whether this is a layout element (container, label, break) rather than a question."""
        return self.friendly_type in _LAYOUT_TYPES


@attrs.frozen
class CatalogItem:
    """A catalog item with its variables, from ``GET /api/sn_sc/servicecatalog/items/{sys_id}``.

    Attributes:
        sys_id: the item's sys_id.
        name: the item's name.
        short_description: the one-line description.
        description: the long (HTML) description.
        type: the item type (``catalog_item``, ``record_producer``, ...).
        sys_class_name: the item's table.
        variables: the item's variables, containers holding their children.
    """

    sys_id: str
    name: str = ""
    short_description: str = ""
    description: str = ""
    type: str = ""
    sys_class_name: str = ""
    variables: tuple[CatalogVariable, ...] = ()

    def all_variables(self) -> tuple[CatalogVariable, ...]:
        """Every variable, the children of containers included, depth first."""
        found: list[CatalogVariable] = []

        def walk(variables: tuple[CatalogVariable, ...]) -> None:
            for variable in variables:
                found.append(variable)
                walk(variable.children)

        walk(self.variables)
        return tuple(found)

    def variable(self, name: str) -> CatalogVariable | None:
        """The variable called ``name``, wherever it is nested; ``None`` if the item has none."""
        return next((v for v in self.all_variables() if v.name == name), None)

    def check_variables(self, values: Mapping[str, Any]) -> tuple[ValidationProblem, ...]:
        """What is wrong with ``values`` as this item's order variables: missing mandatory answers and unknown names.

        ServiceNow ignores variables an item does not have, so a misspelt name would silently drop an
        answer; the catalog refuses an order missing a mandatory one.
        """
        problems: list[ValidationProblem] = []
        questions = {v.name: v for v in self.all_variables() if v.name and not v.is_layout}
        for variable in questions.values():
            if variable.mandatory and values.get(variable.name) in (None, ""):
                problems.append(
                    ValidationProblem(f"variables.{variable.name}", f"mandatory variable {variable.label!r} missing")
                )
        for name in values:
            if name not in questions:
                problems.append(ValidationProblem(f"variables.{name}", f"item {self.name!r} has no such variable"))
        return tuple(problems)


@attrs.frozen
class CartItem:
    """One line of the integration user's cart.

    Attributes:
        cart_item_id: the cart line's sys_id.
        catalog_item_id: sys_id of the catalog item.
        item_name: the catalog item's name.
        quantity: the ordered quantity.
        price: the item's price as ServiceNow formats it (``$799.99``).
    """

    cart_item_id: str
    catalog_item_id: str = ""
    item_name: str = ""
    quantity: int | None = None
    price: str = ""


@attrs.frozen
class Cart:
    """The calling user's cart, as ``add_to_cart`` and ``GET cart`` return it.

    Attributes:
        cart_id: the cart's sys_id.
        subtotal: the subtotal as ServiceNow formats it.
        items: the lines in the cart.
    """

    cart_id: str
    subtotal: str = ""
    items: tuple[CartItem, ...] = ()


@attrs.frozen
class Choice:
    """One entry of a field's choice list (``sys_choice``).

    Attributes:
        value: the stored value (what queries and status maps use).
        label: what users see.
        sequence: the position in the list.
        inactive: whether the choice is retired.
        dependent_value: the value of the field this choice depends on, if any.
    """

    value: str
    label: str = ""
    sequence: int | None = None
    inactive: bool = False
    dependent_value: str | None = None
