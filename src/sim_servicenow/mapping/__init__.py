"""The pure mapping layer: provisioning plans, status maps, Velocity request templates, configuration.

Nothing here performs I/O: every function is a function of its inputs, so it can be tested exhaustively and
reused by any ticketing adapter. The engine calls `plan_ticket_groups` and
`render_ticket_payload` to turn a plan into tickets, and `StatusMap` /
`combine_statuses` to read their statuses.
"""

from ._config import (
    ExpiryAction,
    Grouping,
    IdentityNowSettings,
    IntegrationConfig,
    JiraAuthType,
    JiraCorrelationField,
    JiraDeployment,
    JiraSettings,
    ManagedSource,
    ServiceNowAuthType,
    ServiceNowSettings,
    StatusCheck,
    TicketFilter,
    TicketingSystemKind,
)
from ._plan import (
    AccountOperation,
    AccountRequest,
    AttributeOperation,
    AttributeRequest,
    AttributeValue,
    Identity,
    ProvisioningPlan,
)
from ._secret import Secret
from ._status import ProvisioningStatus, StatusMap, StatusResult, combine_statuses, worst_status
from ._template import (
    ITEM_PREFIX,
    REQUEST_PREFIX,
    RenderedFields,
    RequestTemplate,
    TicketType,
    template_context,
)
from ._tickets import (
    CORRELATION_DISPLAY,
    CatalogItemOrder,
    CatalogTicketPayload,
    CorrelationKey,
    TableTicketPayload,
    TicketGroup,
    TicketPayload,
    plan_ticket_groups,
    render_ticket_payload,
    render_ticket_payloads,
)
from ._velocity import RenderLimits

__all__ = [
    "CORRELATION_DISPLAY",
    "ITEM_PREFIX",
    "REQUEST_PREFIX",
    "AccountOperation",
    "AccountRequest",
    "AttributeOperation",
    "AttributeRequest",
    "AttributeValue",
    "CatalogItemOrder",
    "CatalogTicketPayload",
    "CorrelationKey",
    "ExpiryAction",
    "Grouping",
    "Identity",
    "IdentityNowSettings",
    "IntegrationConfig",
    "JiraAuthType",
    "JiraCorrelationField",
    "JiraDeployment",
    "JiraSettings",
    "ManagedSource",
    "ProvisioningPlan",
    "ProvisioningStatus",
    "RenderLimits",
    "RenderedFields",
    "RequestTemplate",
    "Secret",
    "ServiceNowAuthType",
    "ServiceNowSettings",
    "StatusCheck",
    "StatusMap",
    "StatusResult",
    "TableTicketPayload",
    "TicketFilter",
    "TicketGroup",
    "TicketPayload",
    "TicketType",
    "TicketingSystemKind",
    "combine_statuses",
    "plan_ticket_groups",
    "render_ticket_payload",
    "render_ticket_payloads",
    "template_context",
    "worst_status",
]
