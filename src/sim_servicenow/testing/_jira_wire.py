"""Jira's JSON shapes, as the fake renders them: dates, users, statuses, issues, requests, envelopes.

Pure functions of their inputs; standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from ._jira_model import STATUS_CATEGORIES, JiraComment, JiraRequestType, JiraResolution, JiraServiceDesk, JiraStatus

__all__ = [
    "Person",
    "adf",
    "avatar_urls",
    "comment_json",
    "date_dto",
    "jira_time",
    "paged",
    "platform_error",
    "platform_user",
    "request_type_json",
    "resolution_json",
    "service_desk_error",
    "service_desk_json",
    "service_desk_user",
    "status_json",
]

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class Person:
    """A Jira user or JSM customer as the wire shows them.

    Attributes:
        login: what they sign in with (Cloud: the e-mail address; Data Center: the user name).
        email: the e-mail address.
        display_name: the display name.
        account_id: the Cloud account id.
        key: the Data Center user key.
    """

    login: str
    email: str
    display_name: str
    account_id: str
    key: str


def jira_time(moment: datetime) -> str:
    """Jira's REST timestamp: ``2024-05-01T10:11:12.345+0000`` (always rendered in UTC)."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def date_dto(moment: datetime) -> dict[str, Any]:
    """The service desk API's ``DateDTO``: ``iso8601``, ``jira``, ``friendly``, ``epochMillis``."""
    utc = moment.astimezone(timezone.utc)
    return {
        "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "jira": jira_time(utc),
        "friendly": utc.strftime("%d/%b/%y %I:%M %p"),
        "epochMillis": int(utc.timestamp() * 1000),
    }


def avatar_urls(base: str, ident: str) -> dict[str, str]:
    url = f"{base}/secure/useravatar?ownerId={quote(ident)}"
    return {size: f"{url}&size={size}" for size in ("48x48", "24x24", "16x16", "32x32")}


def _user_url(base: str, person: Person, cloud: bool) -> str:
    query = {"accountId": person.account_id} if cloud else {"username": person.login}
    return f"{base}/rest/api/2/user?{urlencode(query)}"


def platform_user(base: str, person: Person, *, cloud: bool) -> dict[str, Any]:
    """A user as ``/rest/api/2`` shows them (Cloud: ``accountId``; Data Center: ``name`` and ``key``)."""
    body: dict[str, Any] = {"self": _user_url(base, person, cloud)}
    if cloud:
        body["accountId"] = person.account_id
        body["accountType"] = "atlassian"
    else:
        body["name"] = person.login
        body["key"] = person.key
    body.update(
        emailAddress=person.email,
        avatarUrls=avatar_urls(base, person.account_id),
        displayName=person.display_name,
        active=True,
        timeZone="Etc/UTC",
    )
    return body


def service_desk_user(base: str, person: Person, *, cloud: bool) -> dict[str, Any]:
    """A user as ``/rest/servicedeskapi`` shows them (``UserDTO``)."""
    url = _user_url(base, person, cloud)
    body: dict[str, Any] = {}
    if cloud:
        body["accountId"] = person.account_id
    else:
        body["name"] = person.login
        body["key"] = person.key
    body.update(
        emailAddress=person.email,
        displayName=person.display_name,
        active=True,
        timeZone="Etc/UTC",
        _links={"jiraRest": url, "avatarUrls": avatar_urls(base, person.account_id), "self": url},
    )
    return body


def status_json(base: str, status: JiraStatus) -> dict[str, Any]:
    """``fields.status``: name, id and the status category object."""
    category = dict(STATUS_CATEGORIES[status.category])
    category["self"] = f"{base}/rest/api/2/statuscategory/{category['id']}"
    return {
        "self": f"{base}/rest/api/2/status/{status.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": category,
    }


def resolution_json(base: str, resolution: JiraResolution) -> dict[str, Any]:
    """``fields.resolution`` of a resolved issue."""
    return {
        "self": f"{base}/rest/api/2/resolution/{resolution.id}",
        "id": resolution.id,
        "description": resolution.description,
        "name": resolution.name,
    }


def adf(text: str | None) -> dict[str, Any] | None:
    """Plain text as an Atlassian Document Format document (what ``/rest/api/3`` returns for rich text)."""
    if text is None:
        return None
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []} for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def comment_json(base: str, issue_id: str, comment: JiraComment, author: dict[str, Any]) -> dict[str, Any]:
    """A comment as the service desk API shows it (``CommentDTO``)."""
    return {
        "_expands": ["attachment", "renderedBody"],
        "id": comment.id,
        "body": comment.body,
        "public": comment.public,
        "author": author,
        "created": date_dto(comment.created),
        "_links": {"self": f"{base}/rest/servicedeskapi/request/{issue_id}/comment/{comment.id}"},
    }


def service_desk_json(base: str, desk: JiraServiceDesk) -> dict[str, Any]:
    """A service desk (``ServiceDeskDTO``)."""
    return {
        "id": desk.id,
        "projectId": desk.project_id,
        "projectName": desk.project_name,
        "projectKey": desk.project_key,
        "_links": {"self": f"{base}/rest/servicedeskapi/servicedesk/{desk.id}"},
    }


def request_type_json(base: str, request_type: JiraRequestType) -> dict[str, Any]:
    """A customer request type (``RequestTypeDTO``)."""
    self_url = f"{base}/rest/servicedeskapi/servicedesk/{request_type.service_desk_id}/requesttype/{request_type.id}"
    icon = f"{base}/rest/api/2/universal_avatar/view/type/SD_REQTYPE/avatar/10500"
    return {
        "_expands": [],
        "id": request_type.id,
        "_links": {"self": self_url},
        "name": request_type.name,
        "description": request_type.name,
        "helpText": "",
        "issueTypeId": request_type.issue_type_id,
        "serviceDeskId": request_type.service_desk_id,
        "portalId": request_type.service_desk_id,
        "groupIds": [],
        "icon": {
            "id": "10500",
            "_links": {"iconUrls": {size: f"{icon}?size={size}" for size in ("48x48", "24x24", "16x16", "32x32")}},
        },
    }


def paged(base: str, path: str, values: Sequence[Any], start: int, limit: int, **params: str) -> dict[str, Any]:
    """The service desk API's paged envelope: ``size``, ``start``, ``limit``, ``isLastPage``, ``values``, ``_links``."""
    window = list(values[start : start + limit])
    is_last = start + limit >= len(values)
    links: dict[str, str] = {"base": f"{base}/rest/servicedeskapi", "context": ""}

    def url(offset: int) -> str:
        return f"{base}{path}?{urlencode({**params, 'start': offset, 'limit': limit})}"

    if not is_last:
        links["next"] = url(start + limit)
    if start > 0:
        links["prev"] = url(max(0, start - limit))
    return {
        "_expands": [],
        "size": len(window),
        "start": start,
        "limit": limit,
        "isLastPage": is_last,
        "_links": links,
        "values": window,
    }


def platform_error(*messages: str, errors: Mapping[str, str] | None = None) -> bytes:
    """The platform API's error envelope: ``{"errorMessages": [...], "errors": {...}}``."""
    return json.dumps({"errorMessages": list(messages), "errors": dict(errors or {})}).encode()


def service_desk_error(message: str, i18n_key: str, parameters: Iterable[str] = ()) -> bytes:
    """The service desk API's error envelope: ``{"errorMessage", "i18nErrorMessage": {"i18nKey", "parameters"}}``."""
    return json.dumps(
        {"errorMessage": message, "i18nErrorMessage": {"i18nKey": i18n_key, "parameters": list(parameters)}}
    ).encode()
