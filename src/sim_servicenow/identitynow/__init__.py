"""The typed IdentityNow (SailPoint Identity Security Cloud) REST client.

::

    from sim_servicenow.auth import OAuth2ClientCredentials
    from sim_servicenow.identitynow import IdentityNowClient

    url = "https://acme.api.identitynow.com"
    with IdentityNowClient(url, OAuth2ClientCredentials.for_identitynow(url, pat_id, pat_secret)) as idn:
        for item in idn.work_items.iter_manual_actions(["2c9180835d191a86015d28455b4a2329"]):
            ...
"""

from . import filters
from ._client import (
    AccountActivitiesApi,
    ApiLayout,
    IdentityNowClient,
    ServiceDeskIntegrationsApi,
    SimIntegrationsApi,
    SourcesApi,
    WorkItemsApi,
)
from ._convert import make_converter
from ._models import (
    AccountActivity,
    AccountActivityItem,
    AccountRequestInfo,
    ApprovalItem,
    Comment,
    CompletionStatus,
    ExecutionStatus,
    FormSection,
    IdentitySummary,
    LegacySource,
    ManualAction,
    PatchOperation,
    ProvisioningConfig,
    ProvisioningState,
    Reference,
    RemediationItem,
    ServiceDeskIntegration,
    ServiceDeskIntegrationTemplate,
    ServiceDeskIntegrationType,
    SimIntegration,
    Source,
    StatusCheckConfiguration,
    WorkItem,
    WorkItemCompletion,
    WorkItemForm,
    WorkItemsSummary,
    WorkItemState,
    WorkItemType,
)
from ._ratelimit import RateLimiter, WindowRateLimiter
from ._sourceids import SourceIdMap, SourceIds

__all__ = [
    "AccountActivitiesApi",
    "AccountActivity",
    "AccountActivityItem",
    "AccountRequestInfo",
    "ApiLayout",
    "ApprovalItem",
    "Comment",
    "CompletionStatus",
    "ExecutionStatus",
    "FormSection",
    "IdentityNowClient",
    "IdentitySummary",
    "LegacySource",
    "ManualAction",
    "PatchOperation",
    "ProvisioningConfig",
    "ProvisioningState",
    "RateLimiter",
    "Reference",
    "RemediationItem",
    "ServiceDeskIntegration",
    "ServiceDeskIntegrationTemplate",
    "ServiceDeskIntegrationType",
    "ServiceDeskIntegrationsApi",
    "SimIntegration",
    "SimIntegrationsApi",
    "Source",
    "SourceIdMap",
    "SourceIds",
    "SourcesApi",
    "StatusCheckConfiguration",
    "WindowRateLimiter",
    "WorkItem",
    "WorkItemCompletion",
    "WorkItemForm",
    "WorkItemState",
    "WorkItemType",
    "WorkItemsApi",
    "WorkItemsSummary",
    "filters",
    "make_converter",
]
