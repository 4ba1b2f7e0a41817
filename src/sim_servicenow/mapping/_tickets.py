"""From a plan to ticket payloads: filter, group, correlate, render. Pure functions the engine calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

import attrs

from .._errors import ConfigError, ValidationProblem
from ._config import Grouping, IntegrationConfig, ManagedSource, TicketingSystemKind
from ._plan import AccountRequest, ProvisioningPlan
from ._template import ITEM_PREFIX, REQUEST_PREFIX, RenderedFields, TicketType

__all__ = [
    "CORRELATION_DISPLAY",
    "CatalogItemOrder",
    "CatalogTicketPayload",
    "CorrelationKey",
    "TableTicketPayload",
    "TicketGroup",
    "TicketPayload",
    "plan_ticket_groups",
    "render_ticket_payload",
    "render_ticket_payloads",
]

CORRELATION_DISPLAY = "sim-servicenow"
"""What the ServiceNow adapter writes to ``correlation_display`` next to the key in ``correlation_id``, so people
can see who owns the ticket."""

_ATTEMPT_SUFFIX = re.compile(r"^(?P<base>.+)#(?P<attempt>[1-9][0-9]*)$", re.DOTALL)


@attrs.frozen
class CorrelationKey:
    """The key that ties a ticket to its ticket group: ``<plan key>/<group id>``, plus ``#<attempt>`` from the
    second attempt on (a group whose ticket mapped to Retry is ticketed again under a new key).

    Attributes:
        plan_key: the plan's key.
        group_id: the group's id within the plan.
        attempt: 1 for the first ticket, 2 for the first re-creation, ...
    """

    plan_key: str
    group_id: str
    attempt: int = 1

    def __attrs_post_init__(self) -> None:
        problems = []
        if not self.plan_key:
            problems.append(ValidationProblem("plan_key", "must not be empty"))
        if not self.group_id or "/" in self.group_id or "#" in self.group_id:
            problems.append(ValidationProblem("group_id", f"{self.group_id!r} must be non-empty, without '/' or '#'"))
        if self.attempt < 1:
            problems.append(ValidationProblem("attempt", f"must be at least 1, got {self.attempt}"))
        if problems:
            raise ConfigError("invalid correlation key", problems)

    def __str__(self) -> str:
        base = f"{self.plan_key}/{self.group_id}"
        return base if self.attempt == 1 else f"{base}#{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> CorrelationKey:
        """Read a key written by ``str()``; the plan key may itself contain ``/``.

        Raises:
            ConfigError: ``text`` is not a correlation key.
        """
        base, attempt = text, 1
        match = _ATTEMPT_SUFFIX.match(text)
        if match:
            base, attempt = match.group("base"), int(match.group("attempt"))
        plan_key, slash, group_id = base.rpartition("/")
        if not slash:
            raise ConfigError("invalid correlation key", [ValidationProblem("", f"{text!r} has no '/'")])
        return cls(plan_key, group_id, attempt)


@attrs.frozen
class TicketGroup:
    """Account requests of one plan that become one ticket.

    Attributes:
        plan_key: the plan's key.
        group_id: stable within the plan: ``plan``, ``source-<source id>`` or ``account-<n>`` (the request's
            1-based position in the plan), by `Grouping`.
        account_requests: the requests, filtered (ignored attributes removed), in plan order.
        sources: the managed sources of those requests, in order of first appearance.
    """

    plan_key: str
    group_id: str
    account_requests: tuple[AccountRequest, ...]
    sources: tuple[ManagedSource, ...]

    def correlation_key(self, attempt: int = 1) -> CorrelationKey:
        """The group's correlation key for ``attempt`` (1 for the first ticket)."""
        return CorrelationKey(self.plan_key, self.group_id, attempt)


@attrs.frozen
class CatalogItemOrder:
    """One catalog item to order: one RITM.

    Attributes:
        source: the managed source the item is for.
        catalog_item: the ``sc_cat_item`` sys_id.
        variables: catalog variables (un-prefixed template keys, rendered with this source's requests only),
            including the correlation variable.
        item_fields: fields to set on the RITM (``ritm_*`` keys, prefix removed).
    """

    source: ManagedSource
    catalog_item: str
    variables: Mapping[str, str] = attrs.field(hash=False)
    item_fields: Mapping[str, str] = attrs.field(hash=False)


@attrs.frozen
class CatalogTicketPayload:
    """A Service Catalog order: one REQ with one RITM per item.

    An adapter orders a single item with ``order_now`` (the correlation key travels in the order as the
    `correlation_variable`), then writes `request_fields` and the correlation key to the REQ
    (the ServiceNow adapter: ``correlation_id`` and ``correlation_display``). Several items need the cart flow.

    Attributes:
        group: the ticket group.
        correlation_key: the group's key for this attempt.
        correlation_variable: the catalog variable holding the key.
        items: the items to order, one per source of the group.
        request_fields: fields of the REQ (``req_*`` keys, prefix removed, rendered with the whole group). The
            correlation key is not among them: where it lives is the adapter's decision.
    """

    kind: ClassVar[str] = "catalog"

    group: TicketGroup
    correlation_key: CorrelationKey
    correlation_variable: str
    items: tuple[CatalogItemOrder, ...]
    request_fields: Mapping[str, str] = attrs.field(hash=False)


@attrs.frozen
class TableTicketPayload:
    """One record with fields: a ServiceNow record on a table (``incident``, ``sc_request``, ``change_request``,
    ...), or a Jira Service Management request.

    The correlation key is not among the fields: each adapter writes it where its system keeps it, in the same
    create request (the ServiceNow adapter: ``correlation_id`` and ``correlation_display``; the Jira adapter: a
    description marker or a label).

    Attributes:
        group: the ticket group.
        correlation_key: the group's key for this attempt.
        table: the ServiceNow table; for Jira, the request type id (empty while the configuration has no Jira
            settings).
        fields: the record's fields: the un-prefixed template keys (plus ``req_*`` keys on ``sc_request`` and
            ``ritm_*`` keys on ``sc_req_item``, which win).
    """

    kind: ClassVar[str] = "table"

    group: TicketGroup
    correlation_key: CorrelationKey
    table: str
    fields: Mapping[str, str] = attrs.field(hash=False)


TicketPayload = CatalogTicketPayload | TableTicketPayload
"""What `render_ticket_payloads` produces, one per ticket group."""


def plan_ticket_groups(plan: ProvisioningPlan, config: IntegrationConfig) -> tuple[TicketGroup, ...]:
    """Split ``plan`` into ticket groups: keep account requests on managed sources that the filters let through,
    then group them by `IntegrationConfig.grouping`.

    Deterministic: the same plan and configuration always give the same groups, ids and order. An empty
    result means nothing in the plan becomes a ticket.
    """
    if config.filters.suppresses(plan):
        return ()
    selected: list[tuple[int, AccountRequest, ManagedSource]] = []
    for position, request in enumerate(plan.account_requests, start=1):
        source = config.managed_source(request)
        kept = config.filters.apply(request) if source is not None else None
        if source is not None and kept is not None:
            selected.append((position, kept, source))
    if not selected:
        return ()
    if config.grouping is Grouping.ACCOUNT_REQUEST:
        return tuple(
            TicketGroup(plan.key, f"account-{position}", (request,), (source,))
            for position, request, source in selected
        )
    if config.grouping is Grouping.SOURCE:
        by_source: dict[str, list[tuple[AccountRequest, ManagedSource]]] = {}
        for _, request, source in selected:
            by_source.setdefault(source.id, []).append((request, source))
        return tuple(
            TicketGroup(plan.key, f"source-{source_id}", tuple(r for r, _ in members), (members[0][1],))
            for source_id, members in by_source.items()
        )
    sources = tuple({source.id: source for _, _, source in selected}.values())
    return (TicketGroup(plan.key, "plan", tuple(request for _, request, _ in selected), sources),)


def render_ticket_payloads(
    plan: ProvisioningPlan, config: IntegrationConfig, *, attempt: int = 1
) -> tuple[TicketPayload, ...]:
    """The ticket payloads for ``plan``: one per group of `plan_ticket_groups`.

    Raises:
        TemplateError: a template failed; the message names the field and position.
        ConfigError: a catalog ticket's source has no catalog item.
    """
    return tuple(
        render_ticket_payload(plan, group, config, attempt=attempt) for group in plan_ticket_groups(plan, config)
    )


def render_ticket_payload(
    plan: ProvisioningPlan, group: TicketGroup, config: IntegrationConfig, *, attempt: int = 1
) -> TicketPayload:
    """The payload of one ticket group (e.g. to ticket a group again after Retry, with ``attempt=2``).

    ``$plan.requests`` in the templates lists the group's requests; catalog item variables and ``ritm_*``
    fields see only their own source's requests. The payload carries the correlation key as
    `correlation_key`; the ticketing adapter writes it into the ticket.

    Raises:
        TemplateError: a template failed; the message names the field and position.
        ConfigError: a catalog ticket's source has no catalog item.
    """
    key = group.correlation_key(attempt)
    template = config.request_template
    if config.ticket_type is TicketType.TABLE:
        table = _record_kind(config)
        wanted = [field for field in template.fields if _fills_table(field, table)]
        rendered = RenderedFields.from_rendered(template.render(plan, group.account_requests, only=wanted))
        fields = {**rendered.ticket, **rendered.request, **rendered.item}
        return TableTicketPayload(group, key, table, fields)

    missing = [source for source in group.sources if not source.catalog_item]
    if missing:
        problems = [ValidationProblem(f"sources.{s.id}.catalog_item", "required for catalog tickets") for s in missing]
        raise ConfigError("cannot order a catalog item", problems)
    request_keys = [field for field in template.fields if field.startswith(REQUEST_PREFIX)]
    item_keys = [field for field in template.fields if not field.startswith(REQUEST_PREFIX)]
    request_fields = RenderedFields.from_rendered(
        template.render(plan, group.account_requests, only=request_keys)
    ).request
    items = []
    for source in group.sources:
        own = [r for r in group.account_requests if config.managed_source(r) == source]
        rendered = RenderedFields.from_rendered(template.render(plan, own, only=item_keys))
        variables = {**rendered.ticket, config.correlation_variable: str(key)}
        items.append(CatalogItemOrder(source, source.catalog_item or "", variables, dict(rendered.item)))
    return CatalogTicketPayload(group, key, config.correlation_variable, tuple(items), dict(request_fields))


def _record_kind(config: IntegrationConfig) -> str:
    if config.ticketing is TicketingSystemKind.JIRA:
        return config.jira.request_type_id if config.jira is not None else ""
    return config.table or ""


def _fills_table(field: str, table: str) -> bool:
    if field.startswith(REQUEST_PREFIX) and len(field) > len(REQUEST_PREFIX):
        return table == "sc_request"
    if field.startswith(ITEM_PREFIX) and len(field) > len(ITEM_PREFIX):
        return table == "sc_req_item"
    return True
