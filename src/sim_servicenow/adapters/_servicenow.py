"""ServiceNow as the engine's ticketing system: catalog orders or table records, batched status reads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ..engine._ports import TicketRef, TicketStatus
from ..mapping import (
    CORRELATION_DISPLAY,
    CatalogTicketPayload,
    IntegrationConfig,
    StatusMap,
    StatusResult,
    TableTicketPayload,
    TicketPayload,
    TicketType,
    combine_statuses,
)
from ..servicenow import CatalogOrder, Field, Record, ServiceNowClient

__all__ = ["ServiceNowTicketing"]

logger = logging.getLogger("sim_servicenow.adapters.servicenow")

SYSTEM = "servicenow"
#: How many requests' items one status read asks for; a REQ usually has one RITM per source.
_ITEMS_PAGE = 1000


class ServiceNowTicketing:
    """The `TicketingSystem` for ServiceNow.

    Two ticket types, as `TicketType` says:

    * **catalog** — a Service Catalog order (``order_now`` for one item; the cart for several) of each managed
      source's catalog item. The correlation key travels in the order as a catalog variable, and is then written
      to the REQ's ``correlation_id`` (with ``correlation_display``) together with the ``req_*`` fields. The
      status is the REQ's ``request_state`` combined with every RITM's ``state``: the worst wins.
    * **table** — one record on any table (``incident``, ``sc_request``, ``change_request``, ``u_custom``), with
      ``correlation_id`` and ``correlation_display`` set in the insert itself.

    Statuses are read in batches: about one request per 100 tickets (the client's ``status_batch_size``).

    Args:
        client: the ServiceNow client.
        status_map: maps the ticket's status field (``request_state`` of ``sc_request`` for catalog tickets).
        item_status_map: maps each RITM's ``state`` for catalog tickets (``None``: items are not read).
        correlation_variable: the catalog variable carrying the correlation key.
        catalog_items: the catalog item sys_ids of the managed sources, searched by `find` when a catalog
            order was placed but its REQ never received the correlation key.
        find_window: how far back `find` searches requested items for a correlation variable.
        clock: the current time (timezone-aware); the engine's clock in tests and demos.
    """

    system = SYSTEM

    def __init__(
        self,
        client: ServiceNowClient,
        *,
        status_map: StatusMap,
        item_status_map: StatusMap | None = None,
        correlation_variable: str = "sim_correlation_id",
        catalog_items: Iterable[str] = (),
        find_window: timedelta = timedelta(days=30),
        clock: Any = None,
    ) -> None:
        self.client = client
        self.status_map = status_map
        self.item_status_map = item_status_map
        self.correlation_variable = correlation_variable
        self.catalog_items = tuple(dict.fromkeys(catalog_items))
        self.find_window = find_window
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        # The cart belongs to the ServiceNow user: one cart flow at a time per adapter.
        self._cart_lock = threading.Lock()

    @classmethod
    def from_config(cls, client: ServiceNowClient, config: IntegrationConfig, **options: Any) -> ServiceNowTicketing:
        """The adapter an `IntegrationConfig` describes."""
        return cls(
            client,
            status_map=config.status_map,
            item_status_map=config.item_status_map if config.ticket_type is TicketType.CATALOG else None,
            correlation_variable=config.correlation_variable,
            catalog_items=[s.catalog_item for s in config.sources if s.catalog_item],
            **options,
        )

    def __repr__(self) -> str:
        return f"ServiceNowTicketing({self.client.instance_url!r})"

    # ------------------------------------------------------------------------------------------ create

    def create(self, payload: TicketPayload, correlation_key: str) -> TicketRef:
        """Raise the ticket ``payload`` describes; the correlation key is in the same request."""
        if isinstance(payload, TableTicketPayload):
            fields = {**payload.fields, **_correlation(correlation_key)}
            # Only the reference is needed back: the instance renders fewer fields, the response is smaller.
            record = self.client.table(payload.table).create(fields, fields=("number",))
            return TicketRef(SYSTEM, payload.table, record.sys_id, record.get_str("number") or record.sys_id)
        return self._order(payload, correlation_key)

    def _order(self, payload: CatalogTicketPayload, correlation_key: str) -> TicketRef:
        catalog = self.client.catalog
        if len(payload.items) == 1:
            item = payload.items[0]
            order = catalog.order_now(item.catalog_item, {**item.variables, self.correlation_variable: correlation_key})
        else:
            with self._cart_lock:
                catalog.empty_cart()
                for item in payload.items:
                    catalog.add_to_cart(
                        item.catalog_item, {**item.variables, self.correlation_variable: correlation_key}
                    )
                order = catalog.submit_order()
        # The order carries the key in its variables; now make the REQ itself answer to it. PATCHing the same
        # values twice changes nothing, so this may be retried.
        request_fields = {**payload.request_fields, **_correlation(correlation_key)}
        self.client.table("sc_request").update(order.request_sys_id, request_fields, idempotent=True)
        self._fill_items(payload, order)
        return _catalog_ref(order.request_sys_id, order.request_number, [i.sys_id for i in order.items])

    def _fill_items(self, payload: CatalogTicketPayload, order: CatalogOrder) -> None:
        by_catalog_item: dict[str, list[str]] = {}
        for item in order.items:
            by_catalog_item.setdefault(item.cat_item or "", []).append(item.sys_id)
        for wanted in payload.items:
            if not wanted.item_fields:
                continue
            for sys_id in by_catalog_item.get(wanted.catalog_item, []):
                self.client.table("sc_req_item").update(sys_id, dict(wanted.item_fields), idempotent=True)

    # ------------------------------------------------------------------------------------------ find

    def find(self, correlation_key: str) -> TicketRef | None:
        """The ticket carrying ``correlation_key``: by ``correlation_id``, else by the catalog variable."""
        query = Field("correlation_id").eq(correlation_key)
        if self.item_status_map is None and not self.catalog_items:
            return self._find_record(query)
        request = self.client.table("sc_request").first(query, fields=("sys_id", "number"))
        if request is not None:
            items = self.client.catalog.request_items(request.sys_id)
            return _catalog_ref(request.sys_id, request.get_str("number") or "", [i.sys_id for i in items])
        return self._find_ordered_item(correlation_key) or self._find_record(query)

    def _find_record(self, query: Any) -> TicketRef | None:
        # Table tickets: the key is in correlation_id of whichever task table the ticket lives on.
        record = self.client.table("task").first(query, fields=("sys_id", "number", "sys_class_name"))
        if record is None:
            return None
        table = record.get_str("sys_class_name") or "task"
        return TicketRef(SYSTEM, table, record.sys_id, record.get_str("number") or record.sys_id)

    def _find_ordered_item(self, correlation_key: str) -> TicketRef | None:
        """An order placed before the REQ got its correlation_id (an interruption in between)."""
        if not self.catalog_items:
            return None
        since = self._clock() - self.find_window
        variable = f"variables.{self.correlation_variable}"
        query = Field("cat_item").in_(list(self.catalog_items)) & Field("sys_created_on").ge(since)
        for item in self.client.table("sc_req_item").query(query, fields=("sys_id", "request", variable)):
            if item.get_str(variable) != correlation_key:
                continue
            request_id = item.get_str("request") or ""
            request = self.client.table("sc_request").get(request_id, fields=("sys_id", "number"))
            # Finish what the interrupted create started, so the next find is a plain look-up.
            self.client.table("sc_request").update(request_id, _correlation(correlation_key), idempotent=True)
            items = self.client.catalog.request_items(request_id)
            return _catalog_ref(request_id, request.get_str("number") or "", [i.sys_id for i in items])
        return None

    # ------------------------------------------------------------------------------------------ statuses

    def statuses(self, refs: Sequence[TicketRef]) -> Mapping[str, TicketStatus]:
        """Statuses of ``refs``, about one request per 100 tickets; deleted tickets are absent."""
        by_table: dict[str, list[TicketRef]] = {}
        for ref in refs:
            by_table.setdefault(ref.kind, []).append(ref)
        found: dict[str, TicketStatus] = {}
        for table, group in by_table.items():
            if table == "sc_request" and self.item_status_map is not None:
                found.update(self._catalog_statuses(group))
            else:
                found.update(self._record_statuses(table, group))
        return found

    def _record_statuses(self, table: str, refs: Sequence[TicketRef]) -> dict[str, TicketStatus]:
        field = self.status_map.field
        fields = [field, "close_code"] if self.status_map.close_codes else [field]
        records = self.client.statuses(table, [ref.id for ref in refs], fields)
        result: dict[str, TicketStatus] = {}
        for ref in refs:
            record = records.get(ref.id)
            if record is None:
                continue
            value = record.get_str(field)
            close_code = record.get_str("close_code") if self.status_map.close_codes else None
            looked_up = self.status_map.lookup(value, close_code=close_code)
            values = {field: value, **({"close_code": close_code} if close_code else {})}
            result[ref.id] = _status(looked_up, values, f"{ref.number} {field}={value}")
        return result

    def _catalog_statuses(self, refs: Sequence[TicketRef]) -> dict[str, TicketStatus]:
        """A REQ and its RITMs in one read: the items, with their request's state dot-walked."""
        assert self.item_status_map is not None
        request_field = self.status_map.field
        walked = f"request.{request_field}"
        batch_size = self.client.status_batch_size
        items_by_request: dict[str, list[Record]] = {}
        request_values: dict[str, str] = {}
        for start in range(0, len(refs), batch_size):
            ids = [ref.id for ref in refs[start : start + batch_size]]
            rows = self.client.table("sc_req_item").query(
                Field("request").in_(ids),
                fields=("sys_id", "number", "request", "state", walked),
                page_size=_ITEMS_PAGE,
            )
            for row in rows:
                request_id = row.get_str("request") or ""
                items_by_request.setdefault(request_id, []).append(row)
                request_values[request_id] = row.get_str(walked) or ""
        # Requests with no visible item (rare: an order without items, or deleted items): read them directly.
        missing = [ref.id for ref in refs if ref.id not in items_by_request]
        if missing:
            for sys_id, record in self.client.statuses("sc_request", missing, [request_field]).items():
                request_values[sys_id] = record.get_str(request_field) or ""
        result: dict[str, TicketStatus] = {}
        for ref in refs:
            if ref.id not in request_values:
                continue
            value = request_values[ref.id]
            parts = [self.status_map.lookup(value)]
            values: dict[str, Any] = {request_field: value}
            details = [f"{ref.number} {request_field}={value}"]
            for item in items_by_request.get(ref.id, []):
                state = item.get_str("state")
                parts.append(self.item_status_map.lookup(state))
                number = item.get_str("number") or item.sys_id
                values[number] = state
                details.append(f"{number} state={state}")
            result[ref.id] = _status(combine_statuses(parts), values, ", ".join(details))
        return result

    # ------------------------------------------------------------------------------------------ comment

    def comment(self, ref: TicketRef, text: str) -> None:
        """Add a work note to the ticket."""
        self.client.journal.add_work_note(ref.kind, ref.id, text)


def _correlation(correlation_key: str) -> dict[str, str]:
    """The task fields that carry the key; they win over template keys of the same names."""
    return {"correlation_id": correlation_key, "correlation_display": CORRELATION_DISPLAY}


def _catalog_ref(request_sys_id: str, number: str, item_ids: Sequence[str]) -> TicketRef:
    return TicketRef(SYSTEM, "sc_request", request_sys_id, number or request_sys_id, tuple(item_ids))


def _status(result: StatusResult, values: Mapping[str, Any], detail: str) -> TicketStatus:
    return TicketStatus(
        status=result.status,
        values=dict(values),
        unknown_values=result.unknown_values,
        detail=detail,
    )
