"""HTTP plumbing of the fake IdentityNow: requests, responses, IdentityNow's error bodies, JWTs, forms, times.

Standard library only.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "ApiProblem",
    "Request",
    "Response",
    "camel_case",
    "decode_jwt",
    "encode_jwt",
    "error_envelope",
    "iso_timestamp",
    "parse_form",
]

#: IdentityNow's ``detailCode`` per status, as its OpenAPI examples spell them.
_DETAIL_CODES = {
    400: "400.1 Bad Request Content",
    403: "403 Forbidden",
    404: "404 Not found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    415: "415 Unsupported Media Type",
    500: "500.0 Internal Fault",
}


@dataclass
class Request:
    """One request, decoded from the WSGI environ.

    Attributes:
        method: the upper-case method.
        path: the path without the query string.
        query: the decoded query parameters (name to the list of its values).
        headers: the request headers, names in lower case.
        body: the raw body.
        base_url: ``scheme://host`` as the client addressed the fake.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Request:
        """Build a request from a WSGI environ (reads the body)."""
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = str(value)
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        stream = environ.get("wsgi.input")
        body = stream.read(length) if stream is not None and length > 0 else b""
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        host = headers.get("host") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO", "/")) or "/",
            query=parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
            headers=headers,
            body=body,
            base_url=f"{scheme}://{host}",
        )

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``."""
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body decoded as JSON; an `ApiProblem` (400) when it is not JSON."""
        if not self.body.strip():
            raise ApiProblem(400, "The request body is empty; a JSON body is required.")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiProblem(400, f"The request body is not valid JSON: {exc}.") from exc


@dataclass
class Response:
    """A response the fake sends.

    Attributes:
        status: the HTTP status.
        body: the encoded body.
        headers: response headers besides ``Content-Length``.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
        """A JSON response."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json;charset=utf-8"), *headers])

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        """A response without a body."""
        return cls(status)

    @classmethod
    def html(cls, status: int) -> Response:
        """An HTML page, as a gateway or load balancer answers when the service behind it is down."""
        title = _phrase(status)
        page = (
            f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"
        )
        return cls(status, page.encode("utf-8"), [("Content-Type", "text/html")])

    def status_line(self) -> str:
        """``"200 OK"``."""
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"
        return f"{self.status} {reason}"


class ApiProblem(Exception):
    """Raised by a handler to answer with IdentityNow's error envelope.

    Attributes:
        status: the HTTP status.
        text: the message, in ``messages[0].text``.
        detail_code: ``detailCode`` (default: the usual one for the status).
        causes: texts for ``causes``.
    """

    def __init__(self, status: int, text: str, *, detail_code: str | None = None, causes: Iterable[str] = ()) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.detail_code = detail_code
        self.causes = tuple(causes)


def error_envelope(
    status: int, text: str, tracking_id: str, *, detail_code: str | None = None, causes: Iterable[str] = ()
) -> dict[str, Any]:
    """IdentityNow's ``ErrorResponseDto`` for 400/403/404/405/500 answers."""
    return {
        "detailCode": detail_code or _DETAIL_CODES.get(status, f"{status} {_phrase(status)}"),
        "trackingId": tracking_id,
        "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": text}],
        "causes": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": cause} for cause in causes],
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def iso_timestamp(seconds: float) -> str:
    """An epoch time as IdentityNow writes date-times: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def camel_case(name: str) -> str:
    """``manager_correlation_mapping`` -> ``managerCorrelationMapping``; camelCase names pass unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# ------------------------------------------------------------------------------------------------------- JWT


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: Mapping[str, Any], key: bytes) -> str:
    """An HS256 JSON Web Token, the kind IdentityNow issues."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_jwt(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a token this fake signed with ``key``; ``None`` if it is malformed or forged."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, payload, signature = parts
    expected = _b64url(hmac.new(key, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(_b64url_decode(payload))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


# ------------------------------------------------------------------------------------------------------ forms


def parse_form(request: Request) -> dict[str, str]:
    """Form fields from a ``x-www-form-urlencoded`` or ``multipart/form-data`` body (first value wins)."""
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded" or (not content_type and b"=" in request.body):
        parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}
    if content_type == "multipart/form-data":
        return _parse_multipart(request.headers.get("content-type", ""), request.body)
    return {}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    raw = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        disposition = part.get("Content-Disposition", "")
        match = re.search(r'name="([^"]*)"', str(disposition))
        if match is None:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields.setdefault(match.group(1), payload.decode("utf-8", "replace"))
    return fields
