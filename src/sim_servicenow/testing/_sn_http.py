"""HTTP plumbing of FakeServiceNow: requests, responses, ServiceNow's envelopes and ``sysparm_*`` parameters.

Standard library only.
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from ._sn_store import Caller

__all__ = [
    "JSON_CONTENT_TYPE",
    "BadRequest",
    "Request",
    "Response",
    "accepts_json",
    "display_param",
    "error_response",
    "fields_param",
    "int_param",
    "json_response",
    "link_header",
    "no_resource",
    "not_found",
    "oauth_error",
    "read_json",
    "reason",
    "unauthenticated",
]

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


@dataclass
class Request:
    """One request the fake handles (also each request inside a batch).

    Attributes:
        method: the HTTP method (after ``X-HTTP-Method-Override``).
        path: the path, without the query string.
        query: the query parameters, in order.
        headers: the request headers, names in lower case.
        body: the raw body.
        base_url: scheme and host the client used, for links and ``Location``.
        caller: the authenticated user, once known.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    base_url: str
    caller: Caller | None = None

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() == "true"


@dataclass
class Response:
    """What the fake answers.

    Attributes:
        status: the HTTP status.
        body: the raw body.
        headers: the response headers.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class BadRequest(Exception):
    """A request the fake rejects; carries the response to send."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, [("Content-Type", JSON_CONTENT_TYPE), *headers])


def error_response(
    status: int, message: str, detail: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """ServiceNow's error envelope: ``{"error": {"message", "detail"}, "status": "failure"}``."""
    return json_response(status, {"error": {"message": message, "detail": detail}, "status": "failure"}, headers)


def oauth_error() -> Response:
    # What instances answer for a wrong secret, a disabled grant, a locked user ... alike.
    return json_response(401, {"error_description": "access_denied", "error": "server_error"})


def unauthenticated() -> Response:
    return error_response(401, "User Not Authenticated", "Required to provide Auth information")


def not_found() -> Response:
    return error_response(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def no_resource() -> Response:
    return error_response(400, "Requested URI does not represent any resource")


def reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def read_json(request: Request) -> Any:
    """The JSON body (``None`` if empty); 415 for a body that is not JSON, 400 if it does not parse."""
    if not request.body.strip():
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # curl's --data default (form-urlencoded) is what the documentation's own samples send.
    if content_type and not (
        content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain")
        or content_type.endswith("+json")
    ):
        raise BadRequest(error_response(415, "Unsupported Media Type", f"Content-Type {content_type} is not supported"))
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            error_response(400, "Exception while reading request", "The payload is not valid JSON.")
        ) from exc


def accepts_json(accept: str) -> bool:
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "*/*", "application/*", "") or media.endswith("+json"):
            return True
    return False


def fields_param(request: Request) -> list[str] | None:
    raw = request.param("sysparm_fields")
    if not raw:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return names or None


def display_param(request: Request) -> Literal["false", "true", "all"]:
    value = (request.param("sysparm_display_value") or "false").lower()
    if value == "true":
        return "true"
    if value == "all":
        return "all"
    return "false"


def int_param(request: Request, name: str, default: int) -> int:
    """A non-negative integer parameter; a missing, malformed or negative one gives ``default``."""
    raw = request.param(name)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        return default
    return value if value >= 0 else default


def link_header(request: Request, offset: int, limit: int, total: int, *, full_page: bool, known_total: bool) -> str:
    """``Link`` with first / prev / next / last, each an absolute URL with the request's parameters."""
    if limit <= 0:
        return ""

    def url(page_offset: int) -> str:
        params = [(k, v) for k, v in request.query if k not in ("sysparm_offset", "sysparm_limit")]
        params += [("sysparm_offset", str(page_offset)), ("sysparm_limit", str(limit))]
        return f"{request.base_url}{request.path}?{urlencode(params)}"

    links = [f'<{url(0)}>;rel="first"']
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
    # Without a count the fake only knows a full page may have a successor.
    has_next = offset + limit < total if known_total else full_page
    if has_next:
        links.append(f'<{url(offset + limit)}>;rel="next"')
    if known_total:
        last = max(0, (total - 1) // limit * limit) if total else 0
        links.append(f'<{url(last)}>;rel="last"')
    return ",".join(links)
