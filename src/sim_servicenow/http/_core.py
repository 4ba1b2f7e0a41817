"""The one HTTP core every request of both clients goes through.

One place for: the session, base-URL joining, timeouts, ``User-Agent``, retries with ``Retry-After``,
mapping error responses of both vendors to `ApiError`, JSON decoding,
logging without secrets, and the refusal of plain ``http://`` to hosts other than loopback.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import attrs
import requests

from .._errors import ApiError, ConfigError, DecodeError, TransportError, ValidationProblem
from ._retry import RetryPolicy, parse_retry_after

__all__ = [
    "HttpCore",
    "Timeout",
    "decode_json",
    "parse_error_body",
    "redact_url",
    "user_agent",
]

logger = logging.getLogger("sim_servicenow.http")

#: Query parameters whose values are secrets; they are masked wherever a URL is logged or reported.
SECRET_PARAMS = frozenset(
    {"client_secret", "password", "access_token", "refresh_token", "token", "api_key", "apikey", "code"}
)
_BODY_START = 200


class _NoAuth(requests.auth.AuthBase):
    """Sends a request as it is: unlike ``auth=None``, it also keeps a session's own ``auth`` off."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_AUTH = _NoAuth()


@functools.cache
def user_agent() -> str:
    """``sim-servicenow/<version>`` (read from the installed metadata once: it is on every request's path)."""
    from .. import __version__

    return f"sim-servicenow/{__version__}"


@attrs.frozen
class Timeout:
    """Seconds to wait for a connection and for each read of the response. Always applied."""

    connect: float = 10.0
    read: float = 60.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


def redact_url(url: str) -> str:
    """``url`` with user info and the values of secret query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, allow_insecure_http: bool = False, what: str = "base_url") -> str:
    """Validate a service URL; returns it with a trailing slash. ``http://`` only to loopback unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("invalid URL", [ValidationProblem(what, f"expected an http(s) URL, got {redact_url(url)!r}")])
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigError(
            "insecure URL",
            [
                ValidationProblem(
                    what,
                    f"plain http:// to {parts.hostname} would send credentials in clear text; "
                    "use https:// or pass allow_insecure_http=True",
                )
            ],
        )
    return url if url.endswith("/") else url + "/"


def parse_error_body(body: Any) -> tuple[str, str | None, str | None]:
    """Read ``(message, detail, tracking_id)`` from either vendor's error envelope.

    ServiceNow: ``{"error": {"message", "detail"}, "status": "failure"}``.
    IdentityNow: ``{"detailCode", "trackingId", "messages": [{"locale", "localeOrigin", "text"}], "causes"}``.
    Jira: ``{"errorMessages": [...], "errors": {field: message}}`` and the service desk's ``errorMessage``.
    Also the bare ``{"error": "..."}`` and ``{"message": "..."}`` bodies both send with 401 and 429.
    """
    if not isinstance(body, Mapping):
        return ("", None, None)
    message = ""
    detail: str | None = None
    tracking = body.get("trackingId")
    tracking_id = str(tracking) if tracking else None
    error = body.get("error")
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        raw_detail = error.get("detail")
        detail = str(raw_detail) if raw_detail not in (None, "") else None
    elif isinstance(error, str):
        message = error
        description = body.get("error_description")
        detail = str(description) if description else None
    messages = body.get("messages")
    if not message and isinstance(messages, list):
        texts = [str(m.get("text")) for m in messages if isinstance(m, Mapping) and m.get("text") not in (None, "")]
        english = [
            str(m.get("text"))
            for m in messages
            if isinstance(m, Mapping) and str(m.get("locale", "")).lower().startswith("en") and m.get("text")
        ]
        message = (english or texts or [""])[0]
        code = body.get("detailCode")
        if code:
            detail = str(code)
        causes = body.get("causes")
        if isinstance(causes, list) and causes:
            cause_texts = [str(c.get("text")) for c in causes if isinstance(c, Mapping) and c.get("text")]
            if cause_texts:
                detail = f"{detail}; " if detail else ""
                detail += "; ".join(cause_texts)
    if not message:
        message, detail = _jira_error(body, detail)
    if not message and isinstance(body.get("message"), str):
        message = body["message"].strip()
    if not message and body.get("detailCode"):
        message = str(body["detailCode"])
    return (message, detail, tracking_id)


def _without_query(url: str) -> str:
    """``url`` without its query string (and user info): error messages stay short and carry no secrets."""
    parts = urlsplit(redact_url(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _jira_error(body: Mapping[str, Any], detail: str | None) -> tuple[str, str | None]:
    """Jira's ``{"errorMessages": [...], "errors": {field: message}}`` and the service desk's ``errorMessage``."""
    texts = body.get("errorMessages")
    message = "; ".join(str(t) for t in texts if t) if isinstance(texts, list) else ""
    if not message and isinstance(body.get("errorMessage"), str):
        message = body["errorMessage"]
    errors = body.get("errors")
    if isinstance(errors, Mapping) and errors:
        fields = "; ".join(f"{name}: {text}" for name, text in errors.items())
        if message:
            detail = f"{detail}; {fields}" if detail else fields
        else:
            message = fields
    return (message, detail)


def _body_start(response: requests.Response) -> str:
    try:
        return response.content[:_BODY_START].decode("utf-8", "replace")
    except Exception:
        return ""


def decode_json(response: requests.Response) -> Any:
    """The JSON body of ``response``; a `DecodeError` when it is not JSON (e.g. an HTML page)."""
    method = response.request.method
    url = redact_url(response.url or "")
    content_type = response.headers.get("Content-Type")
    try:
        text = response.content.decode(response.encoding or "utf-8")
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, requests.RequestException) as exc:
        start = _body_start(response)
        raise DecodeError(
            f"{method} {url} -> {response.status_code}: expected a JSON body, got "
            f"{content_type or 'no content type'} starting {start[:60]!r}",
            status=response.status_code,
            method=method,
            url=url,
            content_type=content_type,
            body_start=start,
        ) from exc


def error_from_response(response: requests.Response) -> ApiError:
    """Build the `ApiError` subclass matching ``response``'s status."""
    method = response.request.method or "?"
    url = _without_query(response.url or "")
    body: Any
    try:
        body = json.loads(response.content.decode(response.encoding or "utf-8")) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = _body_start(response)
    message, detail, tracking_id = parse_error_body(body)
    if not message:
        message = response.reason or ""
    if tracking_id is None:
        tracking_id = (
            response.headers.get("X-Request-Id")
            or response.headers.get("X-Tracking-Id")
            or response.headers.get("X-AREQUESTID")  # Jira
        )
    cls = ApiError.class_for_status(response.status_code)
    return cls(
        status=response.status_code,
        method=method,
        url=url,
        message=message,
        detail=detail,
        tracking_id=tracking_id,
        retry_after=parse_retry_after(response.headers),
        body=body,
    )


@attrs.define
class HttpCore:
    """Sends requests to one service with timeouts, retries, error mapping and logging.

    Attributes:
        base_url: the service root, e.g. ``https://dev1234.service-now.com``.
        auth: a `requests` auth object (see `sim_servicenow.auth`), or ``None``.
        session: a `requests.Session` to use; the caller keeps ownership of one they pass.
        timeout: connect and read timeouts applied to every request.
        retry: the `RetryPolicy`.
        verify: TLS verification: ``True`` (default), or the path of a CA bundle.
        cert: a client certificate for mutual TLS: a path, or ``(cert, key)`` paths.
        allow_insecure_http: permit ``http://`` to hosts other than loopback.
        logger_name: the logger requests are reported on at DEBUG.
    """

    base_url: str = attrs.field()
    auth: requests.auth.AuthBase | None = attrs.field(default=None, repr=False)
    session: requests.Session | None = attrs.field(default=None, repr=False)
    timeout: Timeout = attrs.field(factory=Timeout)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    verify: bool | str = attrs.field(default=True, repr=False)
    cert: str | tuple[str, str] | None = attrs.field(default=None, repr=False)
    allow_insecure_http: bool = attrs.field(default=False, repr=False)
    logger_name: str = attrs.field(default="sim_servicenow.http", repr=False)
    _owns_session: bool = attrs.field(init=False, repr=False, default=False)
    _logger: logging.Logger = attrs.field(init=False, repr=False)
    #: Counters of what happened, for reports and tests: attempts, retries, transport failures.
    stats: dict[str, int] = attrs.field(init=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self.base_url = check_base_url(self.base_url, allow_insecure_http=self.allow_insecure_http)
        if self.session is None:
            self.session = requests.Session()
            self._owns_session = True
        self._logger = logging.getLogger(self.logger_name)
        self.stats.update(requests=0, retries=0, transport_errors=0)

    def url(self, path: str) -> str:
        """Join ``path`` (relative, or absolute when it starts with the service's scheme) to the base URL."""
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.base_url, path.lstrip("/"))

    def close(self) -> None:
        """Close the session if this object created it."""
        if self._owns_session and self.session is not None:
            self.session.close()

    def __enter__(self) -> HttpCore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        auth: requests.auth.AuthBase | bool | None = True,
    ) -> requests.Response:
        """Send one logical request (several attempts if the retry policy allows); return a 2xx response.

        Raises:
            TransportError: no response after the allowed attempts.
            ApiError: the final response had an error status (subclass by status).
        """
        assert self.session is not None
        method = method.upper()
        url = self.url(path)
        send_headers = {"Accept": "application/json", "User-Agent": user_agent()}
        if headers:
            send_headers.update(headers)
        request_auth = self.auth if auth is True else (auth or _NO_AUTH)
        # Waits are counted as planned as well as measured, so the deadline holds when sleeping is removed.
        clock = _Elapsed()
        attempt = 0
        while True:
            attempt += 1
            self.stats["requests"] += 1
            sent_at = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=send_headers,
                    auth=request_auth,
                    timeout=self.timeout.as_tuple(),
                    verify=self.verify,
                    cert=self.cert,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                self.stats["transport_errors"] += 1
                # The failed request's body may hold credentials (a token request's form); drop it from the
                # exception we chain, so error trackers that dump attributes cannot show it.
                failed_request, exc.request = exc.request, None
                failed_url = failed_request.url if failed_request is not None and failed_request.url else url
                shown = redact_url(failed_url if isinstance(failed_url, str) else url)
                self._logger.debug(
                    "%s %s failed after %.1f ms: %s",
                    method,
                    shown,
                    (time.monotonic() - sent_at) * 1000,
                    type(exc).__name__,
                )
                delay = self._next_delay(method, idempotent, None, None, attempt, clock)
                if delay is None:
                    raise TransportError(
                        f"{method} {shown}: no response ({type(exc).__name__}) after {attempt} attempt(s)",
                        method=method,
                        url=shown,
                    ) from exc
                self._pause(delay, clock)
                continue
            if self._logger.isEnabledFor(logging.DEBUG):
                self._logger.debug(
                    "%s %s -> %d in %.1f ms",
                    method,
                    redact_url(response.url or url),
                    response.status_code,
                    (time.monotonic() - sent_at) * 1000,
                )
            if response.status_code < 300:
                return response
            retry_after = parse_retry_after(response.headers)
            delay = self._next_delay(method, idempotent, response.status_code, retry_after, attempt, clock)
            if delay is None:
                error = error_from_response(response)
                response.close()
                raise error
            response.close()
            self._pause(delay, clock)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """`request`, then the decoded JSON body (``None`` for an empty 2xx body such as 204)."""
        response = self.request(
            method,
            path,
            params=params,
            json_body=json_body,
            data=data,
            headers=headers,
            idempotent=idempotent,
        )
        if response.status_code == 204 or not response.content:
            return None
        return decode_json(response)

    def _next_delay(
        self,
        method: str,
        idempotent: bool | None,
        status: int | None,
        retry_after: float | None,
        attempt: int,
        clock: _Elapsed,
    ) -> float | None:
        """Seconds to wait before another attempt, or ``None`` when no other attempt may be made."""
        policy = self.retry
        if attempt >= policy.max_attempts:
            return None
        if not policy.may_retry(method, idempotent=idempotent, status=status):
            return None
        delay = policy.backoff(attempt, retry_after)
        if policy.deadline is not None and clock.elapsed() + delay > policy.deadline:
            return None
        self.stats["retries"] += 1
        return delay

    def _pause(self, seconds: float, clock: _Elapsed) -> None:
        clock.waited += seconds
        if seconds > 0:
            self.retry.sleep(seconds)


class _Elapsed:
    """Time spent on one logical request: measured, but never less than the waits planned so far."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.waited = 0.0

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, self.waited)
