"""Provisioning plans: what IdentityNow wants done on which accounts of which sources."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs

__all__ = [
    "AccountOperation",
    "AccountRequest",
    "AttributeOperation",
    "AttributeRequest",
    "AttributeValue",
    "Identity",
    "ProvisioningPlan",
]

_E = TypeVar("_E", bound=enum.Enum)

AttributeValue = str | tuple[str, ...] | None
"""An attribute request's value: one string, several, or none (SailPoint's values are strings or string lists)."""


class AccountOperation(enum.Enum):
    """What an account request does to the account (SailPoint's ``ProvisioningPlan.ObjectOperation``)."""

    CREATE = "Create"
    MODIFY = "Modify"
    DELETE = "Delete"
    ENABLE = "Enable"
    DISABLE = "Disable"
    UNLOCK = "Unlock"
    LOCK = "Lock"

    @classmethod
    def parse(cls, text: str) -> AccountOperation:
        """The operation named by ``text``, in any case (``"create"``, ``"CREATE"``, ``"Create"``).

        Raises:
            ValueError: ``text`` names no operation.
        """
        return _parse_enum(cls, text)


class AttributeOperation(enum.Enum):
    """What an attribute request does to the attribute's values."""

    ADD = "Add"
    REMOVE = "Remove"
    SET = "Set"

    @classmethod
    def parse(cls, text: str) -> AttributeOperation:
        """The operation named by ``text``, in any case.

        Raises:
            ValueError: ``text`` names no operation.
        """
        return _parse_enum(cls, text)


def _parse_enum(cls: type[_E], text: str) -> _E:
    wanted = str(text).strip().casefold()
    for member in cls:
        if member.value.casefold() == wanted or member.name.casefold() == wanted:
            return member
    choices = ", ".join(member.value for member in cls)
    raise ValueError(f"{text!r} is not one of {choices}")


def _normalize_value(value: Any) -> AttributeValue:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_scalar_text(item) for item in value)
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mapping_copy(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return {} if value is None else dict(value)


def _attribute_requests(items: Iterable[AttributeRequest]) -> tuple[AttributeRequest, ...]:
    return tuple(items)


def _account_requests(items: Iterable[AccountRequest]) -> tuple[AccountRequest, ...]:
    return tuple(items)


@attrs.frozen
class AttributeRequest:
    """One change to one account attribute.

    Attributes:
        name: the attribute, e.g. ``groups`` (or SailPoint's pseudo-attributes ``*disabled*`` / ``*locked*``).
        operation: Add, Remove or Set.
        value: one value, a tuple of values, or None. Non-string scalars are stored as text
            (``True`` becomes ``"true"``), lists as tuples.
    """

    name: str
    operation: AttributeOperation = AttributeOperation.SET
    value: AttributeValue = attrs.field(default=None, converter=_normalize_value)

    @property
    def values(self) -> tuple[str, ...]:
        """The value as a tuple: empty for None, one item for a single value."""
        if self.value is None:
            return ()
        if isinstance(self.value, tuple):
            return self.value
        return (self.value,)


@attrs.frozen
class AccountRequest:
    """What to do to one account on one source.

    Attributes:
        operation: Create, Modify, Delete, Enable, Disable, Unlock or Lock.
        source_id: the IdentityNow source id (32 hex characters); None when only the name is known,
            as in a manual work item.
        source_name: the source's display name (SailPoint's "application").
        native_identity: the account's id on the source (None for a Create that lets the source choose).
        tracking_id: SailPoint's per-request tracking id, when there is one.
        attribute_requests: the attribute changes, in plan order.
    """

    operation: AccountOperation
    source_id: str | None = None
    source_name: str | None = None
    native_identity: str | None = None
    tracking_id: str | None = None
    attribute_requests: tuple[AttributeRequest, ...] = attrs.field(default=(), converter=_attribute_requests)

    @property
    def source_label(self) -> str:
        """The source's name, or its id when the name is unknown."""
        return self.source_name or self.source_id or "(unknown source)"


@attrs.frozen
class Identity:
    """The identity a plan is for.

    Attributes:
        id: IdentityNow's identity id.
        name: the identity's account name (``uid``), e.g. ``amos.cunningham``.
        display_name: a human name, e.g. ``Amos Cunningham``.
        attributes: further identity attributes (email, department, ...) as plain data.
    """

    id: str | None = None
    name: str | None = None
    display_name: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_mapping_copy, hash=False)

    @property
    def label(self) -> str:
        """The best name to show a person: display name, else name, else id."""
        return self.display_name or self.name or self.id or "(unknown identity)"


@attrs.frozen
class ProvisioningPlan:
    """One provisioning plan: for one identity, the account requests IdentityNow wants carried out.

    Build one directly, or from IdentityNow data with `from_work_item`, `from_provisioning_event`
    or `from_json`; `to_json` writes the JSON the store keeps (and `from_json` reads back).

    Attributes:
        key: the plan's unique key: a manual work item's id, or the caller's tracking number.
        identity: who the plan is for.
        arguments: plan-level arguments as plain data (``identityRequestId``, ``flow``, requester, ...), what
            templates see as ``$plan.arguments``.
        account_requests: the account requests, in plan order.
    """

    key: str
    identity: Identity = attrs.field(factory=Identity)
    arguments: Mapping[str, Any] = attrs.field(factory=dict, converter=_mapping_copy, hash=False)
    account_requests: tuple[AccountRequest, ...] = attrs.field(default=(), converter=_account_requests)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProvisioningPlan:
        """Read a plan from JSON data (as written by `to_json`, or SailPoint-style plan JSON).

        Accepted spellings: ``trackingNumber`` or ``key``; ``accountRequests[].op`` or ``operation``;
        ``applicationId`` / ``applicationName`` or a nested ``source {id, name}``; ``nativeIdentity`` or
        ``accountId``; ``attributeRequests[].name`` / ``op`` / ``value`` or ``attributeName`` /
        ``operation`` / ``attributeValue``. Unknown keys are ignored.

        Raises:
            DecodeError: the data is not a plan; the message lists every problem with its path.
        """
        from ._wire import plan_from_json

        return plan_from_json(data)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data (camelCase keys, SailPoint's plan vocabulary)."""
        from ._wire import plan_to_json

        return plan_to_json(self)

    @classmethod
    def from_work_item(
        cls, work_item: Mapping[str, Any], *, source_ids: Mapping[str, str] | None = None
    ) -> ProvisioningPlan:
        """Build a plan from an IdentityNow manual work item (``GET /v3/work-items/{id}``).

        The work item's id is the plan key. Its ``approvalItems`` (or ``remediationItems``) become attribute
        requests, grouped into one account request per (source, account). The account operation is read from
        the work item's name or description ("Account Create", "Create account on source 'AD'"); Modify when
        neither names one.

        Args:
            work_item: the work item as IdentityNow returns it (camelCase JSON).
            source_ids: source name → source id, to fill `AccountRequest.source_id`; work items name
                sources but do not carry their ids.

        Raises:
            DecodeError: the data is not a work item.
        """
        from ._wire import plan_from_work_item

        return plan_from_work_item(work_item, source_ids=source_ids)

    @classmethod
    def from_provisioning_event(cls, payload: Mapping[str, Any]) -> ProvisioningPlan:
        """Build a plan from a "Provisioning Completed"-style event trigger payload.

        ``trackingNumber`` is the key, ``recipient`` the identity; ``action``, ``requester``, ``sources``,
        ``errors`` and ``warnings`` are kept as arguments.

        Raises:
            DecodeError: the payload is not such an event.
        """
        from ._wire import plan_from_provisioning_event

        return plan_from_provisioning_event(payload)
