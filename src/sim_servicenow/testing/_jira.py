"""``FakeJira``: an in-process Jira Service Management (Cloud or Data Center), as a WSGI application.

It speaks the parts of Jira's REST APIs a ticketing integration uses - the service desk API
(``/rest/servicedeskapi``: service desks, request types, customer requests, comments) and the platform API
(``/rest/api/2``: issues, labels, issue properties, transitions, JQL search) - with Jira's envelopes, status codes,
paging and authentication, plus fault injection, a request log and lifecycle control for tests and demos.
Standard library only. What differs from real Jira is listed in ``docs/testing-jira.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

from ._faults import FaultKind, Faults, LoggedRequest, RequestLog
from ._jira_jql import JqlError, JqlQuery, Matcher, parse_jql
from ._jira_model import (
    DEFAULT_OUTCOMES,
    DEFAULT_RESOLUTIONS,
    DEFAULT_STATUSES,
    JiraComment,
    JiraIssue,
    JiraOutcome,
    JiraRequestType,
    JiraResolution,
    JiraServiceDesk,
    JiraStatus,
    WorkPolicyLike,
)
from ._jira_wire import (
    JSON_TYPE,
    Person,
    adf,
    comment_json,
    date_dto,
    jira_time,
    paged,
    platform_error,
    platform_user,
    request_type_json,
    resolution_json,
    service_desk_error,
    service_desk_json,
    service_desk_user,
    status_json,
)
from ._server import DropConnection

__all__ = [
    "DEFAULT_OUTCOMES",
    "DEFAULT_RESOLUTIONS",
    "DEFAULT_STATUSES",
    "FakeJira",
    "JiraComment",
    "JiraIssue",
    "JiraOutcome",
    "JiraRequestType",
    "JiraResolution",
    "JiraServiceDesk",
    "JiraStatus",
]

_EDITIONS = ("cloud", "data_center")
_REMOVED_SEARCH = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
_NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
_BAD_CREDENTIALS = "Client must be authenticated to access this resource."
_ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_MAX_PROPERTY_BYTES = 32768
_MAX_LABEL = 255
_REQUEST_EXPANDS = ("participant", "status", "sla", "requestType", "serviceDesk", "attachment", "action", "comment")
_ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


# ---------------------------------------------------------------------------------------------------- state


@dataclass
class _Issue:
    """The fake's mutable issue. ``status`` is the status object; everything else is plain data."""

    id: int
    key: str
    project_key: str
    service_desk_id: str
    request_type_id: str
    field_values: dict[str, Any]
    labels: list[str]
    properties: dict[str, Any]
    status: JiraStatus
    resolution: str | None
    reporter: str
    creator: str
    created: datetime
    updated: datetime
    status_changed: datetime
    resolution_date: datetime | None = None
    comments: list[JiraComment] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return str(self.field_values.get("summary") or "")

    @property
    def description(self) -> str | None:
        value = self.field_values.get("description")
        return None if value is None else str(value)

    @property
    def status_name(self) -> str:
        return self.status.name

    @property
    def status_id(self) -> str:
        return self.status.id

    @property
    def status_category(self) -> str:
        return self.status.category

    def copy(self) -> _Issue:
        """A snapshot that later changes to this issue do not affect."""
        return replace(
            self,
            field_values=json.loads(json.dumps(self.field_values)),
            labels=list(self.labels),
            properties=json.loads(json.dumps(self.properties)),
            comments=list(self.comments),
        )

    def public(self) -> JiraIssue:
        snapshot = self.copy()
        return JiraIssue(
            id=str(snapshot.id),
            key=snapshot.key,
            project_key=snapshot.project_key,
            service_desk_id=snapshot.service_desk_id,
            request_type_id=snapshot.request_type_id,
            summary=snapshot.summary,
            description=snapshot.description,
            field_values=MappingProxyType(snapshot.field_values),
            labels=tuple(snapshot.labels),
            properties=MappingProxyType(snapshot.properties),
            status=snapshot.status.name,
            status_category=snapshot.status.category,
            resolution=snapshot.resolution,
            reporter=snapshot.reporter,
            created=snapshot.created,
            updated=snapshot.updated,
            status_changed=snapshot.status_changed,
            comments=tuple(snapshot.comments),
        )


@dataclass
class _Account:
    person: Person
    secret: str | None  # the API token (Cloud) or password (Data Center); None for customers without access
    read_only: bool = False


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base: str

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def listed(self, name: str) -> list[str]:
        """A multi-valued parameter, each value also split on commas (``fields=a,b&fields=c``)."""
        return [part.strip() for value in self.query.get(name, []) for part in value.split(",") if part.strip()]

    @property
    def service_desk_api(self) -> bool:
        return self.path.startswith("/rest/servicedeskapi")


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON_TYPE


class _Reply(Exception):
    """Raised by a handler to answer at once (an error, usually)."""

    def __init__(self, response: _Response) -> None:
        super().__init__(response.status)
        self.response = response


def _json(status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> _Response:
    return _Response(status, json.dumps(body).encode(), list(headers))


# --------------------------------------------------------------------------------------------------- routes

_API = r"/rest/api/(?P<version>2|3|latest)"
_SD = r"/rest/servicedeskapi"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), handler)
    for method, pattern, handler in (
        ("GET", _API + r"/serverInfo", "_server_info"),
        ("GET", _API + r"/myself", "_myself"),
        ("GET", _API + r"/search", "_legacy_search"),
        ("POST", _API + r"/search", "_legacy_search"),
        ("GET", _API + r"/search/jql", "_enhanced_search"),
        ("POST", _API + r"/search/jql", "_enhanced_search"),
        ("GET", _API + r"/issue/(?P<issue>[^/]+)", "_get_issue"),
        ("PUT", _API + r"/issue/(?P<issue>[^/]+)", "_edit_issue"),
        ("GET", _API + r"/issue/(?P<issue>[^/]+)/transitions", "_get_transitions"),
        ("POST", _API + r"/issue/(?P<issue>[^/]+)/transitions", "_do_transition"),
        ("GET", _API + r"/issue/(?P<issue>[^/]+)/properties", "_property_keys"),
        ("GET", _API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "_get_property"),
        ("PUT", _API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "_put_property"),
        ("DELETE", _API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "_delete_property"),
        ("GET", _SD + r"/servicedesk", "_list_service_desks"),
        ("GET", _SD + r"/servicedesk/(?P<desk>[^/]+)", "_get_service_desk"),
        ("GET", _SD + r"/servicedesk/(?P<desk>[^/]+)/requesttype", "_list_request_types"),
        ("GET", _SD + r"/servicedesk/(?P<desk>[^/]+)/requesttype/(?P<rt>[^/]+)", "_get_request_type"),
        ("GET", _SD + r"/servicedesk/(?P<desk>[^/]+)/requesttype/(?P<rt>[^/]+)/field", "_request_type_fields"),
        ("POST", _SD + r"/request", "_create_request"),
        ("GET", _SD + r"/request/(?P<issue>[^/]+)", "_get_request"),
        ("GET", _SD + r"/request/(?P<issue>[^/]+)/comment", "_list_comments"),
        ("POST", _SD + r"/request/(?P<issue>[^/]+)/comment", "_add_comment_api"),
    )
)
_ANONYMOUS = frozenset({"_server_info"})


class FakeJira:
    """An in-process Jira Service Management: a WSGI app with inspectable, lock-protected state.

    Serve it with `serve` (loopback HTTP, optionally TLS) or mount it on a
    `requests.Session` with `mount`::

        fake = FakeJira()                                  # Cloud; one service desk "SIM", one request type
        with serve(fake) as jira:
            auth = BasicAuth(FakeJira.DEFAULT_LOGIN, FakeJira.DEFAULT_API_TOKEN)
            ...
            fake.close("SIM-1")                            # an agent resolves the request

    ``edition`` picks the dialect: ``"cloud"`` authenticates e-mail + API token (Basic) only, offers the
    enhanced search ``/rest/api/{2,3}/search/jql`` (token paging, eventually consistent with ``search_lag``)
    and answers ``410 Gone`` on the removed ``/rest/api/2/search``; ``"data_center"`` authenticates user name +
    password (Basic) and personal access tokens (Bearer), offers ``/rest/api/2/search`` (``startAt`` paging,
    boolean ``validateQuery``) and has no ``/search/jql`` and no ``/rest/api/3``.

    Args:
        users: agents who may call the API: login (Cloud: e-mail; Data Center: user name) to API token or password.
            Default: `DEFAULT_LOGIN` with `DEFAULT_API_TOKEN`.
        personal_access_tokens: Data Center personal access tokens, token to login (each login must be a user).
        customers: e-mail addresses of portal customers requests may be raised on behalf of (``raiseOnBehalfOf``).
        read_only: logins that may read but not create or change anything (403).
        edition: ``"cloud"`` or ``"data_center"``.
        project_key: the project key of the default service desk (id `DEFAULT_SERVICE_DESK_ID`, with
            request type `DEFAULT_REQUEST_TYPE_ID` taking ``summary`` and ``description``).
        statuses: the workflow (every status reachable from every other); requests start in the first ``new`` one.
        resolutions: the resolutions that exist.
        outcomes: how `close` and the work policy close a request for each outcome name (default
            `DEFAULT_OUTCOMES`: ``complete`` -> Resolved/Done, ``rejected`` -> Declined/Declined ...).
        work_policy: agents working the queue on ``clock``: the `WorkPolicy`
            ``FakeServiceNow`` takes (``start_after``, ``close_after``, weighted ``outcomes``, ``seed``);
            ``None``: requests move only when told.
        clock: the time source (epoch seconds) for timestamps, the work policy and ``search_lag``.
        search_lag: seconds after which Cloud's enhanced search sees a change (its index is eventually
            consistent); ``reconcileIssues`` reads the named issues fresh. Default: no lag.
        max_results_limit: the most issues one search page returns, whatever ``maxResults`` asks.
        captcha_after: Data Center only: after this many failed Basic logins of one user, every Basic request of
            that user gets 403 with ``X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE`` (see `solve_captcha`).
        seed: seed of the fault dice.

    Attributes:
        faults: the fault rules acted out on matching requests (see `Faults`).
        requests: every request received, in order (``Authorization`` masked).
        work_policy: the work policy in force (may be changed at any time; ``None`` stops it).
        search_lag: the enhanced search's lag in seconds (may be changed at any time).
        clock: the time source.
        edition: ``"cloud"`` or ``"data_center"``.
    """

    DEFAULT_LOGIN = "sim-bot@example.com"
    DEFAULT_API_TOKEN = "jira-api-token"
    #: Users of a fake built without ``users=``.
    DEFAULT_USERS: Mapping[str, str] = MappingProxyType({DEFAULT_LOGIN: DEFAULT_API_TOKEN})
    DEFAULT_SERVICE_DESK_ID = "1"
    DEFAULT_REQUEST_TYPE_ID = "10"

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        personal_access_tokens: Mapping[str, str] | None = None,
        customers: Iterable[str] = (),
        read_only: Iterable[str] = (),
        edition: str = "cloud",
        project_key: str = "SIM",
        statuses: Sequence[JiraStatus] = DEFAULT_STATUSES,
        resolutions: Sequence[JiraResolution] = DEFAULT_RESOLUTIONS,
        outcomes: Mapping[str, JiraOutcome] = DEFAULT_OUTCOMES,
        work_policy: WorkPolicyLike | None = None,
        clock: Callable[[], float] = time.time,
        search_lag: float = 0.0,
        max_results_limit: int = 100,
        captcha_after: int | None = None,
        seed: int | None = None,
    ) -> None:
        if edition not in _EDITIONS:
            raise ValueError(f"edition must be one of {_EDITIONS}, got {edition!r}")
        if not any(s.category == "new" for s in statuses):
            raise ValueError("statuses need at least one status of category 'new' for requests to start in")
        if max_results_limit < 1:
            raise ValueError(f"max_results_limit must be at least 1, got {max_results_limit}")
        names = {s.name.lower() for s in statuses}
        unknown = sorted(name for name, o in outcomes.items() if o.status.lower() not in names)
        if unknown:
            raise ValueError(f"outcomes {unknown} name statuses the workflow does not have")
        self.edition = edition
        self.faults = Faults(seed)
        self.requests = RequestLog()
        self.clock = clock
        self.work_policy = work_policy
        self.search_lag = search_lag
        self.max_results_limit = max_results_limit
        self.captcha_after = captcha_after
        self._lock = threading.RLock()
        self._statuses = tuple(statuses)
        self._resolutions = tuple(resolutions)
        self._outcomes = dict(outcomes)
        self._agent = self._person("jira-agent@example.com", "Service Desk Agent")
        self._initial = (
            dict(self.DEFAULT_USERS if users is None else users),
            dict(personal_access_tokens or {}),
            tuple(customers),
            tuple(read_only),
            project_key,
        )
        self._fresh_state()

    def _fresh_state(self) -> None:
        users, tokens, customers, read_only, project_key = self._initial
        self._accounts: dict[str, _Account] = {}
        self._tokens: dict[str, str] = {}
        self._desks: dict[str, JiraServiceDesk] = {}
        self._request_types: dict[str, JiraRequestType] = {}
        self._issues: dict[int, _Issue] = {}
        self._keys: dict[str, int] = {}
        self._index: dict[int, list[tuple[datetime, _Issue]]] = {}
        self._counters: dict[str, int] = {}
        self._next_issue_id = 10000
        self._next_comment_id = 10000
        self._policy_started: set[int] = set()
        self._policy_closed: set[int] = set()
        self._failed_logins: dict[str, int] = {}
        for login, secret in users.items():
            self.add_user(login, secret)
        for token, login in tokens.items():
            self.add_personal_access_token(token, login)
        for email in customers:
            self.add_customer(email)
        for login in read_only:
            self._account(login).read_only = True
        desk = self.add_service_desk(project_key, service_desk_id=self.DEFAULT_SERVICE_DESK_ID)
        self.add_request_type(desk.id, "Request access", request_type_id=self.DEFAULT_REQUEST_TYPE_ID)

    def __repr__(self) -> str:
        with self._lock:
            return f"FakeJira(edition={self.edition!r}, service_desks={len(self._desks)}, issues={len(self._issues)})"

    # ------------------------------------------------------------------------------------------ setup

    def _now(self) -> datetime:
        return datetime.fromtimestamp(float(self.clock()), timezone.utc)

    def _person(self, login: str, display_name: str | None = None, email: str | None = None) -> Person:
        digest = uuid.uuid5(uuid.NAMESPACE_URL, f"fake-jira:{login.lower()}")
        return Person(
            login=login,
            email=email or (login if "@" in login else f"{login}@example.com"),
            display_name=display_name or login.split("@", maxsplit=1)[0].replace(".", " ").title(),
            account_id=f"712020:{digest}",
            key=f"JIRAUSER{10000 + int(digest.hex[:6], 16) % 90000}",
        )

    def _account(self, login: str) -> _Account:
        for name, account in self._accounts.items():
            if name.lower() == login.lower():
                return account
        raise KeyError(f"no Jira user {login!r}")

    def add_user(self, login: str, secret: str, *, display_name: str | None = None, email: str | None = None) -> None:
        """Add an agent who may call the API with ``login`` and ``secret`` (API token or password)."""
        with self._lock:
            self._accounts[login] = _Account(self._person(login, display_name, email), secret)

    def add_personal_access_token(self, token: str, login: str) -> None:
        """Data Center: let ``token`` (Bearer) act as the existing user ``login``."""
        with self._lock:
            self._account(login)
            self._tokens[token] = login

    def revoke_personal_access_token(self, token: str) -> None:
        """Data Center: revoke ``token``; requests bearing it get 401 from now on."""
        with self._lock:
            self._tokens.pop(token, None)

    def add_customer(self, email: str, *, display_name: str | None = None) -> None:
        """Add a portal customer requests may be raised for; customers cannot call the API."""
        with self._lock:
            if email not in self._accounts:
                self._accounts[email] = _Account(self._person(email, display_name, email), None)

    def add_service_desk(
        self, project_key: str, *, project_name: str | None = None, service_desk_id: str | None = None
    ) -> JiraServiceDesk:
        """Add a service desk (a project with key ``project_key``); returns it."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,9}", project_key):
            raise ValueError(f"project keys are 2-10 upper-case letters, digits or '_', got {project_key!r}")
        with self._lock:
            if any(d.project_key == project_key for d in self._desks.values()):
                raise ValueError(f"a service desk for project {project_key} exists already")
            desk_id = service_desk_id or str(max((int(i) for i in self._desks), default=0) + 1)
            desk = JiraServiceDesk(
                id=desk_id,
                project_id=str(10000 + len(self._desks)),
                project_key=project_key,
                project_name=project_name or f"{project_key} Service Desk",
            )
            self._desks[desk_id] = desk
            self._counters[project_key] = 0
            return desk

    def add_request_type(
        self,
        service_desk_id: str,
        name: str,
        *,
        fields: Sequence[str] = ("summary", "description"),
        required: Sequence[str] = ("summary",),
        request_type_id: str | None = None,
    ) -> JiraRequestType:
        """Add a request type to a service desk; ``fields`` are the field ids its form (and the API) accepts."""
        with self._lock:
            if service_desk_id not in self._desks:
                raise KeyError(f"no service desk {service_desk_id!r}")
            missing = [f for f in required if f not in fields]
            if missing:
                raise ValueError(f"required fields must be among the fields: {missing}")
            type_id = request_type_id or str(max((int(i) for i in self._request_types), default=9) + 1)
            request_type = JiraRequestType(type_id, service_desk_id, name, tuple(fields), tuple(required))
            self._request_types[type_id] = request_type
            return request_type

    @property
    def service_desks(self) -> tuple[JiraServiceDesk, ...]:
        """Every service desk."""
        with self._lock:
            return tuple(self._desks.values())

    def request_types(self, service_desk_id: str) -> tuple[JiraRequestType, ...]:
        """The request types of a service desk."""
        with self._lock:
            return tuple(rt for rt in self._request_types.values() if rt.service_desk_id == service_desk_id)

    @property
    def statuses(self) -> tuple[JiraStatus, ...]:
        """The workflow's statuses."""
        return self._statuses

    # ----------------------------------------------------------------------------- inspection, lifecycle

    def issue(self, issue: str) -> JiraIssue:
        """The request with this key or id, as it is now. Raises ``KeyError`` when there is none."""
        with self._lock:
            return self._find(issue).public()

    def issues(self, *, label: str | None = None) -> list[JiraIssue]:
        """Every request (oldest first), or those carrying ``label``."""
        with self._lock:
            return [i.public() for i in self._issues.values() if label is None or label in i.labels]

    def delete_issue(self, issue: str) -> None:
        """Delete a request, as an administrator might; it is gone from reads and searches at once."""
        with self._lock:
            found = self._find(issue)
            del self._issues[found.id]
            self._keys.pop(found.key, None)
            self._index.pop(found.id, None)

    def transition(
        self, issue: str, status: str, *, resolution: str | None = None, comment: str | None = None
    ) -> JiraIssue:
        """Move a request to ``status`` (by name), as an agent would; returns it as it is afterwards.

        A ``done`` status sets ``resolution`` (default: the status's default resolution); other statuses clear it.
        ``comment`` adds a public comment by the agent. Raises ``KeyError`` (no such request) or ``ValueError``
        (no such status or resolution, or a resolution for a status that is not ``done``).
        """
        with self._lock:
            found = self._find(issue)
            self._move(found, status, resolution, at=self._now(), comment=comment, author=self._agent.login)
            return found.public()

    def start(self, issue: str) -> JiraIssue:
        """Start work on a request: move it to the first ``indeterminate`` status (``In Progress``)."""
        status = next((s for s in self._statuses if s.category == "indeterminate"), None)
        if status is None:
            raise ValueError("the workflow has no 'indeterminate' status")
        return self.transition(issue, status.name)

    def close(self, issue: str, outcome: str = "complete", *, comment: str | None = None) -> JiraIssue:
        """Close a request with an outcome (see ``outcomes``): ``complete`` resolves it as Done, ``rejected``
        declines it ... Raises ``ValueError`` for an unknown outcome or a request that is closed already."""
        chosen = self._outcomes.get(outcome)
        if chosen is None:
            raise ValueError(f"no outcome {outcome!r}; there are {sorted(self._outcomes)}")
        with self._lock:
            found = self._find(issue)
            if found.status.category == "done":
                raise ValueError(f"{found.key} is already closed ({found.status.name})")
            return self.transition(
                issue, chosen.status, resolution=chosen.resolution, comment=comment or chosen.comment
            )

    def reject(self, issue: str, *, comment: str | None = None) -> JiraIssue:
        """Close a request with the ``rejected`` outcome (Declined / Declined by default)."""
        return self.close(issue, "rejected", comment=comment)

    def add_comment(self, issue: str, body: str, *, public: bool = True) -> JiraComment:
        """Add a comment by the agent, as if typed in Jira."""
        with self._lock:
            found = self._find(issue)
            return self._comment(found, body, public=public, author=self._agent.login, at=self._now())

    def tick(self) -> int:
        """Run the work policy now (it also runs before every request); returns how many steps it took."""
        with self._lock:
            return self._run_work_policy(self._now())

    def solve_captcha(self, login: str) -> None:
        """Data Center: clear ``login``'s failed-login count, as logging in through the browser would."""
        with self._lock:
            self._failed_logins.pop(login.lower(), None)

    def reset(self) -> None:
        """Back to the state right after construction: requests, comments, users, service desks and request
        types added since, failed logins, the fault rules and the request log are forgotten."""
        with self._lock:
            self._fresh_state()
            self.faults.clear()
            self.requests.clear()

    # ------------------------------------------------------------------------------------ internals

    def _find(self, issue: str) -> _Issue:
        text = str(issue).strip()
        if text.isdigit() and int(text) in self._issues:
            return self._issues[int(text)]
        issue_id = self._keys.get(text.upper())
        if issue_id is None:
            raise KeyError(f"no Jira issue {issue!r}")
        return self._issues[issue_id]

    def _status(self, name: str) -> JiraStatus:
        for status in self._statuses:
            if status.name.lower() == name.lower():
                return status
        raise ValueError(f"no status {name!r}; the workflow has {[s.name for s in self._statuses]}")

    def _resolution(self, name: str) -> JiraResolution:
        for resolution in self._resolutions:
            if resolution.name.lower() == name.lower():
                return resolution
        raise ValueError(f"no resolution {name!r}; there are {[r.name for r in self._resolutions]}")

    def _move(
        self,
        issue: _Issue,
        status_name: str,
        resolution_name: str | None,
        *,
        at: datetime,
        comment: str | None = None,
        author: str,
    ) -> None:
        status = self._status(status_name)
        resolution: str | None
        if status.category == "done":
            wanted = resolution_name or status.default_resolution
            resolution = self._resolution(wanted).name if wanted else None
        elif resolution_name is not None:
            raise ValueError(f"status {status.name!r} is not 'done'; it takes no resolution")
        else:
            resolution = None
        issue.status = status
        issue.resolution = resolution
        issue.resolution_date = at if resolution else None
        issue.status_changed = at
        issue.updated = max(issue.updated, at)
        if comment:
            self._comment(issue, comment, public=True, author=author, at=at)
        else:
            self._reindex(issue)

    def _comment(self, issue: _Issue, body: str, *, public: bool, author: str, at: datetime) -> JiraComment:
        self._next_comment_id += 1
        comment = JiraComment(str(self._next_comment_id), body, public, author, at)
        issue.comments.append(comment)
        issue.updated = max(issue.updated, at)
        self._reindex(issue)
        return comment

    def _reindex(self, issue: _Issue) -> None:
        """Record the issue's new state for the enhanced search, visible after ``search_lag``."""
        now = self._now()
        versions = self._index.setdefault(issue.id, [])
        if self.search_lag <= 0:
            versions[:] = [(now, issue.copy())]
        else:
            versions.append((now + timedelta(seconds=self.search_lag), issue.copy()))

    def _indexed(self, issue_id: int, now: datetime) -> _Issue | None:
        versions = self._index.get(issue_id)
        if not versions:
            return None
        visible = [i for i, (at, _) in enumerate(versions) if at <= now]
        if not visible:
            return None
        latest = visible[-1]
        del versions[:latest]
        return versions[0][1]

    def _run_work_policy(self, now: datetime) -> int:
        policy = self.work_policy
        if policy is None:
            return 0
        steps = 0
        for issue in list(self._issues.values()):
            start_after = policy.start_after
            if (
                start_after is not None
                and issue.id not in self._policy_started
                and issue.status.category == "new"
                and issue.created + timedelta(seconds=start_after) <= now
            ):
                self._policy_started.add(issue.id)
                working = next((s for s in self._statuses if s.category == "indeterminate"), None)
                if working is not None:
                    at = issue.created + timedelta(seconds=start_after)
                    self._move(issue, working.name, None, at=at, author=self._agent.login)
                    steps += 1
            close_at = issue.created + timedelta(seconds=policy.close_after)
            if issue.id not in self._policy_closed and issue.status.category != "done" and close_at <= now:
                # Each request is closed once; one a test reopens afterwards stays open.
                self._policy_closed.add(issue.id)
                name = policy.outcome_for(issue.key)
                outcome = self._outcomes.get(name)
                if outcome is None:
                    raise ValueError(f"the work policy chose outcome {name!r}, which outcomes= does not define")
                self._move(
                    issue,
                    outcome.status,
                    outcome.resolution,
                    at=close_at,
                    comment=outcome.comment,
                    author=self._agent.login,
                )
                steps += 1
        return steps

    # ------------------------------------------------------------------------------------------- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        request = self._read(environ)
        fault = self.faults.pick(request.method, request.path)
        response: _Response | None = None
        fault_name = fault.kind.value if fault is not None else None
        try:
            if fault is not None and fault.kind is FaultKind.LATENCY:
                time.sleep(fault.delay)
            elif fault is not None and fault.kind is FaultKind.DROP and not fault.after:
                raise DropConnection
            elif fault is not None and fault.kind is not FaultKind.DROP:
                response = self._fault_response(request, fault.kind, fault.status, fault.retry_after)
            if response is None:
                response = self._handle(request)
            if fault is not None and fault.kind is FaultKind.DROP:
                raise DropConnection
        except DropConnection:
            self._log(request, 0, fault_name)
            raise
        self._log(request, response.status, fault_name)
        headers = list(response.headers)
        if response.content_type is not None:
            headers.append(("Content-Type", response.content_type))
        headers.append(("X-AREQUESTID", uuid.uuid4().hex[:12]))
        start_response(f"{response.status} {_phrase(response.status)}", headers)
        return [response.body]

    def _read(self, environ: Mapping[str, Any]) -> _Request:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        host = headers.get("host") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return _Request(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO") or "/"),
            query=parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True),
            headers=headers,
            body=body,
            base=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
        )

    def _log(self, request: _Request, status: int, fault: str | None) -> None:
        headers = dict(request.headers)
        if "authorization" in headers:
            scheme = headers["authorization"].split(" ", 1)[0]
            headers["authorization"] = f"{scheme} ***"
        self.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query={k: list(v) for k, v in request.query.items()},
                headers=headers,
                body=request.body,
                status=status,
                at=float(self.clock()),
                fault=fault,
            )
        )

    def _error(self, request: _Request, status: int, message: str, *, i18n_key: str | None = None) -> _Response:
        """An error in the dialect of the API the request went to."""
        if request.service_desk_api:
            key = i18n_key or f"sd.error.{_phrase(status).lower().replace(' ', '.')}"
            return _Response(status, service_desk_error(message, key))
        return _Response(status, platform_error(message))

    def _fault_response(self, request: _Request, kind: FaultKind, status: int, retry_after: float) -> _Response:
        if kind is FaultKind.RATE_LIMIT:
            reset = self._now() + timedelta(seconds=retry_after)
            response = self._error(request, 429, "Rate limit exceeded.")
            response.headers += [
                ("Retry-After", str(max(0, round(retry_after)))),
                ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%MZ")),
                ("RateLimit-Reason", "jira-burst-based"),
            ]
            return response
        if kind is FaultKind.SEMAPHORE:
            return self._error(request, 429, "Too many concurrent requests.")
        if kind is FaultKind.HTML:
            page = (
                "<!DOCTYPE html><html><head><title>Log in with Atlassian account</title></head>"
                "<body><h1>Log in to continue</h1></body></html>"
            )
            return _Response(200, page.encode(), content_type="text/html;charset=UTF-8")
        if kind is FaultKind.EXPIRE_TOKEN:
            return self._unauthorized(request, bad_credentials=True)
        return self._error(request, status, _phrase(status))

    def _unauthorized(self, request: _Request, *, bad_credentials: bool) -> _Response:
        headers = [("WWW-Authenticate", 'Basic realm="protected-area"')]
        if bad_credentials:
            headers.append(("X-Seraph-LoginReason", "AUTHENTICATED_FAILED"))
            return _Response(401, json.dumps({"message": _BAD_CREDENTIALS, "status-code": 401}).encode(), headers)
        response = self._error(request, 401, _NOT_AUTHENTICATED, i18n_key="sd.customer.portal.error.not.authenticated")
        response.headers += headers
        return response

    def _authenticate(self, request: _Request) -> Person | _Response:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                login, _, secret = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return self._unauthorized(request, bad_credentials=True)
            return self._check_basic(request, login, secret)
        if scheme == "bearer" and self.edition == "data_center":
            owner = self._tokens.get(credentials.strip())
            if owner is None:
                return self._unauthorized(request, bad_credentials=True)
            return self._account(owner).person
        if scheme == "bearer":
            # Cloud bearer tokens are OAuth 2.0 (3LO) tokens for api.atlassian.com, not for the site itself.
            return self._unauthorized(request, bad_credentials=True)
        return self._unauthorized(request, bad_credentials=False)

    def _check_basic(self, request: _Request, login: str, secret: str) -> Person | _Response:
        try:
            account = self._account(login)
        except KeyError:
            return self._unauthorized(request, bad_credentials=True)
        counted = login.lower()
        if (
            self.edition == "data_center"
            and self.captcha_after is not None
            and self._failed_logins.get(counted, 0) >= self.captcha_after
        ):
            return _Response(
                403,
                platform_error("CAPTCHA_CHALLENGE"),
                [
                    ("X-Seraph-LoginReason", "AUTHENTICATION_DENIED"),
                    ("X-Authentication-Denied-Reason", f"CAPTCHA_CHALLENGE; login-url={request.base}/login.jsp"),
                ],
            )
        if account.secret is None or account.secret != secret:
            self._failed_logins[counted] = self._failed_logins.get(counted, 0) + 1
            return self._unauthorized(request, bad_credentials=True)
        self._failed_logins.pop(counted, None)
        return account.person

    def _handle(self, request: _Request) -> _Response:
        if self.edition == "data_center" and request.path.startswith("/rest/api/3/"):
            return _Response(404, platform_error(f"null for uri: {request.base}{request.path}"))
        allowed: list[str] = []
        for method, pattern, handler_name in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            with self._lock:
                if handler_name not in _ANONYMOUS:
                    who = self._authenticate(request)
                    if isinstance(who, _Response):
                        return who
                else:
                    who = self._agent
                handler: Callable[[_Request, dict[str, str], Person], _Response] = getattr(self, handler_name)
                try:
                    self._run_work_policy(self._now())
                    return handler(request, match.groupdict(), who)
                except _Reply as reply:
                    return reply.response
                except Exception as exc:  # a fake's bug or a bad work policy: answer as Jira would, say why
                    return self._error(request, 500, f"Internal server error: {type(exc).__name__}: {exc}")
        if allowed:
            return _Response(405, b"", [("Allow", ", ".join(sorted(set(allowed))))], content_type=None)
        if request.service_desk_api:
            return self._error(request, 404, f"null for uri: {request.base}{request.path}")
        return _Response(404, platform_error(f"null for uri: {request.base}{request.path}"))

    # ------------------------------------------------------------------------------- request helpers

    def _body(self, request: _Request, *, required: bool = True) -> Any:
        if not request.body:
            if required:
                raise _Reply(self._error(request, 400, "No content to map due to end-of-input"))
            return None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Reply(_Response(415, b"", content_type=None))
        try:
            return json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Reply(self._error(request, 400, "Invalid JSON in the request body.")) from None

    def _issue_for(self, request: _Request, ident: str) -> _Issue:
        try:
            return self._find(ident)
        except KeyError:
            if request.service_desk_api:
                raise _Reply(
                    self._error(request, 404, _ISSUE_NOT_FOUND, i18n_key="sd.request.error.not.found")
                ) from None
            raise _Reply(_Response(404, platform_error(_ISSUE_NOT_FOUND))) from None

    def _writable(self, request: _Request, who: Person, what: str) -> None:
        if self._account(who.login).read_only:
            raise _Reply(self._error(request, 403, f"You do not have permission to {what}."))

    def _int_param(self, request: _Request, name: str, default: int) -> int:
        value = request.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise _Reply(self._error(request, 400, f"The value '{value}' is not valid for '{name}'.")) from None

    def _people(self, login: str) -> Person:
        try:
            return self._account(login).person
        except KeyError:
            return self._person(login)

    @property
    def _cloud(self) -> bool:
        return self.edition == "cloud"

    # -------------------------------------------------------------------------------- platform API

    def _server_info(self, request: _Request, _match: dict[str, str], _who: Person) -> _Response:
        cloud = self._cloud
        return _json(
            200,
            {
                "baseUrl": request.base,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.0",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 0],
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100280 if cloud else 9120000,
                "buildDate": "2024-01-01T00:00:00.000+0000",
                "serverTime": jira_time(self._now()),
                "scmInfo": "fake",
                "serverTitle": "Jira",
            },
        )

    def _myself(self, request: _Request, _match: dict[str, str], who: Person) -> _Response:
        body = platform_user(request.base, who, cloud=self._cloud)
        body["groups"] = {"size": 1, "items": []}
        return _json(200, body)

    def _issue_json(
        self,
        request: _Request,
        issue: _Issue,
        *,
        fields: Sequence[str] | None,
        properties: Sequence[str] = (),
        version: str = "2",
    ) -> dict[str, Any]:
        base = request.base
        cloud = self._cloud
        rich = version == "3"
        desk = self._desks[issue.service_desk_id]
        resolution = self._resolution(issue.resolution) if issue.resolution else None
        comments = [
            {
                "self": f"{base}/rest/api/2/issue/{issue.id}/comment/{c.id}",
                "id": c.id,
                "author": platform_user(base, self._people(c.author), cloud=cloud),
                "body": adf(c.body) if rich else c.body,
                "updateAuthor": platform_user(base, self._people(c.author), cloud=cloud),
                "created": jira_time(c.created),
                "updated": jira_time(c.created),
                "jsdPublic": c.public,
            }
            for c in issue.comments
        ]
        all_fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": adf(issue.description) if rich else issue.description,
            "labels": list(issue.labels),
            "status": status_json(base, issue.status),
            "resolution": resolution_json(base, resolution) if resolution else None,
            "resolutiondate": jira_time(issue.resolution_date) if issue.resolution_date else None,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "statuscategorychangedate": jira_time(issue.status_changed),
            "project": {
                "self": f"{base}/rest/api/2/project/{desk.project_id}",
                "id": desk.project_id,
                "key": desk.project_key,
                "name": desk.project_name,
                "projectTypeKey": "service_desk",
                "simplified": False,
            },
            "issuetype": {
                "self": f"{base}/rest/api/2/issuetype/{self._request_types[issue.request_type_id].issue_type_id}",
                "id": self._request_types[issue.request_type_id].issue_type_id,
                "name": "Service Request",
                "subtask": False,
            },
            "reporter": platform_user(base, self._people(issue.reporter), cloud=cloud),
            "creator": platform_user(base, self._people(issue.creator), cloud=cloud),
            "assignee": None,
            "priority": {"self": f"{base}/rest/api/2/priority/3", "id": "3", "name": "Medium"},
            "comment": {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0},
        }
        for name, value in issue.field_values.items():
            all_fields.setdefault(name, value)
        selected = _select_fields(all_fields, fields)
        body: dict[str, Any] = {
            "expand": _ISSUE_EXPAND,
            "id": str(issue.id),
            "self": f"{base}/rest/api/{version}/issue/{issue.id}",
            "key": issue.key,
            "fields": selected,
        }
        if properties:
            body["properties"] = {k: issue.properties[k] for k in properties if k in issue.properties}
        return body

    def _get_issue(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        fields = request.listed("fields") or None
        return _json(
            200,
            self._issue_json(
                request,
                issue,
                fields=fields,
                properties=request.listed("properties"),
                version="3" if match["version"] == "3" else "2",
            ),
        )

    def _edit_issue(self, request: _Request, match: dict[str, str], who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        self._writable(request, who, "edit issues in this project")
        body = self._body(request)
        if not isinstance(body, dict):
            raise _Reply(_Response(400, platform_error("Can not deserialize the request body as an issue update.")))
        editable = set(self._request_types[issue.request_type_id].fields) | {"summary", "description", "labels"}
        labels = list(issue.labels)
        values = dict(issue.field_values)
        errors: dict[str, str] = {}
        for name, value in (body.get("fields") or {}).items():
            if name not in editable:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            elif name == "labels":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    errors["labels"] = "The labels must be a list of strings."
                else:
                    labels = list(dict.fromkeys(value))
            else:
                values[name] = _plain_text(value)
        for name, operations in (body.get("update") or {}).items():
            if name not in editable or not isinstance(operations, list):
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                continue
            for operation in operations:
                if not isinstance(operation, dict) or len(operation) != 1:
                    errors[name] = f"Operation on field '{name}' is not valid."
                    continue
                ((verb, argument),) = operation.items()
                if name == "labels" and verb == "add" and isinstance(argument, str):
                    if argument not in labels:
                        labels.append(argument)
                elif name == "labels" and verb == "remove" and isinstance(argument, str):
                    labels = [label for label in labels if label != argument]
                elif name == "labels" and verb == "set" and isinstance(argument, list):
                    labels = list(dict.fromkeys(str(a) for a in argument))
                elif name != "labels" and verb == "set":
                    values[name] = _plain_text(argument)
                else:
                    errors[name] = f"Operation '{verb}' on field '{name}' is not valid."
        problem = _label_problem(labels)
        if problem:
            errors["labels"] = problem
        if errors:
            return _Response(400, platform_error(errors=errors))
        if not str(values.get("summary") or "").strip():
            return _Response(400, platform_error(errors={"summary": "You must specify a summary of the issue."}))
        issue.labels = labels
        issue.field_values = values
        issue.updated = max(issue.updated, self._now())
        self._reindex(issue)
        return _Response(204, content_type=None)

    def _transitions(self, issue: _Issue) -> list[JiraStatus]:
        return [s for s in self._statuses if s.id != issue.status.id]

    def _get_transitions(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        wanted = request.param("transitionId")
        transitions = [
            {
                "id": s.transition_id,
                "name": s.transition_name,
                "to": status_json(request.base, s),
                "hasScreen": False,
                "isGlobal": True,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for s in self._transitions(issue)
            if wanted is None or s.transition_id == wanted
        ]
        return _json(200, {"expand": "transitions", "transitions": transitions})

    def _do_transition(self, request: _Request, match: dict[str, str], who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        self._writable(request, who, "transition issues in this project")
        body = self._body(request)
        transition = body.get("transition") if isinstance(body, dict) else None
        transition_id = str(transition.get("id", "")) if isinstance(transition, dict) else ""
        if not transition_id:
            return _Response(400, platform_error("Missing 'transition' identifier"))
        target = next((s for s in self._transitions(issue) if s.transition_id == transition_id), None)
        if target is None:
            return _Response(400, platform_error(f"Transition id '{transition_id}' is not valid for this issue."))
        resolution_name: str | None = None
        resolution = (body.get("fields") or {}).get("resolution")
        if resolution is not None:
            if target.category != "done":
                return _Response(
                    400,
                    platform_error(
                        errors={
                            "resolution": "Field 'resolution' cannot be set. "
                            "It is not on the appropriate screen, or unknown."
                        }
                    ),
                )
            resolution_name = resolution.get("name") if isinstance(resolution, dict) else None
            if resolution_name is None and isinstance(resolution, dict) and "id" in resolution:
                by_id = next((r for r in self._resolutions if r.id == str(resolution["id"])), None)
                resolution_name = by_id.name if by_id else f"id {resolution['id']}"
            try:
                self._resolution(str(resolution_name))
            except ValueError:
                return _Response(
                    400, platform_error(errors={"resolution": f"Resolution '{resolution_name}' is not valid."})
                )
        comment: str | None = None
        for operation in (body.get("update") or {}).get("comment") or []:
            if isinstance(operation, dict) and isinstance(operation.get("add"), dict):
                comment = _plain_text(operation["add"].get("body"))
        self._move(issue, target.name, resolution_name, at=self._now(), comment=comment, author=who.login)
        return _Response(204, content_type=None)

    def _property_keys(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        url = f"{request.base}/rest/api/2/issue/{issue.id}/properties"
        return _json(200, {"keys": [{"self": f"{url}/{key}", "key": key} for key in issue.properties]})

    def _missing_property(self, prop: str) -> _Response:
        return _Response(404, platform_error(f"The property with key '{prop}' does not exist."))

    def _get_property(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        prop = match["prop"]
        if prop not in issue.properties:
            return self._missing_property(prop)
        return _json(200, {"key": prop, "value": issue.properties[prop]})

    def _put_property(self, request: _Request, match: dict[str, str], who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        self._writable(request, who, "edit issues in this project")
        prop = match["prop"]
        if len(prop) > _MAX_LABEL:
            return _Response(400, platform_error(f"The property key cannot be longer than {_MAX_LABEL} characters."))
        value = self._body(request)
        if len(request.body) > _MAX_PROPERTY_BYTES:
            return _Response(
                400, platform_error(f"The property value cannot be longer than {_MAX_PROPERTY_BYTES} bytes.")
            )
        created = prop not in issue.properties
        issue.properties[prop] = value
        issue.updated = max(issue.updated, self._now())
        self._reindex(issue)
        return _Response(201 if created else 200, content_type=None)

    def _delete_property(self, request: _Request, match: dict[str, str], who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        self._writable(request, who, "edit issues in this project")
        prop = match["prop"]
        if prop not in issue.properties:
            return self._missing_property(prop)
        del issue.properties[prop]
        self._reindex(issue)
        return _Response(204, content_type=None)

    # ------------------------------------------------------------------------------------- search

    def _search_input(self, request: _Request) -> dict[str, Any]:
        """Search parameters from the query string (GET) or the JSON body (POST), names as Jira spells them."""
        if request.method == "POST":
            body = self._body(request)
            if not isinstance(body, dict):
                raise _Reply(_Response(400, platform_error("The search request must be a JSON object.")))
            fields = body.get("fields")
            return {
                "jql": body.get("jql") or "",
                "startAt": body.get("startAt", 0),
                "maxResults": body.get("maxResults", 50),
                "nextPageToken": body.get("nextPageToken"),
                "fields": [str(f) for f in fields] if isinstance(fields, list) else None,
                "properties": [str(p) for p in body.get("properties") or []],
                "validateQuery": body.get("validateQuery", True),
                "reconcileIssues": [int(i) for i in body.get("reconcileIssues") or [] if str(i).isdigit()],
            }
        return {
            "jql": request.param("jql") or "",
            "startAt": self._int_param(request, "startAt", 0),
            "maxResults": self._int_param(request, "maxResults", 50),
            "nextPageToken": request.param("nextPageToken"),
            "fields": request.listed("fields") or None,
            "properties": request.listed("properties"),
            "validateQuery": request.param("validateQuery") or "true",
            "reconcileIssues": [int(i) for i in request.listed("reconcileIssues") if i.isdigit()],
        }

    def _parse(self, jql: str) -> JqlQuery:
        try:
            return parse_jql(jql)
        except JqlError as exc:
            raise _Reply(_Response(400, platform_error(*exc.messages))) from None

    def _matcher(self, query: JqlQuery, validation: str) -> Matcher:
        matcher = Matcher(query, _Catalog(self), validation=validation)
        if matcher.evaluation.errors:
            raise _Reply(_Response(400, platform_error(*matcher.evaluation.errors)))
        return matcher

    def _page_size(self, requested: Any) -> int:
        try:
            size = int(requested)
        except (TypeError, ValueError):
            size = 50
        return max(0, min(size, self.max_results_limit))

    def _legacy_search(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        if self._cloud:
            return _Response(410, platform_error(_REMOVED_SEARCH))
        params = self._search_input(request)
        # Data Center's validateQuery is a boolean (Cloud's old search took strict/warn/none): false reports
        # unknown values as warnings instead of refusing the query.
        validation = {"true": "strict", "false": "warn"}.get(str(params["validateQuery"]).lower())
        if validation is None:
            return _Response(
                400, platform_error(f"Can not deserialize value of type boolean from '{params['validateQuery']}'")
            )
        matcher = self._matcher(self._parse(params["jql"]), validation)
        found = matcher.sort([i for i in self._issues.values() if matcher.matches(i)])
        try:
            start = max(0, int(params["startAt"] or 0))
        except (TypeError, ValueError):
            return _Response(400, platform_error(f"The value '{params['startAt']}' is not valid for 'startAt'."))
        size = self._page_size(params["maxResults"])
        fields = params["fields"] or ["*navigable"]
        body: dict[str, Any] = {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [
                self._issue_json(request, i, fields=fields, properties=params["properties"])
                for i in found[start : start + size]
            ],
        }
        if matcher.evaluation.warnings:
            body["warningMessages"] = matcher.evaluation.warnings
        return _json(200, body)

    def _enhanced_search(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        if not self._cloud:
            return _Response(404, platform_error(f"null for uri: {request.base}{request.path}"))
        params = self._search_input(request)
        query = self._parse(params["jql"])
        if not query.bounded:
            return _Response(
                400,
                platform_error(
                    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                ),
            )
        matcher = self._matcher(query, "strict")
        now = self._now()
        reconcile = set(params["reconcileIssues"])
        visible: list[_Issue] = []
        for issue_id, issue in self._issues.items():
            seen = issue if issue_id in reconcile else self._indexed(issue_id, now)
            if seen is not None and matcher.matches(seen):
                visible.append(seen)
        found = matcher.sort(visible)
        offset: int | None = 0
        token = params["nextPageToken"]
        if token:
            offset = _read_page_token(token, params["jql"])
        if offset is None:
            return _Response(400, platform_error("The provided next page token is invalid or expired."))
        size = self._page_size(params["maxResults"])
        fields = params["fields"]
        version = "3" if match["version"] == "3" else "2"
        issues: list[dict[str, Any]] = []
        for issue in found[offset : offset + size]:
            if fields:
                issues.append(
                    self._issue_json(request, issue, fields=fields, properties=params["properties"], version=version)
                )
            else:
                issues.append({"id": str(issue.id)})
        body: dict[str, Any] = {"issues": issues}
        if offset + size < len(found) and size > 0:
            body["nextPageToken"] = _page_token(offset + size, params["jql"])
            body["isLast"] = False
        else:
            body["isLast"] = True
        return _json(200, body)

    # -------------------------------------------------------------------------------- service desk API

    def _paging(self, request: _Request) -> tuple[int, int]:
        start = max(0, self._int_param(request, "start", 0))
        limit = min(max(1, self._int_param(request, "limit", 50)), 100)
        return start, limit

    def _desk_for(self, request: _Request, desk_id: str) -> JiraServiceDesk:
        desk = self._desks.get(desk_id)
        if desk is None:
            desk = next((d for d in self._desks.values() if d.project_key == desk_id), None)
        if desk is None:
            raise _Reply(
                self._error(
                    request,
                    404,
                    f"The service desk with id {desk_id} does not exist.",
                    i18n_key="sd.service.desk.error.not.found",
                )
            )
        return desk

    def _list_service_desks(self, request: _Request, _match: dict[str, str], _who: Person) -> _Response:
        start, limit = self._paging(request)
        values = [service_desk_json(request.base, d) for d in self._desks.values()]
        return _json(200, paged(request.base, request.path, values, start, limit))

    def _get_service_desk(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        return _json(200, service_desk_json(request.base, self._desk_for(request, match["desk"])))

    def _list_request_types(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        desk = self._desk_for(request, match["desk"])
        start, limit = self._paging(request)
        values = [
            request_type_json(request.base, rt) for rt in self._request_types.values() if rt.service_desk_id == desk.id
        ]
        return _json(200, paged(request.base, request.path, values, start, limit))

    def _request_type_for(self, request: _Request, desk: JiraServiceDesk, type_id: str) -> JiraRequestType:
        request_type = self._request_types.get(type_id)
        if request_type is None or request_type.service_desk_id != desk.id:
            raise _Reply(
                self._error(
                    request,
                    404,
                    f"The request type with id {type_id} does not exist in service desk {desk.id}.",
                    i18n_key="sd.request.type.error.not.found",
                )
            )
        return request_type

    def _get_request_type(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        desk = self._desk_for(request, match["desk"])
        return _json(200, request_type_json(request.base, self._request_type_for(request, desk, match["rt"])))

    def _request_type_fields(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        desk = self._desk_for(request, match["desk"])
        request_type = self._request_type_for(request, desk, match["rt"])
        return _json(
            200,
            {
                "requestTypeFields": [
                    {
                        "fieldId": name,
                        "name": name.replace("_", " ").title(),
                        "description": "",
                        "required": name in request_type.required,
                        "defaultValues": [],
                        "validValues": [],
                        "jiraSchema": {"type": "array", "items": "string", "system": name}
                        if name == "labels"
                        else {"type": "string", "system": name},
                        "visible": True,
                    }
                    for name in request_type.fields
                ],
                "canRaiseOnBehalfOf": True,
                "canAddRequestParticipants": True,
            },
        )

    def _request_json(self, request: _Request, issue: _Issue) -> dict[str, Any]:
        base = request.base
        request_type = self._request_types[issue.request_type_id]
        field_values = [
            {"fieldId": name, "label": name.replace("_", " ").title(), "value": issue.field_values[name]}
            for name in request_type.fields
            if name in issue.field_values
        ]
        return {
            "_expands": [
                "participant",
                "status",
                "sla",
                "requestType",
                "serviceDesk",
                "attachment",
                "action",
                "comment",
            ],
            "issueId": str(issue.id),
            "issueKey": issue.key,
            "summary": issue.summary,
            "requestTypeId": issue.request_type_id,
            "serviceDeskId": issue.service_desk_id,
            "createdDate": date_dto(issue.created),
            "reporter": service_desk_user(base, self._people(issue.reporter), cloud=self._cloud),
            "requestFieldValues": field_values,
            "currentStatus": {
                "status": issue.status.name,
                "statusCategory": issue.status.category.upper(),
                "statusDate": date_dto(issue.status_changed),
            },
            "_links": {
                "jiraRest": f"{base}/rest/api/2/issue/{issue.id}",
                "web": f"{base}/servicedesk/customer/portal/{issue.service_desk_id}/{issue.key}",
                "agent": f"{base}/browse/{issue.key}",
                "self": f"{base}/rest/servicedeskapi/request/{issue.id}",
            },
        }

    def _create_request(self, request: _Request, _match: dict[str, str], who: Person) -> _Response:
        self._writable(request, who, "create requests in this service desk")
        body = self._body(request)
        if not isinstance(body, dict):
            return self._error(request, 400, "The request body must be a JSON object.")
        desk_id = body.get("serviceDeskId")
        type_id = body.get("requestTypeId")
        if desk_id in (None, ""):
            return self._error(request, 400, "The serviceDeskId is required.", i18n_key="sd.request.create.no.desk")
        if type_id in (None, ""):
            return self._error(request, 400, "The requestTypeId is required.", i18n_key="sd.request.create.no.type")
        desk = self._desk_for(request, str(desk_id))
        request_type = self._request_type_for(request, desk, str(type_id))
        values = body.get("requestFieldValues") or {}
        if not isinstance(values, dict):
            return self._error(request, 400, "requestFieldValues must be a JSON object.")
        problems: list[str] = []
        for name in values:
            if name not in request_type.fields:
                problems.append(f"The field '{name}' is not valid for the request type '{request_type.name}'.")
        for name in request_type.required:
            if values.get(name) in (None, "", []):
                problems.append(f"{name.title()} is required.")
        labels = values.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            problems.append("The labels must be a list of strings.")
            labels = []
        label_problem = _label_problem(labels)
        if label_problem:
            problems.append(label_problem)
        reporter = who.login
        on_behalf = body.get("raiseOnBehalfOf")
        if on_behalf not in (None, ""):
            person = next(
                (
                    a.person
                    for a in self._accounts.values()
                    if str(on_behalf).lower() in (a.person.login.lower(), a.person.email.lower(), a.person.account_id)
                ),
                None,
            )
            if person is None:
                problems.append(f"The user '{on_behalf}' does not exist or is not a customer of this service desk.")
            else:
                reporter = person.login
        if problems:
            return self._error(
                request,
                400,
                "Your request could not be created. Please check the fields have been correctly filled in. "
                + " ".join(problems),
                i18n_key="sd.request.create.error.invalid.fields",
            )
        now = self._now()
        self._next_issue_id += 1
        self._counters[desk.project_key] += 1
        field_values = {k: _plain_text(v) for k, v in values.items() if k != "labels"}
        issue = _Issue(
            id=self._next_issue_id,
            key=f"{desk.project_key}-{self._counters[desk.project_key]}",
            project_key=desk.project_key,
            service_desk_id=desk.id,
            request_type_id=request_type.id,
            field_values=field_values,
            labels=list(dict.fromkeys(labels)),
            properties={},
            status=next(s for s in self._statuses if s.category == "new"),
            resolution=None,
            reporter=reporter,
            creator=who.login,
            created=now,
            updated=now,
            status_changed=now,
        )
        self._issues[issue.id] = issue
        self._keys[issue.key] = issue.id
        self._reindex(issue)
        return _json(201, self._request_json(request, issue))

    def _get_request(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        return _json(200, self._request_json(request, self._issue_for(request, match["issue"])))

    def _list_comments(self, request: _Request, match: dict[str, str], _who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        show_public = (request.param("public") or "true").lower() != "false"
        show_internal = (request.param("internal") or "true").lower() != "false"
        start, limit = self._paging(request)
        values = [
            comment_json(
                request.base,
                str(issue.id),
                c,
                service_desk_user(request.base, self._people(c.author), cloud=self._cloud),
            )
            for c in issue.comments
            if (c.public and show_public) or (not c.public and show_internal)
        ]
        return _json(200, paged(request.base, request.path, values, start, limit))

    def _add_comment_api(self, request: _Request, match: dict[str, str], who: Person) -> _Response:
        issue = self._issue_for(request, match["issue"])
        self._writable(request, who, "add comments to this request")
        body = self._body(request)
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self._error(request, 400, "The comment body is required.", i18n_key="sd.comment.error.body.empty")
        public = body.get("public", True)
        if not isinstance(public, bool):
            return self._error(request, 400, "The public flag must be true or false.")
        comment = self._comment(issue, text, public=public, author=who.login, at=self._now())
        return _json(
            201,
            comment_json(request.base, str(issue.id), comment, service_desk_user(request.base, who, cloud=self._cloud)),
        )


def _phrase(status: int) -> str:
    """The reason phrase of ``status`` (``Error`` for codes the standard library does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Catalog:
    """What the JQL evaluator asks about names, answered from the fake's state (lock held by the caller)."""

    def __init__(self, fake: FakeJira) -> None:
        self._fake = fake

    def issue_id_for_key(self, key: str) -> int | None:
        return self._fake._keys.get(key.upper())

    def status_ids(self, value: str) -> frozenset[str] | None:
        found = frozenset(s.id for s in self._fake._statuses if value.lower() in (s.name.lower(), s.id))
        return found or None

    def resolution_names(self, value: str) -> frozenset[str] | None:
        found = frozenset(r.name for r in self._fake._resolutions if value.lower() in (r.name.lower(), r.id))
        return found or None

    def project_keys(self, value: str) -> frozenset[str] | None:
        found = frozenset(
            d.project_key
            for d in self._fake._desks.values()
            if value.lower() in (d.project_key.lower(), d.project_id, d.project_name.lower())
        )
        return found or None

    def now(self) -> datetime:
        return self._fake._now()


def _select_fields(all_fields: Mapping[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Apply Jira's ``fields`` parameter: names, ``*all``, ``*navigable``, ``-name`` exclusions."""
    if not fields:
        return dict(all_fields)
    included: set[str] = set()
    excluded: set[str] = set()
    everything = False
    for name in fields:
        if name in ("*all", "*navigable"):
            everything = True
        elif name.startswith("-"):
            excluded.add(name[1:])
        else:
            included.add(name)
    return {k: v for k, v in all_fields.items() if (everything or k in included) and k not in excluded}


def _label_problem(labels: Sequence[str]) -> str | None:
    for label in labels:
        if not label or any(ch.isspace() for ch in label):
            return f"The label '{label}' contains spaces which is invalid."
        if len(label) > _MAX_LABEL:
            return f"The label '{label}' exceeds the maximum length for a single label of {_MAX_LABEL} characters."
    return None


def _plain_text(value: Any) -> Any:
    """ADF documents (``/rest/api/3`` rich text) flattened to text; other values unchanged."""
    if isinstance(value, dict) and value.get("type") == "doc":
        lines = []
        for block in value.get("content") or []:
            lines.append("".join(str(node.get("text", "")) for node in block.get("content") or []))
        return "\n".join(lines)
    return value


def _page_token(offset: int, jql: str) -> str:
    payload = json.dumps({"offset": offset, "jql": hashlib.sha256(jql.encode()).hexdigest()[:16]})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _read_page_token(token: str, jql: str) -> int | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if payload["jql"] != hashlib.sha256(jql.encode()).hexdigest()[:16]:
            return None
        offset = int(payload["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    return offset if offset >= 0 else None
