"""Reference data and JSON Patch for the fake IdentityNow.

What lives here is not state: SailPoint's example SIM definition, the service-desk integration types the fake
offers, the collection specifications (filterable and sortable fields) that the OpenAPI documents declare, and an
RFC 6902 JSON Patch implementation. Standard library only.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ._idn_query import CollectionSpec, fields

__all__ = [
    "ACCOUNT_ACTIVITY_COLLECTION",
    "DEFAULT_SDIM_TYPES",
    "LEGACY_SIM_STATUS_MAP",
    "SERVICE_DESK_COLLECTION",
    "SOURCE_COLLECTION",
    "PatchError",
    "PatchForbidden",
    "apply_json_patch",
    "example_sim_integration",
]

#: The status map of SailPoint's example SIM definition (ServiceNow ``sc_request.request_state`` values).
LEGACY_SIM_STATUS_MAP: Mapping[str, str] = {
    "requested": "Queued",
    "in_process": "Queued",
    "closed_complete": "Committed",
    "closed_incomplete": "Failed",
    "closed_cancelled": "Failed",
    "closed_rejected": "Failed",
}


def example_sim_integration(sources: Sequence[str] = (), *, cluster: str = "xyzzy999") -> dict[str, Any]:
    """SailPoint's example legacy SIM definition (``SimIntegrationDetails``), as a request body.

    The ``statusMap``, ``request`` templates, ``type``, ``cluster`` and rule reference are the OpenAPI example
    values; ``attributes`` carries the legacy SIM connection keys (``authType``, ``username``, ``password``,
    ``url``, ``catalogItem``), whose names come from published SIM set-ups, not from the OpenAPI document.
    """
    return {
        "name": "ServiceNow Service Desk",
        "description": "Integration description",
        "type": "ServiceNow Service Desk",
        "attributes": {
            "authType": "Basic",
            "url": "https://example.service-now.com",
            "username": "sailpoint.integration",
            "password": "example-password",
            "serviceNowAppName": "ServiceNow",
            "catalogItem": {},
        },
        "sources": list(sources),
        "cluster": cluster,
        "statusMap": dict(LEGACY_SIM_STATUS_MAP),
        "request": {
            "description": "SailPoint Access Request",
            "short_description": "SailPoint Access Request $!plan.arguments.identityRequestId",
            "req_description": "The Service Request created by SailPoint ServiceNow Service Integration Module (SIM).",
            "req_short_description": "SailPoint New Access Request Created from IdentityNow",
        },
        "beforeProvisioningRule": {"type": "RULE", "id": "2c918085708c274401708c2a8a760001", "name": "Example Rule"},
    }


#: The integration types ``GET /service-desk-integrations/types`` lists, with the template each one names.
#: The type strings ``ServiceNowSDIM`` / ``ServiceNow`` are documented; script names and the other types are
#: assumptions (UNCONFIRMED) - replace them with ``FakeIdentityNow.add_service_desk_type``.
DEFAULT_SDIM_TYPES: tuple[dict[str, Any], ...] = (
    {
        "name": "ServiceNow Service Desk",
        "type": "ServiceNowSDIM",
        "scriptName": "servicenow-sdim",
        "attributes": {
            "url": "",
            "authenticationType": "Basic",
            "username": "",
            "password": "",
            "ticketType": "serviceRequest",
        },
    },
    {
        "name": "Generic Service Desk",
        "type": "Generic SDIM",
        "scriptName": "generic-sdim",
        "attributes": {"slpt_url": "", "slpt_authenticationType": "Basic", "slpt_username": "", "slpt_password": ""},
    },
    {
        "name": "Jira Service Desk",
        "type": "Jira SDIM",
        "scriptName": "jira-sdim",
        "attributes": {"url": "", "username": "", "password": "", "project": ""},
    },
)

_TEXT_OPS = ("eq", "in", "ge", "gt", "le", "lt", "ne", "isnull", "sw")

#: ``GET /sources``: the documented filters and sorters.
SOURCE_COLLECTION = CollectionSpec(
    filters={
        "id": fields("string", *_TEXT_OPS),
        "name": fields("string", "co", "eq", "in", "sw", "ge", "gt", "ne", "isnull"),
        "type": fields("string", "eq", "in", "ge", "gt", "ne", "isnull", "sw"),
        "owner.id": fields("string", *_TEXT_OPS),
        "features": fields("list", "ca", "co"),
        "created": fields("datetime", *_TEXT_OPS),
        "modified": fields("datetime", *_TEXT_OPS),
        "managementWorkgroup.id": fields("string", *_TEXT_OPS),
        "description": fields("string", "eq", "sw"),
        "authoritative": fields("boolean", "eq", "ne", "isnull"),
        "healthy": fields("boolean", "isnull"),
        "status": fields("string", *_TEXT_OPS),
        "connectionType": fields("string", *_TEXT_OPS),
        "connectorName": fields("string", "eq", "ge", "gt", "in", "ne", "isnull", "sw"),
        "category": fields("string", "co", "eq", "ge", "gt", "in", "le", "lt", "ne", "sw"),
    },
    sorters={
        "type": "string",
        "created": "datetime",
        "modified": "datetime",
        "name": "string",
        "owner.name": "string",
        "healthy": "boolean",
        "status": "string",
        "id": "string",
        "description": "string",
        "owner.id": "string",
        "accountCorrelationConfig.id": "string",
        "accountCorrelationConfig.name": "string",
        "managerCorrelationRule.type": "string",
        "managerCorrelationRule.id": "string",
        "managerCorrelationRule.name": "string",
        "authoritative": "boolean",
        "managementWorkgroup.id": "string",
        "connectorName": "string",
        "connectionType": "string",
    },
)

#: ``GET /service-desk-integrations``: the documented filters and sorters.
SERVICE_DESK_COLLECTION = CollectionSpec(
    filters={
        "id": fields("string", "eq", "in"),
        "name": fields("string", "eq"),
        "type": fields("string", "eq", "in"),
        "cluster": fields("string", "eq", "in"),
    },
    sorters={"name": "string"},
)

#: ``GET /account-activities``: the documented filters and sorters.
ACCOUNT_ACTIVITY_COLLECTION = CollectionSpec(
    filters={
        "type": fields("string", "eq", "in", "ge", "le", "lt", "ne", "isnull", "sw"),
        "created": fields("datetime", "gt", "lt", "ge", "le", "eq", "in", "ne", "isnull", "sw"),
        "modified": fields("datetime", "gt", "lt", "ge", "le", "eq", "in", "ne", "isnull", "sw"),
    },
    sorters={"type": "string", "created": "datetime", "modified": "datetime"},
)


# -------------------------------------------------------------------------------------------------- JSON Patch


class PatchError(ValueError):
    """A JSON Patch that cannot be applied (IdentityNow answers 400)."""


class PatchForbidden(PatchError):
    """A JSON Patch operation the endpoint does not allow (IdentityNow answers 403)."""


_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"{path!r} is not a JSON pointer")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} is out of range")
    return index


def _parent(document: Any, tokens: list[str], path: str) -> Any:
    target = document
    for token in tokens[:-1]:
        if isinstance(target, dict):
            if token not in target:
                raise PatchError(f"path {path!r} does not exist")
            target = target[token]
        elif isinstance(target, list):
            target = target[_index(target, token, for_add=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return target


def _get(document: Any, path: str) -> Any:
    target = document
    for token in _pointer(path):
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list):
            target = target[_index(target, token, for_add=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return target


def _add(document: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(document, tokens, path)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], for_add=True), value)
    else:
        raise PatchError(f"path {path!r} does not exist")
    return document


def _remove(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(document, tokens, path)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(f"path {path!r} does not exist")
        del parent[tokens[-1]]
    elif isinstance(parent, list):
        del parent[_index(parent, tokens[-1], for_add=False)]
    else:
        raise PatchError(f"path {path!r} does not exist")
    return document


def apply_json_patch(
    document: Mapping[str, Any],
    operations: Any,
    *,
    allowed_ops: Collection[str] = _OPS,
    implicit_members: Collection[str] = (),
) -> dict[str, Any]:
    """Apply an RFC 6902 patch to a copy of ``document``, atomically.

    ``allowed_ops`` limits the operations (others raise `PatchForbidden`); ``implicit_members`` are
    top-level members that count as present (null) even when absent, as the fields of a server-side DTO do.
    """
    if not isinstance(operations, list):
        raise PatchError("a JSON Patch is an array of operations")
    result: Any = copy.deepcopy(dict(document))
    for member in implicit_members:
        result.setdefault(member, None)
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchError(f"operation {number} is not an object")
        op = operation.get("op")
        if op not in _OPS:
            raise PatchError(f"operation {number}: unknown op {op!r}")
        if op not in allowed_ops:
            allowed = ", ".join(sorted(allowed_ops))
            raise PatchForbidden(f"operation {number}: op {op!r} is not allowed here (allowed: {allowed})")
        path = operation.get("path")
        _pointer(path)
        assert isinstance(path, str)  # _pointer refuses anything else
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"operation {number}: {op!r} needs a value")
        value = copy.deepcopy(operation.get("value"))
        if op == "add":
            result = _add(result, path, value)
        elif op == "remove":
            result = _remove(result, path)
        elif op == "replace":
            _get(result, path)
            result = _add(_remove(result, path), path, value) if path else value
        elif op == "test":
            if _get(result, path) != value:
                raise PatchError(f"operation {number}: test of {path!r} failed")
        else:
            source = operation.get("from")
            _pointer(source)
            assert isinstance(source, str)
            moved = copy.deepcopy(_get(result, source))
            if op == "move":
                if path.startswith(source + "/"):
                    raise PatchError(f"operation {number}: cannot move {source!r} into itself")
                result = _remove(result, source)
            result = _add(result, path, moved)
    if not isinstance(result, dict):
        raise PatchError("the patched document is not an object")
    for member in implicit_members:
        if member in result and result[member] is None and member not in document:
            del result[member]
    return result
