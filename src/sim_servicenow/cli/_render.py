"""``sim-servicenow render``: the ticket payloads a plan would produce, without calling anything."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from ..mapping import (
    CatalogTicketPayload,
    IntegrationConfig,
    ProvisioningPlan,
    TableTicketPayload,
    TicketingSystemKind,
    TicketPayload,
    render_ticket_payloads,
)
from ._exit import ExitCode
from ._load import load_config, load_plans
from ._output import emit_json

__all__ = ["payload_json", "run_render", "untouched_requests"]


def untouched_requests(plan: ProvisioningPlan, config: IntegrationConfig) -> list[str]:
    """Why each account request of ``plan`` that becomes no ticket is left alone, one line each."""
    if config.filters.suppresses(plan):
        return ["the whole plan: its flow is in filters.suppressed_flows"]
    reasons = []
    for request in plan.account_requests:
        label = f"{request.operation.value} {request.native_identity or '(new account)'} on {request.source_label}"
        if config.managed_source(request) is None:
            hint = " (the plan names it without an id, so it is matched by name)" if request.source_id is None else ""
            reasons.append(f"{label}: not a managed source{hint}")
        elif config.filters.apply(request) is None:
            reasons.append(f"{label}: left out by the filters")
    return reasons


def payload_json(payload: TicketPayload) -> dict[str, Any]:
    """A ticket payload as JSON-ready data (what ``render --json`` prints)."""
    common = {
        "correlation_key": str(payload.correlation_key),
        "group_id": payload.group.group_id,
        "sources": [{"id": s.id, "name": s.name} for s in payload.group.sources],
    }
    if isinstance(payload, TableTicketPayload):
        return {"kind": "table", **common, "table": payload.table, "fields": dict(payload.fields)}
    return {
        "kind": "catalog",
        **common,
        "correlation_variable": payload.correlation_variable,
        "request_fields": dict(payload.request_fields),
        "items": [
            {
                "source": {"id": item.source.id, "name": item.source.name},
                "catalog_item": item.catalog_item,
                "variables": dict(item.variables),
                "item_fields": dict(item.item_fields),
            }
            for item in payload.items
        ],
    }


def _fields(title: str, fields: Mapping[str, str], indent: str) -> Iterable[str]:
    yield f"{indent}{title}"
    if not fields:
        yield f"{indent}  (none)"
        return
    width = max(len(name) for name in fields)
    for name, value in fields.items():
        first, *rest = value.split("\n") if value else [""]
        yield f"{indent}  {name.ljust(width)}  {first}".rstrip()
        for line in rest:
            yield f"{indent}  {' ' * width}  {line}".rstrip()


def _describe(payload: TicketPayload, number: int, total: int, config: IntegrationConfig) -> Iterable[str]:
    if isinstance(payload, TableTicketPayload):
        what = (
            "a Jira Service Management request"
            if config.ticketing is TicketingSystemKind.JIRA
            else f"a {payload.table} record"
        )
        yield f"Ticket {number} of {total}: {what} (correlation key {payload.correlation_key})"
        yield from _fields("fields:", payload.fields, "  ")
        return
    assert isinstance(payload, CatalogTicketPayload)
    yield f"Ticket {number} of {total}: a Service Catalog order (correlation key {payload.correlation_key})"
    yield from _fields("request (sc_request) fields:", payload.request_fields, "  ")
    for item in payload.items:
        source = item.source.name or item.source.id
        yield f"  requested item: catalog item {item.catalog_item} for source {source}"
        yield from _fields("variables:", item.variables, "    ")
        if item.item_fields:
            yield from _fields("requested item (sc_req_item) fields:", item.item_fields, "    ")


def run_render(args: argparse.Namespace) -> ExitCode:
    """Print the payloads of every plan in ``--plan``."""
    config = load_config(args.config, sim_definition=args.sim_definition)
    plans = load_plans(args.plan, config)
    rendered = [(plan, render_ticket_payloads(plan, config)) for plan in plans]
    if args.json:
        emit_json(
            [
                {
                    "plan_key": plan.key,
                    "tickets": [payload_json(p) for p in payloads],
                    "not_ticketed": untouched_requests(plan, config),
                }
                for plan, payloads in rendered
            ]
        )
        return ExitCode.OK
    for index, (plan, payloads) in enumerate(rendered):
        if index:
            print()
        who = plan.identity.label
        count = f"{len(payloads)} ticket{'s' if len(payloads) != 1 else ''}"
        print(f"Plan {plan.key} for {who}: {count}")
        for reason in untouched_requests(plan, config):
            print(f"  not ticketed: {reason}")
        for number, payload in enumerate(payloads, start=1):
            print()
            for line in _describe(payload, number, len(payloads), config):
                print(line)
    return ExitCode.OK
