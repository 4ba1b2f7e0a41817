"""SailPoint's wire shapes and the one cattrs converter that knows their camelCase names.

Models elsewhere in the package are snake_case and wire-agnostic. This module holds:

* the converter (camelCase renaming by hook factory, a per-class table for the few names that are not the
  camelCase of the field, dateutil datetimes in UTC, enums in any case, unknown keys tolerated);
* small frozen attrs classes for the IdentityNow payloads we read (manual work items, the Provisioning Completed
  event, SIM and SDIM integration definitions);
* the translations from those payloads to `ProvisioningPlan`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter
from dateutil.parser import isoparse

from .._errors import DecodeError, ValidationProblem
from ._plan import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    AttributeValue,
    Identity,
    ProvisioningPlan,
)

__all__ = [
    "ServiceDeskIntegrationWire",
    "SimIntegrationWire",
    "WireRef",
    "plan_from_json",
    "plan_from_provisioning_event",
    "plan_from_work_item",
    "plan_to_json",
    "structure",
    "structure_problems",
    "unstructure",
]


# ---------------------------------------------------------------------------------------------------------------
# Wire models (IdentityNow payloads we read)
# ---------------------------------------------------------------------------------------------------------------


@attrs.frozen
class WireRef:
    """A ``{type, id, name}`` reference (owner, cluster, source, rule, identity)."""

    type: str | None = None
    id: str | None = None
    name: str | None = None


@attrs.frozen
class ApprovalItemWire:
    id: str | None = None
    account: str | None = None
    application: str | None = None
    name: str | None = None
    operation: str | None = None
    value: Any = None
    state: str | None = None


@attrs.frozen
class RemediationItemWire:
    id: str | None = None
    target_id: str | None = None
    target_name: str | None = None
    target_display_name: str | None = None
    application_name: str | None = None
    attribute_name: str | None = None
    attribute_operation: str | None = None
    attribute_value: Any = None
    native_identity: str | None = None


@attrs.frozen
class WorkItemFormWire:
    id: str | None = None
    name: str | None = None
    target_user: str | None = None


@attrs.frozen
class WorkItemWire:
    id: str
    name: str | None = None
    description: str | None = None
    state: str | None = None
    type: str | None = None
    requester_id: str | None = None
    requester_display_name: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    created: dt.datetime | None = None
    approval_items: tuple[ApprovalItemWire, ...] | None = None
    remediation_items: tuple[RemediationItemWire, ...] | None = None
    form: WorkItemFormWire | None = None


@attrs.frozen
class EventAttributeRequestWire:
    attribute_name: str
    attribute_value: Any = None
    operation: AttributeOperation = AttributeOperation.SET


@attrs.frozen
class EventAccountRequestWire:
    source: WireRef
    account_operation: AccountOperation
    account_id: str | None = None
    provisioning_result: str | None = None
    provisioning_target: str | None = None
    ticket_id: str | None = None
    attribute_requests: tuple[EventAttributeRequestWire, ...] | None = None


@attrs.frozen
class ProvisioningEventWire:
    tracking_number: str
    account_requests: tuple[EventAccountRequestWire, ...]
    recipient: WireRef | None = None
    requester: WireRef | None = None
    sources: str | None = None
    action: str | None = None
    errors: tuple[str, ...] | None = None
    warnings: tuple[str, ...] | None = None


@attrs.frozen
class ProvisioningConfigWire:
    universal_manager: Any = None
    managed_resource_refs: Any = None
    no_provisioning_requests: Any = None
    provisioning_request_expiration: Any = None


@attrs.frozen
class SimIntegrationWire:
    """``SimIntegrationDetails`` / the SIM flavour of ``ServiceDeskIntegrationDto`` (``/beta/sim-integrations``).

    Free-form parts are ``Any``: the configuration builder validates them and reports problems with their paths.
    """

    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None
    created: Any = None
    modified: Any = None
    attributes: Any = None
    sources: Any = None
    cluster: Any = None
    status_map: Any = None
    request: Any = None
    before_provisioning_rule: Any = None
    # Some responses use the SDIM field names for the same things.
    managed_sources: Any = None
    cluster_ref: Any = None
    provisioning_config: Any = None


@attrs.frozen
class ServiceDeskIntegrationWire:
    """``ServiceDeskIntegrationDto`` (``/v3/service-desk-integrations``)."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None
    created: Any = None
    modified: Any = None
    owner_ref: Any = None
    cluster_ref: Any = None
    cluster: Any = None
    managed_sources: Any = None
    provisioning_config: Any = None
    attributes: Any = None
    before_provisioning_rule: Any = None


# ---------------------------------------------------------------------------------------------------------------
# The converter
# ---------------------------------------------------------------------------------------------------------------

#: Wire names that are not simply the camelCase of the field name.
_WIRE_NAMES: dict[type, dict[str, str]] = {
    ProvisioningPlan: {"key": "trackingNumber"},
    AccountRequest: {"operation": "op", "source_id": "applicationId", "source_name": "applicationName"},
    AttributeRequest: {"operation": "op"},
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(cls: type, field: str) -> str:
    """The JSON key of ``cls``'s attribute ``field``."""
    return _WIRE_NAMES.get(cls, {}).get(field, _camel(field))


def _renames(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=wire_name(cls, a.name)) for a in attrs.fields(cls)}


def _structure_datetime(value: Any, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = isoparse(value)
    else:
        raise TypeError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


def _unstructure_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _structure_attribute_value(value: Any, _: Any) -> Any:
    # Scalars pass through: AttributeRequest's own converter turns them into text.
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, (str, int, float, bool)):
                raise TypeError(f"expected text or a list of text, got a list holding {type(item).__name__}")
        return tuple(value)
    raise TypeError(f"expected text or a list of text, got {type(value).__name__}")


def _structure_text(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # ids and numbers sent as JSON numbers
    raise TypeError(f"expected text, got {type(value).__name__}")


def _structure_mapping(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return {str(key): item for key, item in value.items()}


def _object_only(structure_fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure_object(value: Any, cls: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return structure_fn(value, cls)

    return structure_object


def _is_tuple(annotation: Any) -> bool:
    return get_origin(annotation) is tuple


def _list_only(structure_fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # cattrs would otherwise turn the text "abc" into ("a", "b", "c").
    def structure_list(value: Any, cls: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return structure_fn(value, cls)

    return structure_list


def _make_converter() -> cattrs.Converter:
    converter = make_converter()
    # Simple types first: the class hook factories below compose them.
    converter.register_structure_hook(str, _structure_text)
    converter.register_structure_hook(dt.datetime, _structure_datetime)
    converter.register_unstructure_hook(dt.datetime, _unstructure_datetime)
    converter.register_structure_hook(AccountOperation, lambda value, _: AccountOperation.parse(value))
    converter.register_structure_hook(AttributeOperation, lambda value, _: AttributeOperation.parse(value))
    converter.register_structure_hook_func(lambda t: t == AttributeValue, _structure_attribute_value)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_mapping)
    converter.register_unstructure_hook_func(lambda t: t == Mapping[str, Any], dict)
    converter.register_structure_hook_factory(
        _is_tuple, lambda t: _list_only(homogenous_tuple_structure_factory(t, converter))
    )
    converter.register_structure_hook_factory(
        attrs.has, lambda cls: _object_only(make_dict_structure_fn(cls, converter, **_renames(cls)))
    )
    converter.register_unstructure_hook_factory(
        attrs.has, lambda cls: make_dict_unstructure_fn(cls, converter, **_renames(cls))
    )
    return converter


_CONVERTER = _make_converter()


def structure(data: Any, cls: type[Any], *, what: str) -> Any:
    """Structure SailPoint JSON into ``cls``; a `DecodeError` lists every problem with its wire path."""
    if not isinstance(data, Mapping):
        raise DecodeError(f"not {what}: expected a JSON object, got {type(data).__name__}")
    try:
        return _CONVERTER.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as error:
        problems = "; ".join(str(problem) for problem in structure_problems(error))
        raise DecodeError(f"not {what}: {problems}") from error


def structure_problems(error: ClassValidationError | IterableValidationError) -> list[ValidationProblem]:
    """Every problem cattrs found, each with its wire path (``accountRequests[0].op``)."""
    return list(_problems(error, ""))


def unstructure(value: Any) -> Any:
    """SailPoint JSON for an attrs model of this module or of the plan."""
    return _CONVERTER.unstructure(value)


def _problems(error: BaseException, path: str) -> Iterator[ValidationProblem]:
    if isinstance(error, ClassValidationError):
        with_notes, without_notes = error.group_exceptions()
        for inner, note in with_notes:
            yield from _problems(inner, _join(path, wire_name(error.cl, note.name)))
        for inner in without_notes:
            yield from _problems(inner, path)
    elif isinstance(error, IterableValidationError):
        with_index, without_index = error.group_exceptions()
        for inner, index_note in with_index:
            yield from _problems(inner, f"{path}[{index_note.index}]")
        for inner in without_index:
            yield from _problems(inner, path)
    elif isinstance(error, KeyError):
        yield ValidationProblem(path, "required")
    else:
        yield ValidationProblem(path, " ".join(str(error).split()) or type(error).__name__)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------------------------------
# Plans: plain JSON
# ---------------------------------------------------------------------------------------------------------------

_ACCOUNT_REQUEST_ALIASES = {
    "operation": "op",
    "accountOperation": "op",
    "sourceId": "applicationId",
    "sourceName": "applicationName",
    "application": "applicationName",
    "accountId": "nativeIdentity",
    "account": "nativeIdentity",
}
_ATTRIBUTE_REQUEST_ALIASES = {"attributeName": "name", "operation": "op", "attributeValue": "value", "values": "value"}


def _with_aliases(data: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    result = dict(data)
    for alias, canonical in aliases.items():
        if alias in result and canonical not in result:
            result[canonical] = result.pop(alias)
    return result


def _normalize_plan(data: Mapping[str, Any]) -> dict[str, Any]:
    plan = _with_aliases(data, {"key": "trackingNumber"})
    requests = plan.get("accountRequests")
    if isinstance(requests, list):
        plan["accountRequests"] = [_normalize_account_request(item) for item in requests]
    identity = plan.get("identity")
    if isinstance(identity, Mapping) and "displayName" not in identity:
        attributes = identity.get("attributes")
        if isinstance(attributes, Mapping) and isinstance(attributes.get("displayName"), str):
            plan["identity"] = {**identity, "displayName": attributes["displayName"]}
    return plan


def _normalize_account_request(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    request = _with_aliases(item, _ACCOUNT_REQUEST_ALIASES)
    source = request.pop("source", None)
    if isinstance(source, Mapping):
        request.setdefault("applicationId", source.get("id"))
        request.setdefault("applicationName", source.get("name"))
    attributes = request.get("attributeRequests")
    if isinstance(attributes, list):
        request["attributeRequests"] = [
            _with_aliases(entry, _ATTRIBUTE_REQUEST_ALIASES) if isinstance(entry, Mapping) else entry
            for entry in attributes
        ]
    return request


def plan_from_json(data: Mapping[str, Any]) -> ProvisioningPlan:
    """See `ProvisioningPlan.from_json`."""
    if not isinstance(data, Mapping):
        raise DecodeError(f"not a provisioning plan: expected a JSON object, got {type(data).__name__}")
    plan: ProvisioningPlan = structure(_normalize_plan(data), ProvisioningPlan, what="a provisioning plan")
    return plan


def plan_to_json(plan: ProvisioningPlan) -> dict[str, Any]:
    """See `ProvisioningPlan.to_json`."""
    data: dict[str, Any] = unstructure(plan)
    return data


# ---------------------------------------------------------------------------------------------------------------
# Plans: manual work items
# ---------------------------------------------------------------------------------------------------------------

_OPERATION_WORDS = re.compile(r"\b(create|modify|update|change|delete|enable|disable|unlock|lock)\b", re.IGNORECASE)
_OPERATION_BY_WORD = {
    "create": AccountOperation.CREATE,
    "modify": AccountOperation.MODIFY,
    "update": AccountOperation.MODIFY,
    "change": AccountOperation.MODIFY,
    "delete": AccountOperation.DELETE,
    "enable": AccountOperation.ENABLE,
    "disable": AccountOperation.DISABLE,
    "unlock": AccountOperation.UNLOCK,
    "lock": AccountOperation.LOCK,
}
_ATTRIBUTE_OPERATION_BY_WORD = {
    "add": AttributeOperation.ADD,
    "remove": AttributeOperation.REMOVE,
    "revoke": AttributeOperation.REMOVE,
    "delete": AttributeOperation.REMOVE,
    "set": AttributeOperation.SET,
    "update": AttributeOperation.SET,
    "replace": AttributeOperation.SET,
    "modify": AttributeOperation.SET,
}
_SOURCE_IN_DESCRIPTION = re.compile(r"\bsource\s+'([^']+)'", re.IGNORECASE)


def _account_operation(*texts: str | None) -> AccountOperation:
    for text in texts:
        match = _OPERATION_WORDS.search(text or "")
        if match:
            return _OPERATION_BY_WORD[match.group(1).lower()]
    return AccountOperation.MODIFY


def _attribute_operation(text: str | None) -> AttributeOperation:
    return _ATTRIBUTE_OPERATION_BY_WORD.get((text or "").strip().lower(), AttributeOperation.SET)


@attrs.frozen
class _WorkItemLine:
    source_name: str | None
    account: str | None
    name: str | None
    operation: str | None
    value: Any


def plan_from_work_item(data: Mapping[str, Any], *, source_ids: Mapping[str, str] | None) -> ProvisioningPlan:
    """See `ProvisioningPlan.from_work_item`."""
    item: WorkItemWire = structure(data, WorkItemWire, what="a work item")
    # A manual action lists each change twice, as an approval item and as a remediation item: read the approval
    # items, and the remediation items only when there are none (reading both would ask for every change twice).
    lines = [
        _WorkItemLine(a.application, a.account, a.name, a.operation, a.value) for a in item.approval_items or ()
    ] or [
        _WorkItemLine(r.application_name, r.native_identity, r.attribute_name, r.attribute_operation, r.attribute_value)
        for r in item.remediation_items or ()
    ]
    operation = _account_operation(item.name, item.description)
    if not lines:
        described = _SOURCE_IN_DESCRIPTION.search(item.description or "")
        lines = [_WorkItemLine(described.group(1) if described else None, None, None, None, None)]
    grouped: dict[tuple[str | None, str | None], list[_WorkItemLine]] = {}
    for line in lines:
        grouped.setdefault((line.source_name, line.account), []).append(line)
    ids = source_ids or {}
    account_requests = tuple(
        AccountRequest(
            operation=operation,
            source_id=ids.get(source_name) if source_name else None,
            source_name=source_name,
            native_identity=account,
            attribute_requests=tuple(
                AttributeRequest(line.name, _attribute_operation(line.operation), _plain_value(line.value))
                for line in group
                if line.name
            ),
        )
        for (source_name, account), group in grouped.items()
    )
    target = next(iter(item.remediation_items or ()), None)
    identity = Identity(
        id=target.target_id if target else None,
        name=target.target_name if target else None,
        display_name=(target.target_display_name if target else None) or (item.form.target_user if item.form else None),
    )
    arguments = _without_none(
        {
            "workItemId": item.id,
            "workItemName": item.name,
            "description": item.description,
            "requesterId": item.requester_id,
            "requesterDisplayName": item.requester_display_name,
            "ownerId": item.owner_id,
            "ownerName": item.owner_name,
            "created": _unstructure_datetime(item.created) if item.created else None,
        }
    )
    return ProvisioningPlan(key=item.id, identity=identity, arguments=arguments, account_requests=account_requests)


def _plain_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_plain_value(item) for item in value)
    return str(value)


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


# ---------------------------------------------------------------------------------------------------------------
# Plans: the Provisioning Completed event
# ---------------------------------------------------------------------------------------------------------------


def _ref_data(ref: WireRef | None) -> dict[str, Any] | None:
    return None if ref is None else _without_none({"type": ref.type, "id": ref.id, "name": ref.name})


def plan_from_provisioning_event(data: Mapping[str, Any]) -> ProvisioningPlan:
    """See `ProvisioningPlan.from_provisioning_event`."""
    event: ProvisioningEventWire = structure(data, ProvisioningEventWire, what="a provisioning event")
    recipient = event.recipient or WireRef()
    arguments = _without_none(
        {
            "action": event.action,
            "sources": event.sources,
            "requester": _ref_data(event.requester),
            "errors": list(event.errors) if event.errors else None,
            "warnings": list(event.warnings) if event.warnings else None,
        }
    )
    return ProvisioningPlan(
        key=event.tracking_number,
        identity=Identity(id=recipient.id, display_name=recipient.name),
        arguments=arguments,
        account_requests=tuple(
            AccountRequest(
                operation=request.account_operation,
                source_id=request.source.id,
                source_name=request.source.name,
                native_identity=request.account_id,
                attribute_requests=tuple(
                    AttributeRequest(
                        attribute.attribute_name, attribute.operation, _plain_value(attribute.attribute_value)
                    )
                    for attribute in request.attribute_requests or ()
                ),
            )
            for request in event.account_requests
        ),
    )
