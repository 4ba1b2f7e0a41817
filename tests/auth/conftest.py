"""A small token + resource server for the auth tests, and the fixtures that serve it.

One WSGI app plays both vendors, as far as authentication goes:

- ServiceNow: ``POST /oauth_token.do`` (form body only, client id and secret in the body; password,
  refresh_token and client_credentials grants; refusals as the observed ``401 server_error /
  access_denied``) and a protected ``/api/now/...`` answering ``401`` with ServiceNow's envelope.
- IdentityNow: ``POST /oauth/token`` (client credentials from the form, the query string or a Basic
  header) and a protected ``/v3/...`` answering ``401 {"error": "JWT validation failed: ..."}``.

Time comes from a :class:`FakeClock` shared with the auth objects under test, so expiry is tested
without sleeping. Everything the server saw is recorded for the tests to inspect.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest

from sim_servicenow.http import RetryPolicy
from sim_servicenow.testing import DropConnection, ServedApp, serve


class FakeClock:
    """A settable UTC clock: call it for the time, :meth:`advance` it to let tokens expire."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Credentials:
    """The secrets the server accepts; the leak test looks for every one of them."""

    sn_client_id: str = "sn-client-4f1d"
    sn_client_secret: str = "sn-secret-Qm7w!p2Z"
    username: str = "svc.sailpoint"
    password: str = "pw-K8&d=q+3 z%Lr"
    idn_client_id: str = "idn-pat-77c2"
    idn_client_secret: str = "idn-secret-Xv9@Tt4e"

    def all_secrets(self) -> list[str]:
        return [self.sn_client_secret, self.password, self.idn_client_secret]


@dataclass
class TokenCall:
    endpoint: str
    grant_type: str | None
    form: dict[str, str]
    query: dict[str, str]
    content_type: str
    authorization: str | None
    status: int = 0


@dataclass
class ResourceCall:
    method: str
    path: str
    authorization: str | None
    body: bytes
    status: int = 0


@dataclass
class _Grant:
    subject: str
    client_id: str
    expires_at: datetime
    revoked: bool = False


_SN_401 = {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}}
_SN_DENIED = {"error_description": "access_denied", "error": "server_error"}

Response = tuple[int, list[tuple[str, str]], bytes]


def _json(status: int, payload: Any) -> Response:
    return status, [("Content-Type", "application/json;charset=UTF-8")], json.dumps(payload).encode()


@dataclass
class TokenServer:
    """The WSGI app. Public attributes are knobs the tests turn; lists record what was received."""

    clock: FakeClock
    creds: Credentials = field(default_factory=Credentials)
    #: ServiceNow access token lifetime (seconds) and whether ``expires_in`` is sent.
    lifetime: int = 1800
    send_expires_in: bool = True
    #: ServiceNow's refresh grant "returns only an access token"; set True to model rotation.
    rotate_refresh_tokens: bool = False
    refresh_lifetime: int = 100 * 24 * 3600
    client_credentials_enabled: bool = True
    idn_lifetime: int = 749
    #: Token endpoint faults: "html" (a hibernating instance's page), "drop" (no answer), or an HTTP status.
    token_fault: str | int | None = None
    #: Seconds each token request takes (to make concurrent callers overlap).
    token_delay: float = 0.0
    #: Answer 401 to every bearer token, valid or not.
    reject_bearer: bool = False
    token_calls: list[TokenCall] = field(default_factory=list)
    resource_calls: list[ResourceCall] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    _access: dict[str, _Grant] = field(default_factory=dict)
    _refresh: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- knobs and inspection -------------------------------------------------------------------

    def grants(self) -> list[str | None]:
        return [call.grant_type for call in self.token_calls]

    def issue_refresh_token(self) -> str:
        """A refresh token for the ServiceNow client and user, as a password grant made elsewhere would give."""
        with self._lock:
            return self._new_refresh(self.creds.username, self.creds.sn_client_id)

    def revoke_access_tokens(self) -> None:
        with self._lock:
            for grant in self._access.values():
                grant.revoked = True

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            for grant in self._refresh.values():
                grant.revoked = True

    def change_password(self, password: str) -> None:
        self.creds = Credentials(**{**self.creds.__dict__, "password": password})

    # -- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if method == "POST" and path in ("/oauth_token.do", "/oauth/token"):
            status, headers, payload = self._token(environ, path, body)
        elif path.startswith("/api/now/"):
            status, headers, payload = self._resource(environ, method, path, body, servicenow=True)
        elif path.startswith(("/v3/", "/beta/")):
            status, headers, payload = self._resource(environ, method, path, body, servicenow=False)
        else:
            status, headers, payload = _json(404, {"error": {"message": "Not found"}})
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
        return [payload]

    def _token(self, environ: dict[str, Any], path: str, body: bytes) -> Response:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        call = TokenCall(
            endpoint=path,
            grant_type=form.get("grant_type") or query.get("grant_type"),
            form=form,
            query=query,
            content_type=environ.get("CONTENT_TYPE", ""),
            authorization=environ.get("HTTP_AUTHORIZATION"),
        )
        with self._lock:
            self.token_calls.append(call)
        if self.token_delay:
            time.sleep(self.token_delay)
        if self.token_fault == "drop":
            raise DropConnection
        if self.token_fault == "html":
            page = b"<html><head><title>Instance Hibernating page</title></head><body>Sign in to wake it</body></html>"
            result: Response = (200, [("Content-Type", "text/html;charset=UTF-8")], page)
        elif isinstance(self.token_fault, int):
            result = _json(self.token_fault, {"error": "temporarily_unavailable"})
        elif path == "/oauth_token.do":
            result = self._servicenow_token(call)
        else:
            result = self._identitynow_token(call)
        call.status = result[0]
        return result

    def _servicenow_token(self, call: TokenCall) -> Response:
        creds = self.creds
        if not call.content_type.startswith("application/x-www-form-urlencoded"):
            return _json(400, {"error": "invalid_request", "error_description": "unsupported content type"})
        if call.query:  # glide.oauth.allow.parameters.in.post.body.only
            return _json(400, {"error": "invalid_request", "error_description": "parameters must be in the body"})
        # Client credentials are read from the body only, as ServiceNow documents; a Basic header is ignored.
        if call.form.get("client_id") != creds.sn_client_id or call.form.get("client_secret") != creds.sn_client_secret:
            return _json(401, _SN_DENIED)
        grant = call.grant_type
        with self._lock:
            if grant == "password":
                if call.form.get("username") != creds.username or call.form.get("password") != creds.password:
                    return _json(401, _SN_DENIED)
                access = self._new_access(creds.username, creds.sn_client_id, self.lifetime)
                refresh: str | None = self._new_refresh(creds.username, creds.sn_client_id)
            elif grant == "refresh_token":
                record = self._refresh.get(call.form.get("refresh_token", ""))
                if record is None or record.revoked or record.expires_at <= self.clock():
                    return _json(401, _SN_DENIED)
                access = self._new_access(record.subject, record.client_id, self.lifetime)
                refresh = self._new_refresh(record.subject, record.client_id) if self.rotate_refresh_tokens else None
            elif grant == "client_credentials":
                if not self.client_credentials_enabled:
                    return _json(401, _SN_DENIED)
                access = self._new_access("oauth.app.user", creds.sn_client_id, self.lifetime)
                refresh = None
            else:
                return _json(400, {"error": "unsupported_grant_type"})
        payload: dict[str, Any] = {"scope": "useraccount", "token_type": "Bearer", "access_token": access}
        if self.send_expires_in:
            payload["expires_in"] = self.lifetime
        if refresh is not None:
            payload["refresh_token"] = refresh
        return _json(200, payload)

    def _identitynow_token(self, call: TokenCall) -> Response:
        creds = self.creds
        params = {**call.query, **call.form}  # IdentityNow takes form data or the query string
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if call.authorization and call.authorization.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(call.authorization[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return _json(400, {"error": "invalid_request"})
        if params.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})
        if client_id != creds.idn_client_id or client_secret != creds.idn_client_secret:
            return _json(401, {"error": "invalid_client", "error_description": "Bad credentials"})
        with self._lock:
            access = self._new_access("jane.doe", creds.idn_client_id, self.idn_lifetime)
        return _json(
            200,
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": self.idn_lifetime,
                "scope": params.get("scope") or "sp:scopes:all",
                "tenant_id": "3e1c0d5b-0000-4000-8000-000000000001",
                "pod": "stg01-useast1",
                "org": "acme",
                "identity_id": "2c9180835d2e5168015d32f890ca1581",
                "user_id": "2c9180835d2e5168015d32f890ca1581",
                "jti": secrets.token_hex(8),
            },
        )

    def _resource(self, environ: dict[str, Any], method: str, path: str, body: bytes, *, servicenow: bool) -> Response:
        authorization = environ.get("HTTP_AUTHORIZATION")
        call = ResourceCall(method, path, authorization, body)
        with self._lock:
            self.resource_calls.append(call)
            subject, why = self._authenticate(authorization, basic_allowed=servicenow)
        if subject is None:
            result = _json(
                401, _SN_401 | {"status": "failure"} if servicenow else {"error": f"JWT validation failed: {why}"}
            )
        elif path.endswith("/acl-denied"):
            result = _json(
                403, {"error": {"message": "Operation Failed", "detail": "ACL Exception"}, "status": "failure"}
            )
        elif servicenow:
            result = _json(200, {"result": {"user": subject, "method": method, "body": body.decode("utf-8")}})
        else:
            result = _json(200, [{"id": "2c9180835d191a86015d28455b4a2329", "name": "Active Directory"}])
        call.status = result[0]
        return result

    def _authenticate(self, authorization: str | None, *, basic_allowed: bool) -> tuple[str | None, str]:
        if authorization is None:
            return None, "no token"
        scheme, _, value = authorization.partition(" ")
        if scheme == "Bearer":
            grant = self._access.get(value)
            if grant is None:
                return None, "unknown token"
            if self.reject_bearer or grant.revoked or grant.expires_at <= self.clock():
                return None, "JWT is expired"
            return grant.subject, ""
        if scheme == "Basic" and basic_allowed:
            username, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            if username == self.creds.username and password == self.creds.password:
                return username, ""
        return None, "unsupported authorization"

    def _new_access(self, subject: str, client_id: str, lifetime: int) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self._access[token] = _Grant(subject, client_id, self.clock() + timedelta(seconds=lifetime))
        self.issued.append(token)
        return token

    def _new_refresh(self, subject: str, client_id: str) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        self._refresh[token] = _Grant(subject, client_id, self.clock() + timedelta(seconds=self.refresh_lifetime))
        self.issued.append(token)
        return token


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def creds() -> Credentials:
    return Credentials()


@pytest.fixture
def server(clock: FakeClock, creds: Credentials) -> TokenServer:
    return TokenServer(clock=clock, creds=creds)


@pytest.fixture
def served(server: TokenServer) -> Iterator[ServedApp]:
    with serve(server) as app:
        yield app


@pytest.fixture
def options(clock: FakeClock) -> dict[str, Any]:
    """Options every auth object under test gets: the shared clock, and no retries unless a test asks."""
    return {"clock": clock, "retry": RetryPolicy.never()}
