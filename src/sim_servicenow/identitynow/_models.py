"""Frozen models of the IdentityNow records the client reads and writes.

Field names are the snake_case forms of SailPoint's camelCase wire names; the wire format lives only
in `._convert`. Vocabularies SailPoint may extend (work-item states and types, provisioning
statuses) are plain strings, so a new value never breaks decoding; compare them with the constants of
`WorkItemState`, `WorkItemType` and friends, which are ``str`` enums and equal to their values.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

__all__ = [
    "AccountActivity",
    "AccountActivityItem",
    "AccountRequestInfo",
    "ApprovalItem",
    "Comment",
    "CompletionStatus",
    "ExecutionStatus",
    "FormSection",
    "IdentitySummary",
    "LegacySource",
    "ManualAction",
    "PatchOperation",
    "ProvisioningConfig",
    "ProvisioningState",
    "Reference",
    "RemediationItem",
    "ServiceDeskIntegration",
    "ServiceDeskIntegrationTemplate",
    "ServiceDeskIntegrationType",
    "SimIntegration",
    "Source",
    "StatusCheckConfiguration",
    "WorkItem",
    "WorkItemCompletion",
    "WorkItemForm",
    "WorkItemState",
    "WorkItemType",
    "WorkItemsSummary",
]

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_SECRET_KEY = re.compile(r"pass|secret|token|credential|private|api_?key", re.IGNORECASE)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``value``, so a frozen model cannot be changed through its mappings."""
    if value is None:
        return _EMPTY
    if isinstance(value, types.MappingProxyType):
        return value
    return types.MappingProxyType(dict(value))


def _masked_repr(value: Mapping[str, Any]) -> str:
    """Repr of an ``attributes`` map with the values of credential-like keys masked."""
    shown = {k: ("***" if _SECRET_KEY.search(str(k)) and v not in (None, "") else v) for k, v in value.items()}
    return repr(shown)


class WorkItemState(str, enum.Enum):
    """The states of a work item (``WorkItemStateManualWorkItems``)."""

    FINISHED = "Finished"
    REJECTED = "Rejected"
    RETURNED = "Returned"
    EXPIRED = "Expired"
    PENDING = "Pending"
    CANCELED = "Canceled"


class WorkItemType(str, enum.Enum):
    """The types of a work item (``WorkItemTypeManualWorkItems``; SailPoint's own spelling kept)."""

    GENERIC = "Generic"
    CERTIFICATION = "Certification"
    REMEDIATION = "Remediation"
    DELEGATION = "Delegation"
    APPROVAL = "Approval"
    VIOLATION_REVIEW = "ViolationReview"
    FORM = "Form"
    POLICY_VIOLATION = "PolicyVioloation"
    CHALLENGE = "Challenge"
    IMPACT_ANALYSIS = "ImpactAnalysis"
    SIGNOFF = "Signoff"
    EVENT = "Event"
    MANUAL_ACTION = "ManualAction"
    TEST = "Test"


class CompletionStatus(str, enum.Enum):
    """How an account activity ended (``CompletionStatus``)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    INCOMPLETE = "INCOMPLETE"
    PENDING = "PENDING"


class ExecutionStatus(str, enum.Enum):
    """Where an account activity is in its execution (``ExecutionStatus``)."""

    EXECUTING = "EXECUTING"
    VERIFYING = "VERIFYING"
    TERMINATED = "TERMINATED"
    COMPLETED = "COMPLETED"


class ProvisioningState(str, enum.Enum):
    """The provisioning status of an account activity item (``ProvisioningState``; SailPoint's spelling)."""

    PENDING = "PENDING"
    FINISHED = "FINISHED"
    UNVERIFIABLE = "UNVERIFIABLE"
    COMMITED = "COMMITED"
    FAILED = "FAILED"
    RETRY = "RETRY"


@attrs.frozen
class Reference:
    """A typed reference to another IdentityNow object (owner, cluster, source, rule, ...).

    Attributes:
        type: the referenced object's DTO type, e.g. ``IDENTITY``, ``CLUSTER``, ``SOURCE``, ``RULE``.
        id: the referenced object's id.
        name: its display name, when the server includes it.
    """

    type: str | None = None
    id: str | None = None
    name: str | None = None


@attrs.frozen
class ProvisioningConfig:
    """How a service desk integration takes part in provisioning (``ProvisioningConfig``).

    Attributes:
        universal_manager: the integration manages every source of the tenant (read-only, set by the server).
        managed_resource_refs: the sources whose provisioning the integration turns into tickets.
        plan_initializer_script: a before-provisioning rule's XML source (``planInitializerScript.source``).
        no_provisioning_requests: do not save ``ProvisioningRequest`` objects for plans sent through it.
        provisioning_request_expiration: hours a saved pending request keeps affecting plan compilation.
    """

    universal_manager: bool = False
    managed_resource_refs: tuple[Reference, ...] = ()
    plan_initializer_script: str | None = None
    no_provisioning_requests: bool = False
    provisioning_request_expiration: int | None = None


@attrs.frozen
class ServiceDeskIntegration:
    """A service desk integration (SDIM, ``ServiceDeskIntegrationDto``).

    The deprecated wire fields ``cluster`` and ``managedSources`` are folded into `cluster_ref`
    and `provisioning_config` when read (the current field wins when both are present and
    disagree) and written back as mirrors of them, so there is one truth on both sides.

    Attributes:
        name: the unique name.
        description: what the integration is for (required by the server).
        type: the integration type, e.g. ``ServiceNowSDIM`` (see ``types()``).
        attributes: type-specific settings, credentials included (masked in the repr).
        id: the server's id; ``None`` before creation.
        created: when it was created.
        modified: when it was last modified.
        owner_ref: the owning identity.
        cluster_ref: the virtual-appliance cluster it runs on.
        provisioning_config: the managed sources and provisioning options.
        before_provisioning_rule: a before-provisioning rule.
    """

    name: str
    description: str = ""
    type: str = "ServiceNowSDIM"
    attributes: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping, repr=_masked_repr)
    id: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    owner_ref: Reference | None = None
    cluster_ref: Reference | None = None
    provisioning_config: ProvisioningConfig | None = None
    before_provisioning_rule: Reference | None = None

    @property
    def cluster_id(self) -> str | None:
        """The id of `cluster_ref` (what the deprecated ``cluster`` field carried)."""
        return self.cluster_ref.id if self.cluster_ref is not None else None

    @property
    def managed_source_ids(self) -> tuple[str, ...]:
        """The ids of the managed sources (what the deprecated ``managedSources`` field carried)."""
        if self.provisioning_config is None:
            return ()
        return tuple(ref.id for ref in self.provisioning_config.managed_resource_refs if ref.id)


@attrs.frozen
class ServiceDeskIntegrationType:
    """One integration type the tenant supports (``ServiceDeskIntegrationTemplateType``).

    Attributes:
        type: the type string to use in `ServiceDeskIntegration.type`.
        script_name: the name of its template, for ``template(script_name)``.
        name: a display name.
    """

    type: str
    script_name: str
    name: str | None = None


@attrs.frozen
class ServiceDeskIntegrationTemplate:
    """The template of an integration type (``ServiceDeskIntegrationTemplateDto``).

    Attributes:
        type: the integration type.
        name: the template's name.
        attributes: the type's default attributes (masked in the repr).
        provisioning_config: the type's default provisioning configuration.
        id: the template's id.
        created: when it was created.
        modified: when it was last modified.
    """

    type: str
    name: str | None = None
    attributes: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping, repr=_masked_repr)
    provisioning_config: ProvisioningConfig | None = None
    id: str | None = None
    created: datetime | None = None
    modified: datetime | None = None


@attrs.frozen
class StatusCheckConfiguration:
    """The tenant-wide schedule of ticket status checks (``QueuedCheckConfigDetails``).

    Strings on the wire, integers here.

    Attributes:
        provisioning_status_check_interval_minutes: minutes between two status checks of a queued ticket.
        provisioning_max_status_check_days: days after which a ticket is no longer checked.
    """

    provisioning_status_check_interval_minutes: int = attrs.field(validator=attrs.validators.ge(0))
    provisioning_max_status_check_days: int = attrs.field(validator=attrs.validators.ge(0))

    @property
    def check_interval(self) -> timedelta:
        """The interval between two status checks."""
        return timedelta(minutes=self.provisioning_status_check_interval_minutes)

    @property
    def max_check_duration(self) -> timedelta:
        """How long a ticket is checked at most."""
        return timedelta(days=self.provisioning_max_status_check_days)


@attrs.frozen
class SimIntegration:
    """A legacy ServiceNow SIM integration (``SimIntegrationDetails``).

    The server may answer in the service-desk shape (``managedSources``, ``clusterRef``,
    ``provisioningConfig``); those are folded into `sources` and `cluster` when read.

    Attributes:
        name: the unique name.
        description: what the integration is for.
        type: the integration type, ``ServiceNow Service Desk`` for the ServiceNow SIM.
        attributes: connection settings and credentials (``url``, ``username``, ``password``,
            ``catalogItem``, ...; masked in the repr).
        sources: the ids of the sources whose provisioning becomes tickets.
        cluster: the id of the virtual-appliance cluster.
        status_map: ServiceNow status value to ``Queued`` / ``Committed`` / ``Failed``.
        request: ticket field name to Velocity template.
        before_provisioning_rule: a before-provisioning rule.
        id: the server's id; ``None`` before creation.
        created: when it was created.
        modified: when it was last modified.
    """

    name: str
    description: str | None = None
    type: str = "ServiceNow Service Desk"
    attributes: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping, repr=_masked_repr)
    sources: tuple[str, ...] = ()
    cluster: str | None = None
    status_map: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    request: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    before_provisioning_rule: Reference | None = None
    id: str | None = None
    created: datetime | None = None
    modified: datetime | None = None


@attrs.frozen
class Source:
    """A source (``Source``): the parts an integration needs; other keys are ignored.

    Attributes:
        id: the source id (32 hex characters).
        name: the unique name.
        description: its description.
        owner: the owning identity.
        cluster: the virtual-appliance cluster.
        type: the source type, e.g. ``Active Directory - Direct``.
        connector: the connector script name.
        connector_class: the connector's class.
        connector_name: the connector's display name.
        connector_id: the connector's id.
        connection_type: ``direct`` or ``file``.
        connector_implementation_id: the connector implementation.
        connector_attributes: connector settings (masked in the repr).
        features: what the source supports, e.g. ``PROVISIONING``, ``ENABLE``, ``UNLOCK``.
        authoritative: whether it is authoritative.
        healthy: whether its last health check passed.
        status: its state, e.g. ``SOURCE_STATE_HEALTHY``.
        management_workgroup: the governance group that manages it.
        before_provisioning_rule: its before-provisioning rule.
        created: when it was created.
        modified: when it was last modified.
    """

    id: str
    name: str
    description: str | None = None
    owner: Reference | None = None
    cluster: Reference | None = None
    type: str | None = None
    connector: str | None = None
    connector_class: str | None = None
    connector_name: str | None = None
    connector_id: str | None = None
    connection_type: str | None = None
    connector_implementation_id: str | None = None
    connector_attributes: Mapping[str, Any] = attrs.field(default=_EMPTY, converter=_frozen_mapping, repr=_masked_repr)
    features: tuple[str, ...] = ()
    authoritative: bool = False
    healthy: bool = False
    status: str | None = None
    management_workgroup: Reference | None = None
    before_provisioning_rule: Reference | None = None
    created: datetime | None = None
    modified: datetime | None = None


@attrs.frozen
class LegacySource:
    """A source as the private ``/cc/api/source/list`` reports it.

    Attributes:
        id: the short numeric id of the private API (as a string).
        external_id: the backend id, the same value as the v3 source id.
        name: the source name.
    """

    id: str
    external_id: str | None = None
    name: str | None = None


@attrs.frozen
class ApprovalItem:
    """One item of a work item (``ApprovalItemDetails``): for manual provisioning, one change to make.

    Attributes:
        id: the item id, for approve / reject.
        account: the account's native identity.
        application: the source (application) name.
        name: the attribute name.
        operation: the operation, e.g. ``Create``, ``Add``, ``Remove``.
        value: the attribute value.
        state: the item's state (a `WorkItemState` value), if decided.
    """

    id: str | None = None
    account: str | None = None
    application: str | None = None
    name: str | None = None
    operation: str | None = None
    value: str | None = None
    state: str | None = None


@attrs.frozen
class RemediationItem:
    """One remediation item of a work item (``RemediationItemDetails``).

    Attributes:
        id: the item id.
        target_id: the target identity's id.
        target_name: the target identity's name.
        target_display_name: the target's display name.
        application_name: the source (application) name.
        attribute_name: the attribute to change.
        attribute_operation: the operation on it.
        attribute_value: the value.
        native_identity: the account's native identity.
    """

    id: str | None = None
    target_id: str | None = None
    target_name: str | None = None
    target_display_name: str | None = None
    application_name: str | None = None
    attribute_name: str | None = None
    attribute_operation: str | None = None
    attribute_value: str | None = None
    native_identity: str | None = None


@attrs.frozen
class FormSection:
    """A section of a work-item form (``SectionDetails``).

    Attributes:
        name: the section name.
        label: its label.
        form_items: its items (sections or fields), as the server sent them.
    """

    name: str | None = None
    label: str | None = None
    form_items: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen
class WorkItemForm:
    """The form of a form work item (``FormDetails``).

    Attributes:
        id: the form id.
        name: the form name.
        title: its title.
        subtitle: its subtitle.
        target_user: who should see the form.
        sections: its sections.
    """

    id: str | None = None
    name: str | None = None
    title: str | None = None
    subtitle: str | None = None
    target_user: str | None = None
    sections: tuple[FormSection, ...] = ()


@attrs.frozen
class WorkItem:
    """A work item (``WorkItems``); manual provisioning tasks have type ``ManualAction``.

    Attributes:
        id: the work item id.
        state: a `WorkItemState` value, e.g. ``Pending``.
        type: a `WorkItemType` value, e.g. ``ManualAction``.
        name: e.g. ``Account Create``.
        description: e.g. ``Create account on source 'AD'``.
        owner_id: the owner's identity id.
        owner_name: the owner's name.
        requester_id: the requester's identity id.
        requester_display_name: the requester's display name.
        created: when it was created.
        modified: when it was last modified.
        completed: when it was completed.
        num_items: the number of items.
        approval_items: the approval items (the changes of a manual provisioning task).
        remediation_items: the remediation items.
        form: the form, for form work items.
        errors: error messages.
    """

    id: str
    state: str | None = None
    type: str | None = None
    name: str | None = None
    description: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    requester_id: str | None = None
    requester_display_name: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    completed: datetime | None = None
    num_items: int | None = None
    approval_items: tuple[ApprovalItem, ...] = ()
    remediation_items: tuple[RemediationItem, ...] = ()
    form: WorkItemForm | None = None
    errors: tuple[str, ...] = ()

    @property
    def is_pending(self) -> bool:
        """Whether the work item is still open (state ``Pending``)."""
        return self.state == WorkItemState.PENDING


@attrs.frozen
class ManualAction:
    """A pending manual provisioning task and the source it is for.

    Attributes:
        work_item: the work item (type ``ManualAction``); its approval items are the changes to make.
        source: the source its items name.
    """

    work_item: WorkItem
    source: Source


@attrs.frozen
class WorkItemCompletion:
    """The outcome of completing a work item.

    Attributes:
        work_item: the work item as the server reported it afterwards.
        already_closed: the server refused because the item was no longer pending: it was completed
            (or cancelled, expired, ...) before, possibly by an earlier attempt of the same call whose
            answer was lost. Look at ``work_item.state`` for how it ended.
    """

    work_item: WorkItem
    already_closed: bool = False


@attrs.frozen
class WorkItemsSummary:
    """Counts of work items (``WorkItemsSummary``).

    Attributes:
        open: pending work items.
        completed: completed work items.
        total: all work items.
    """

    open: int = 0
    completed: int = 0
    total: int = 0


@attrs.frozen
class IdentitySummary:
    """A short description of an identity in an account activity (``IdentitySummary``).

    Attributes:
        id: the summary id.
        name: the identity's name.
        identity_id: the identity's id.
        completed: whether the identity's part is complete.
    """

    id: str | None = None
    name: str | None = None
    identity_id: str | None = None
    completed: bool = False


@attrs.frozen
class Comment:
    """A comment on an account activity item (``Comment``).

    Attributes:
        commenter_id: who commented (identity id).
        commenter_name: their name.
        body: the text.
        date: when.
    """

    commenter_id: str | None = None
    commenter_name: str | None = None
    body: str | None = None
    date: datetime | None = None


@attrs.frozen
class AccountRequestInfo:
    """What was requested for an account activity item (``AccountRequestInfo``).

    Attributes:
        requested_object_id: the requested object's id.
        requested_object_name: its name.
        requested_object_type: ``ACCESS_PROFILE``, ``ROLE`` or ``ENTITLEMENT``.
    """

    requested_object_id: str | None = None
    requested_object_name: str | None = None
    requested_object_type: str | None = None


@attrs.frozen
class AccountActivityItem:
    """One item of an account activity (``AccountActivityItem``).

    Attributes:
        id: the item id.
        name: the item name.
        requested: when it was requested.
        approval_status: e.g. ``PENDING``, ``FINISHED``.
        provisioning_status: a `ProvisioningState` value.
        requester_comment: the requester's comment.
        reviewer_identity_summary: the reviewer.
        reviewer_comment: the reviewer's comment.
        operation: e.g. ``ADD``, ``CREATE``, ``DISABLE``.
        attribute: the attribute.
        value: the value.
        native_identity: the account's native identity.
        source_id: the source id.
        account_request_info: what was requested.
        client_metadata: caller-defined metadata.
        remove_date: when the access is to be removed.
    """

    id: str | None = None
    name: str | None = None
    requested: datetime | None = None
    approval_status: str | None = None
    provisioning_status: str | None = None
    requester_comment: Comment | None = None
    reviewer_identity_summary: IdentitySummary | None = None
    reviewer_comment: Comment | None = None
    operation: str | None = None
    attribute: str | None = None
    value: str | None = None
    native_identity: str | None = None
    source_id: str | None = None
    account_request_info: AccountRequestInfo | None = None
    client_metadata: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_frozen_mapping)
    remove_date: datetime | None = None


@attrs.frozen
class AccountActivity:
    """An account activity (``AccountActivity``): the record of one provisioning request.

    Attributes:
        id: the activity id.
        name: its name.
        type: e.g. ``appRequest``, ``AccountAttributeUpdate``.
        created: when it was created.
        modified: when it was last modified.
        completed: when it completed.
        completion_status: a `CompletionStatus` value.
        execution_status: an `ExecutionStatus` value.
        requester_identity_summary: who requested it.
        target_identity_summary: whom it is for.
        errors: error messages.
        warnings: warnings.
        items: its items.
        client_metadata: caller-defined metadata.
    """

    id: str
    name: str | None = None
    type: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    completed: datetime | None = None
    completion_status: str | None = None
    execution_status: str | None = None
    requester_identity_summary: IdentitySummary | None = None
    target_identity_summary: IdentitySummary | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    items: tuple[AccountActivityItem, ...] = ()
    client_metadata: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_frozen_mapping)


@attrs.frozen
class PatchOperation:
    """One JSON Patch (RFC 6902) operation.

    Attributes:
        op: ``add``, ``remove``, ``replace``, ``move``, ``copy`` or ``test``.
        path: a JSON Pointer, e.g. ``/description``.
        value: the value, for operations that take one.
        from_: the source pointer, for ``move`` and ``copy`` (``from`` on the wire).
    """

    op: str
    path: str
    value: Any = None
    from_: str | None = None

    @classmethod
    def replace(cls, path: str, value: Any) -> PatchOperation:
        """A ``replace`` operation."""
        return cls("replace", path, value)
