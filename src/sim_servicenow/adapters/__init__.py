"""Adapters between the engine's ports and real systems: ServiceNow or Jira tickets, IdentityNow work items."""

from ._identitynow import WorkItemSource
from ._jira import JiraServiceManagementTicketing, jira_status_map
from ._servicenow import ServiceNowTicketing

__all__ = ["JiraServiceManagementTicketing", "ServiceNowTicketing", "WorkItemSource", "jira_status_map"]
