"""Adapters between the engine's ports and real systems: ServiceNow tickets, IdentityNow work items."""

from ._identitynow import WorkItemSource
from ._servicenow import ServiceNowTicketing

__all__ = ["ServiceNowTicketing", "WorkItemSource"]
