"""Request templates: SailPoint SIM's ``request`` map of ticket field → Velocity template."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._errors import TemplateError
from ._plan import AccountOperation, AccountRequest, AttributeOperation, ProvisioningPlan
from ._velocity import RenderLimits, VelocityTemplate, plain_data

__all__ = [
    "ITEM_PREFIX",
    "REQUEST_PREFIX",
    "RenderedFields",
    "RequestTemplate",
    "TicketType",
    "template_context",
]

REQUEST_PREFIX = "req_"
"""Template keys starting with this fill the request record (``sc_request``, the REQ) of a catalog ticket."""
ITEM_PREFIX = "ritm_"
"""Template keys starting with this fill the requested-item record (``sc_req_item``, the RITM) of a catalog ticket."""


class TicketType(enum.Enum):
    """What kind of ServiceNow ticket a group of account requests becomes.

    ``CATALOG``: a Service Catalog order of the source's catalog item (a REQ with one RITM per source), as
    SailPoint's SIM does. ``TABLE``: one record on a table (``incident``, ``sc_request``, ``change_request`` or
    any custom table).
    """

    CATALOG = "catalog"
    TABLE = "table"


# SailPoint's template vocabulary expresses these operations as pseudo-attributes.
_PSEUDO_ITEMS = {
    AccountOperation.DISABLE: ("*disabled*", "true"),
    AccountOperation.ENABLE: ("*disabled*", "false"),
    AccountOperation.UNLOCK: ("*locked*", "false"),
    AccountOperation.LOCK: ("*locked*", "true"),
}


def _identity_data(plan: ProvisioningPlan) -> dict[str, Any]:
    identity = plan.identity
    return {
        "id": identity.id,
        "name": identity.name,
        "displayName": identity.display_name,
        "label": identity.label,
        "attributes": dict(identity.attributes),
    }


def _item_data(name: str, operation: AttributeOperation, value: Any, values: Sequence[str]) -> dict[str, Any]:
    return {
        "name": name,
        "value": list(value) if isinstance(value, tuple) else value,
        "values": list(values),
        "operation": operation.value,
        "Operation": operation.value,
        "op": operation.value,
    }


def _request_data(request: AccountRequest) -> dict[str, Any]:
    items = [
        _item_data(attribute.name, attribute.operation, attribute.value, attribute.values)
        for attribute in request.attribute_requests
    ]
    pseudo = _PSEUDO_ITEMS.get(request.operation)
    if pseudo is not None and not any(item["name"] == pseudo[0] for item in items):
        name, value = pseudo
        items.append(_item_data(name, AttributeOperation.SET, value, (value,)))
    operation = request.operation.value
    return {
        "operation": operation,
        "Operation": operation,
        "op": operation,
        "resource": request.source_label,
        "application": request.source_label,
        "sourceId": request.source_id,
        "sourceName": request.source_name,
        "id": request.native_identity,
        "nativeIdentity": request.native_identity,
        "trackingId": request.tracking_id,
        "items": items,
        "attributeRequests": items,
    }


def template_context(
    plan: ProvisioningPlan, account_requests: Iterable[AccountRequest] | None = None
) -> dict[str, Any]:
    """The data a request template sees, as plain dicts, lists and strings.

    ``$plan`` has ``key`` (also ``trackingNumber``), ``arguments``, ``identity`` and ``requests`` (also
    ``accountRequests``). Each request has ``operation`` / ``Operation`` / ``op``, ``resource`` (the source
    name; also ``application``), ``sourceId``, ``id`` (the native identity; also ``nativeIdentity``),
    ``trackingId`` and ``items`` (also ``attributeRequests``). Each item has ``name``, ``value`` (text, or a
    list for several values), ``values`` (always a list) and ``operation`` / ``Operation`` / ``op``.
    Enable, Disable, Unlock and Lock add SailPoint's pseudo-items ``*disabled*`` / ``*locked*``
    (``true`` / ``false``). ``$identity`` is ``$plan.identity`` (``id``, ``name``, ``displayName``,
    ``label`` — the best name to show — and ``attributes``); ``$newline`` is a line break.

    Args:
        plan: the plan.
        account_requests: the requests ``$plan.requests`` lists; all of the plan's by default (a ticket group
            passes its own).
    """
    requests = plan.account_requests if account_requests is None else tuple(account_requests)
    identity = _identity_data(plan)
    request_list = [_request_data(request) for request in requests]
    return {
        "plan": {
            "key": plan.key,
            "trackingNumber": plan.key,
            "arguments": dict(plan.arguments),
            "identity": identity,
            "requests": request_list,
            "accountRequests": request_list,
        },
        "identity": identity,
        "newline": "\n",
    }


# ---------------------------------------------------------------------------------------------------------------
# The default template set (our own wording)
# ---------------------------------------------------------------------------------------------------------------

_DEFAULT_SHORT_DESCRIPTION = (
    "#set($count = $plan.requests.size())"
    "#if($count == 1)#set($r = $plan.requests.get(0))"
    "$r.operation account#if($r.id) $r.id#end on $r.resource for $identity.label"
    "#else$count account changes for $identity.label#end"
)

# Velocity eats the line break after #end and after a directive's closing parenthesis, so line breaks that
# matter are written as $newline and source lines end in ## (a comment that swallows the break).
_DEFAULT_DESCRIPTION = """\
Please make the following account changes for $identity.label##
#if($identity.name && $identity.name != $identity.label) ($identity.name)#end.
#if($plan.arguments.identityRequestId)IdentityNow access request: $plan.arguments.identityRequestId
#end
#foreach($r in $plan.requests)##
$newline$velocityCount. ##
#if($r.operation == 'Create')Create an account#else$r.operation the account#end##
#if($r.id) $r.id#end on $r.resource##
#foreach($i in $r.items)##
#set($shown = '')##
#foreach($v in $i.values)##
#set($shown = "$shown$v")##
#if($foreach.hasNext)#set($shown = "$shown, ")#end##
#end##
$newline   - ##
#if($i.name == '*disabled*' && $i.value == 'true')Disable the account##
#elseif($i.name == '*disabled*')Enable the account##
#elseif($i.name == '*locked*' && $i.value == 'true')Lock the account##
#elseif($i.name == '*locked*')Unlock the account##
#elseif($i.values.isEmpty())$i.operation $i.name (no value)##
#elseif($i.operation == 'Set')Set $i.name to $shown##
#else$i.operation $i.name: $shown#end##
#end##
#end##
$newline$newline##
When the changes are made, close this ticket as complete. If they cannot be made, close it as incomplete \
and say why in the work notes.
Ticket created by sim-servicenow for IdentityNow provisioning plan $plan.key."""


def _default_fields(ticket_type: TicketType) -> dict[str, str]:
    if ticket_type is TicketType.CATALOG:
        return {
            f"{REQUEST_PREFIX}short_description": _DEFAULT_SHORT_DESCRIPTION,
            f"{REQUEST_PREFIX}description": _DEFAULT_DESCRIPTION,
            f"{ITEM_PREFIX}short_description": _DEFAULT_SHORT_DESCRIPTION,
            f"{ITEM_PREFIX}description": _DEFAULT_DESCRIPTION,
        }
    return {"short_description": _DEFAULT_SHORT_DESCRIPTION, "description": _DEFAULT_DESCRIPTION}


# ---------------------------------------------------------------------------------------------------------------
# RequestTemplate
# ---------------------------------------------------------------------------------------------------------------


@attrs.frozen
class RenderedFields:
    """Rendered values sorted by the record they fill.

    The rule, from the template key:

    * ``req_<field>`` → ``<field>`` on the request record (``sc_request``, the REQ);
    * ``ritm_<field>`` → ``<field>`` on the requested-item record (``sc_req_item``, the RITM);
    * any other key → the ticket itself: a catalog variable of the ordered item for catalog tickets, a
      field of the record for table tickets.

    Attributes:
        ticket: un-prefixed keys.
        request: ``req_`` keys, prefix removed.
        item: ``ritm_`` keys, prefix removed.
    """

    ticket: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    request: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    item: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    @classmethod
    def from_rendered(cls, rendered: Mapping[str, str]) -> RenderedFields:
        """Sort rendered ``field → value`` pairs by prefix."""
        ticket: dict[str, str] = {}
        request: dict[str, str] = {}
        item: dict[str, str] = {}
        for key, value in rendered.items():
            if key.startswith(REQUEST_PREFIX) and len(key) > len(REQUEST_PREFIX):
                request[key[len(REQUEST_PREFIX) :]] = value
            elif key.startswith(ITEM_PREFIX) and len(key) > len(ITEM_PREFIX):
                item[key[len(ITEM_PREFIX) :]] = value
            else:
                ticket[key] = value
        return cls(ticket, request, item)


def _template_fields(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


@attrs.frozen
class RequestTemplate:
    """SailPoint SIM's ``request`` map: ticket field → Apache Velocity template.

    Each template is compiled when the object is made (syntax errors surface then) and rendered with airspeed
    against `template_context` — plain data only, within `limits`. See `RenderedFields` for
    which keys fill which record.

    Attributes:
        fields: ticket field → Velocity source, e.g.
            ``{"short_description": "SailPoint Access Request $!plan.arguments.identityRequestId"}``.
        strict: when true, a reference with no value (``$missing`` rather than ``$!missing``) is a
            `TemplateError`, and over-long output is an error instead of being
            truncated. Lenient (the default) renders it as written, as Velocity does.
        limits: bounds on template size, output size, steps, nesting and time.

    Raises:
        TemplateError: a template does not compile; the message names the field, line and column.
    """

    fields: Mapping[str, str] = attrs.field(converter=_template_fields, hash=False)
    strict: bool = False
    limits: RenderLimits = attrs.field(factory=RenderLimits)
    _compiled: Mapping[str, VelocityTemplate] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        compiled = {}
        for field, source in self.fields.items():
            if not isinstance(source, str):
                raise TemplateError(f"expected template text, got {type(source).__name__}", field=field)
            compiled[field] = VelocityTemplate(source, field=field, limits=self.limits)
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def default(cls, ticket_type: TicketType = TicketType.TABLE) -> RequestTemplate:
        """Our default template set: a short description naming the operation, account, source and person,
        and a description with one numbered entry per account request and one line per attribute change.

        Table tickets get ``short_description`` and ``description``; catalog tickets get the same texts as
        ``req_*`` (the REQ) and ``ritm_*`` (each RITM, rendered with that source's requests only).
        """
        return cls(_default_fields(ticket_type))

    def render(
        self,
        plan: ProvisioningPlan,
        account_requests: Iterable[AccountRequest] | None = None,
        *,
        only: Iterable[str] | None = None,
    ) -> dict[str, str]:
        """Render every field (or the fields in ``only``) for ``plan``.

        Args:
            plan: the plan.
            account_requests: what ``$plan.requests`` lists; all of the plan's requests by default.
            only: field names to render; others are skipped.

        Raises:
            TemplateError: a template failed or hit a limit; the message names the field and position.
        """
        return self.render_context(template_context(plan, account_requests), only=only)

    def render_context(self, context: Mapping[str, Any], *, only: Iterable[str] | None = None) -> dict[str, str]:
        """Render against a context you built (plain data only), e.g. to preview a template."""
        wanted = None if only is None else set(only)
        chosen = {f: t for f, t in self._compiled.items() if wanted is None or f in wanted}
        if any(t.literal is not None for t in chosen.values()):
            plain_data(context, path="")  # plain-text fields skip rendering; the context is still checked once
        return {
            field: template.literal if template.literal is not None else template.render(context, strict=self.strict)
            for field, template in chosen.items()
        }
