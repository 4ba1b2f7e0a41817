"""The fake Jira's vocabulary: statuses, resolutions, service desks, issues as tests see them, outcomes.

Standard library only. Everything here is immutable; the fake's mutable state lives in `._jira`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

__all__ = [
    "DEFAULT_OUTCOMES",
    "DEFAULT_RESOLUTIONS",
    "DEFAULT_STATUSES",
    "STATUS_CATEGORIES",
    "JiraComment",
    "JiraIssue",
    "JiraOutcome",
    "JiraRequestType",
    "JiraResolution",
    "JiraServiceDesk",
    "JiraStatus",
    "WorkPolicyLike",
]

#: Jira's three status categories as the platform API shows them (``fields.status.statusCategory``).
STATUS_CATEGORIES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
        "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
        "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
    }
)


@dataclass(frozen=True)
class JiraStatus:
    """One workflow status, and the global transition that leads to it.

    Attributes:
        name: the status name (``"Waiting for support"``).
        category: its status category key: ``new``, ``indeterminate`` or ``done``.
        id: the status id.
        transition_id: the id of the transition into this status (every status can be reached from every other).
        transition_name: that transition's name.
        default_resolution: for ``done`` statuses, the resolution a transition sets when the request names none
            (a workflow post-function in real Jira); ``None`` leaves the issue unresolved.
    """

    name: str
    category: str
    id: str
    transition_id: str
    transition_name: str
    default_resolution: str | None = None

    def __post_init__(self) -> None:
        if self.category not in STATUS_CATEGORIES:
            raise ValueError(f"status category must be one of {sorted(STATUS_CATEGORIES)}, got {self.category!r}")


#: A service-request workflow modelled on Jira Service Management's IT service request workflow.
#: The first ``new`` status is where requests start.
DEFAULT_STATUSES: tuple[JiraStatus, ...] = (
    JiraStatus("Waiting for support", "new", "10001", "11", "Back to waiting for support"),
    JiraStatus("In Progress", "indeterminate", "3", "21", "Start work"),
    JiraStatus("Waiting for customer", "indeterminate", "10002", "31", "Respond to customer"),
    JiraStatus("Pending", "indeterminate", "10003", "41", "Pending"),
    JiraStatus("Resolved", "done", "10004", "51", "Resolve this issue", default_resolution="Done"),
    JiraStatus("Canceled", "done", "10005", "61", "Cancel request", default_resolution="Won't Do"),
    JiraStatus("Declined", "done", "10006", "71", "Decline", default_resolution="Declined"),
    JiraStatus("Closed", "done", "6", "81", "Close", default_resolution="Done"),
)


@dataclass(frozen=True)
class JiraResolution:
    """One resolution (``fields.resolution``).

    Attributes:
        name: the resolution name (``"Done"``, ``"Won't Do"``).
        id: the resolution id.
        description: its description.
    """

    name: str
    id: str
    description: str = ""


#: Jira Service Management Cloud's default resolutions.
DEFAULT_RESOLUTIONS: tuple[JiraResolution, ...] = (
    JiraResolution("Done", "10000", "Work has been completed on this issue."),
    JiraResolution("Won't Do", "10001", "This issue won't be actioned."),
    JiraResolution("Duplicate", "10002", "The problem is a duplicate of an existing issue."),
    JiraResolution("Declined", "10003", "This issue was not approved."),
    JiraResolution("Cannot Reproduce", "10004", "All attempts at reproducing this issue failed."),
    JiraResolution("Known Error", "10005", "A root cause has been identified."),
)


@dataclass(frozen=True)
class JiraRequestType:
    """A customer request type of a service desk.

    Attributes:
        id: the request type id (``requestTypeId``).
        service_desk_id: the service desk it belongs to.
        name: its name.
        fields: the field ids customers (and the API) may fill in; others are refused with 400.
        required: the field ids a request must carry.
        issue_type_id: the issue type behind it.
    """

    id: str
    service_desk_id: str
    name: str
    fields: tuple[str, ...] = ("summary", "description")
    required: tuple[str, ...] = ("summary",)
    issue_type_id: str = "10100"


@dataclass(frozen=True)
class JiraServiceDesk:
    """A service desk (one Jira Service Management project).

    Attributes:
        id: the service desk id (``serviceDeskId``).
        project_id: the id of its project.
        project_key: the project key; issue keys start with it.
        project_name: the project name.
    """

    id: str
    project_id: str
    project_key: str
    project_name: str


@dataclass(frozen=True)
class JiraComment:
    """A comment on a request.

    Attributes:
        id: the comment id.
        body: its text.
        public: ``True`` for a comment the customer sees, ``False`` for an internal note.
        author: the login of the user who wrote it.
        created: when it was written (UTC).
    """

    id: str
    body: str
    public: bool
    author: str
    created: datetime


@dataclass(frozen=True)
class JiraIssue:
    """A customer request as it is now, for a test to inspect (a copy; changing the fake does not change it).

    Attributes:
        id: the issue id (``issueId``).
        key: the issue key (``SIM-1``).
        project_key: the project key.
        service_desk_id: the service desk it was raised in.
        request_type_id: its request type.
        summary: the summary.
        description: the description, if any.
        field_values: every request field value as it was given at creation and changed since.
        labels: the labels.
        properties: the issue properties (key to JSON value).
        status: the status name.
        status_category: the status category key (``new``, ``indeterminate``, ``done``).
        resolution: the resolution name, or ``None`` while unresolved.
        reporter: the login (e-mail or user name) of the customer it was raised for.
        created: when it was created (UTC).
        updated: when it last changed (UTC).
        status_changed: when it entered its current status (UTC).
        comments: its comments, oldest first.
    """

    id: str
    key: str
    project_key: str
    service_desk_id: str
    request_type_id: str
    summary: str
    description: str | None
    field_values: Mapping[str, Any]
    labels: tuple[str, ...]
    properties: Mapping[str, Any]
    status: str
    status_category: str
    resolution: str | None
    reporter: str
    created: datetime
    updated: datetime
    status_changed: datetime
    comments: tuple[JiraComment, ...] = ()


@dataclass(frozen=True)
class JiraOutcome:
    """Where closing a request leaves it: a status and, for ``done`` statuses, a resolution.

    Attributes:
        status: the status name to move to.
        resolution: the resolution to set; ``None`` uses the status's default resolution.
        comment: an optional public comment the agent adds.
    """

    status: str = "Resolved"
    resolution: str | None = None
    comment: str | None = None


#: How the fake closes a request for each outcome of a work policy or `FakeJira.close`; the outcome names
#: are `FakeServiceNow`'s, so one work policy drives both fakes.
DEFAULT_OUTCOMES: Mapping[str, JiraOutcome] = MappingProxyType(
    {
        "complete": JiraOutcome("Resolved", "Done"),
        "incomplete": JiraOutcome("Closed", "Won't Do"),
        "cancelled": JiraOutcome("Canceled", "Won't Do"),
        "rejected": JiraOutcome("Declined", "Declined"),
        "skipped": JiraOutcome("Closed", "Duplicate"),
    }
)


class WorkPolicyLike(Protocol):
    """What the fake reads from a work policy: `WorkPolicy` (shared with
    ``FakeServiceNow``) or anything shaped like it."""

    @property
    def start_after(self) -> float | None:
        """Seconds after creation at which work starts; ``None``: requests stay untouched until closed."""

    @property
    def close_after(self) -> float:
        """Seconds after creation at which a request is closed."""

    def outcome_for(self, ticket: str) -> str:
        """The outcome (``complete``, ``rejected`` ...) for the request with this key."""
