"""OAuth 2.0 auth objects: tokens obtained, cached, renewed before they expire, and renewed once on a 401.

authlib encodes the token requests (RFC 6749 request parameters and client authentication); the
token lifecycle is ours, because authlib's requests integration has sharp edges we must not inherit
(see ``docs/auth.md``): it has no lock (8 threads, 8 token calls), re-fetches client-credentials
tokens only when ``grant_type`` was given to its constructor, treats a token without ``expires_at``
as never expiring, cannot fall back to the password grant when a refresh token is refused
(authlib#532), and does nothing on a 401. Every token request goes through `HttpCore`, so
timeouts, TLS settings, retries, logging and error mapping are the same as for API calls.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from urllib.parse import urlsplit

import attrs
import requests
import requests.auth
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from .._errors import ApiError, AuthenticationError, ConfigError, DecodeError, ValidationProblem
from ..http import HttpCore, RetryPolicy, Timeout, check_base_url, decode_json, redact_url
from ._static import is_header_safe
from ._token import TokenInfo, parse_expires_in, renewal_time

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ClientAuthMethod",
    "OAuth2ClientCredentials",
    "OAuth2Options",
    "OAuth2PasswordGrant",
    "OAuth2RefreshToken",
]

logger = logging.getLogger("sim_servicenow.auth")

#: How the client id and secret reach the token endpoint: in the form body (what ServiceNow documents,
#: and IdentityNow accepts) or in an ``Authorization: Basic`` header.
ClientAuthMethod = Literal["client_secret_post", "client_secret_basic"]

# URL paths, not secrets:
SERVICENOW_TOKEN_PATH = "/oauth_token.do"  # noqa: S105
IDENTITYNOW_TOKEN_PATH = "/oauth/token"  # noqa: S105
_VERSION_SEGMENT = re.compile(r"v\d+|beta", re.IGNORECASE)
_REFUSED_STATUSES = frozenset({400, 401})


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _token_retry() -> RetryPolicy:
    # A token request holds up every thread waiting for the token: retry briefly, then report.
    return RetryPolicy(max_attempts=3, deadline=60.0)


class OAuth2Options(TypedDict, total=False):
    """Keyword options shared by every OAuth 2.0 auth class and its ``for_*`` constructors.

    Attributes:
        scope: scopes to request, space separated (IdentityNow, e.g. ``"sp:scopes:all"``); ``None`` asks
            for the client's default. ServiceNow ignores it.
        client_auth_method: ``"client_secret_post"`` (default: client id and secret in the form body, as
            ServiceNow documents) or ``"client_secret_basic"`` (an ``Authorization: Basic`` header).
        refresh_margin: renew the token this many seconds before it expires (default 60); never more than
            half the token's lifetime, so very short tokens still work.
        default_expires_in: the lifetime in seconds assumed when a token response has no usable
            ``expires_in`` (default 1800, ServiceNow's default lifespan). A token never lives "forever".
        on_token: called with the new `TokenInfo` after every token request, to let the caller
            persist it; the library itself writes nothing anywhere. It runs while other threads wait for
            the token, so it must be quick and must not send requests with the same auth object.
        token: a previously saved `TokenInfo` to use until it is due for renewal.
        session: the `requests.Session` for token requests (default: a new one, closed by ``close()``).
        timeout: connect and read timeouts of token requests.
        retry: the `RetryPolicy` of token requests (default: 3 attempts within 60 s); transient
            failures (no response, 429, 502-504) are retried, refusals never.
        verify: TLS verification of the token endpoint: ``True`` or the path of a CA bundle.
        cert: a client certificate for mutual TLS: a path, or ``(cert, key)`` paths.
        allow_insecure_http: permit a plain ``http://`` token URL to a host other than loopback.
        clock: returns the current UTC time; replace it in tests to move time without sleeping.
    """

    scope: str | None
    client_auth_method: ClientAuthMethod
    refresh_margin: float
    default_expires_in: float
    on_token: Callable[[TokenInfo], object] | None
    token: TokenInfo | None
    session: requests.Session | None
    timeout: Timeout
    retry: RetryPolicy
    verify: bool | str
    cert: str | tuple[str, str] | None
    allow_insecure_http: bool
    clock: Callable[[], datetime]


@attrs.frozen
class _Cached:
    token: TokenInfo
    renew_at: datetime


class _TokenState:
    """The mutable part of an auth object: the cached token, the lock guarding it, and counters."""

    __slots__ = ("cached", "lock", "resends", "token_requests")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cached: _Cached | None = None
        self.token_requests = 0
        self.resends = 0


class _SendAsIs(requests.auth.AuthBase):
    """Auth for token requests: overrides a session-wide ``auth`` so the request goes out as prepared.

    Without it, a session whose ``auth`` is this very object would call back into it while it holds
    its lock (a deadlock), and any other session ``auth`` would replace the client credentials.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_SEND_AS_IS = _SendAsIs()


def _nothing() -> None:
    return None


def _rewinder(body: object) -> Callable[[], None] | None:
    """A callable that puts ``body`` back where it was, so it can be sent again; ``None`` if it cannot be."""
    if body is None or isinstance(body, (bytes, str)):
        return _nothing
    seek = getattr(body, "seek", None)
    tell = getattr(body, "tell", None)
    if seek is None or tell is None:
        return None  # a generator or a pipe: consumed by the first attempt
    try:
        position = tell()
    except OSError:
        return None
    return lambda: seek(position)


def _scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***`` (servers sometimes echo what they were sent)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def servicenow_token_url(instance_url: str) -> str:
    """``https://<instance>.service-now.com/oauth_token.do`` for an instance URL."""
    return instance_url.rstrip("/") + SERVICENOW_TOKEN_PATH


def identitynow_token_url(tenant_api_url: str) -> str:
    """``https://<tenant>.api.identitynow.com/oauth/token`` for a tenant's API root.

    Raises:
        ConfigError: the URL ends in an API version (``/v3``, ``/beta``): the token endpoint is not under it.
    """
    last_segment = urlsplit(tenant_api_url).path.rstrip("/").rsplit("/", 1)[-1]
    if _VERSION_SEGMENT.fullmatch(last_segment):
        raise ConfigError(
            "invalid tenant URL",
            [
                ValidationProblem(
                    "tenant_api_url",
                    f"pass the tenant's API root without /{last_segment}, e.g. https://acme.api.identitynow.com",
                )
            ],
        )
    return tenant_api_url.rstrip("/") + IDENTITYNOW_TOKEN_PATH


@attrs.frozen(eq=False)
class _OAuth2Auth(requests.auth.AuthBase):
    """Token cache, single-flight renewal, the 401 hook and token requests; subclasses choose the grant."""

    token_url: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    scope: str | None = attrs.field(default=None, kw_only=True, repr=False)
    client_auth_method: ClientAuthMethod = attrs.field(default="client_secret_post", kw_only=True, repr=False)
    refresh_margin: float = attrs.field(default=60.0, kw_only=True, repr=False)
    default_expires_in: float = attrs.field(default=1800.0, kw_only=True, repr=False)
    on_token: Callable[[TokenInfo], object] | None = attrs.field(default=None, kw_only=True, repr=False)
    _seed: TokenInfo | None = attrs.field(default=None, kw_only=True, repr=False, alias="token")
    session: requests.Session | None = attrs.field(default=None, kw_only=True, repr=False)
    timeout: Timeout = attrs.field(factory=Timeout, kw_only=True, repr=False)
    retry: RetryPolicy = attrs.field(factory=_token_retry, kw_only=True, repr=False)
    verify: bool | str = attrs.field(default=True, kw_only=True, repr=False)
    cert: str | tuple[str, str] | None = attrs.field(default=None, kw_only=True, repr=False)
    allow_insecure_http: bool = attrs.field(default=False, kw_only=True, repr=False)
    clock: Callable[[], datetime] = attrs.field(default=_utc_now, kw_only=True, repr=False)
    _state: _TokenState = attrs.field(init=False, factory=_TokenState, repr=False)
    _core: HttpCore = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError(f"invalid {type(self).__name__} settings", problems)
        core = HttpCore(
            base_url=self.token_url,
            session=self.session,
            timeout=self.timeout,
            retry=self.retry,
            verify=self.verify,
            cert=self.cert,
            allow_insecure_http=self.allow_insecure_http,
            logger_name=logger.name,
        )
        object.__setattr__(self, "_core", core)
        if self._seed is not None:
            self._state.cached = self._cache(self._seed)

    # -- public surface ---------------------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        """How many requests were sent to the token endpoint (successful or not)."""
        return self._state.token_requests

    @property
    def resends(self) -> int:
        """How many requests were re-sent with a renewed token after a ``401``."""
        return self._state.resends

    def get_token(self) -> TokenInfo:
        """The current token, obtained or renewed first if it is missing or due (e.g. to check credentials).

        Raises:
            AuthenticationError: the token endpoint refused the credentials.
            TransportError: the token endpoint did not answer.
            DecodeError: the token endpoint answered something other than a JSON token.
        """
        return self._valid_token()

    def close(self) -> None:
        """Close the token endpoint's session if this object created it."""
        self._core.close()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._valid_token()
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        rewind = _rewinder(request.body)
        if rewind is not None:
            request.register_hook("response", self._resend_once_on_401(token.access_token, rewind))
        return request

    # -- the grant, chosen by each subclass -------------------------------------------------------

    def _grant(self, current: TokenInfo | None) -> TokenInfo:
        """Obtain a new token; ``current`` is the token being replaced, if any. Called under the lock."""
        raise NotImplementedError

    def _extra_problems(self) -> list[ValidationProblem]:
        return []

    def _extra_secrets(self) -> list[str]:
        return []

    # -- token cache --------------------------------------------------------------------------------

    def _cache(self, token: TokenInfo) -> _Cached:
        return _Cached(token, renewal_time(self.clock(), token.expires_at, self.refresh_margin))

    def _valid_token(self) -> TokenInfo:
        state = self._state
        cached = state.cached
        if cached is not None and self.clock() < cached.renew_at:
            return cached.token
        with state.lock:  # single flight: threads arriving meanwhile wait, then find the new token
            cached = state.cached
            if cached is None:
                cached = self._renew_locked(None)
            elif self.clock() >= cached.renew_at:
                logger.debug("token due for renewal (expires %s)", cached.token.expires_at.isoformat())
                cached = self._renew_locked(cached.token)
            return cached.token

    def _renew_locked(self, current: TokenInfo | None) -> _Cached:
        token = self._grant(current)
        cached = self._cache(token)
        self._state.cached = cached
        if self.on_token is not None:
            self.on_token(token)
        return cached

    # -- 401 handling -------------------------------------------------------------------------------

    def _resend_once_on_401(self, sent_token: str, rewind: Callable[[], None]) -> Callable[..., requests.Response]:
        def resend_once_on_401(response: requests.Response, **send_kwargs: Any) -> requests.Response:
            connection = getattr(response, "connection", None)
            if response.status_code != 401 or connection is None:
                return response
            first = response.request
            _ = response.content  # read the body so the connection can be reused for the re-send
            response.close()
            token = self._renew_after_401(sent_token, first.method or "?", response.url or first.url or "")
            rewind()
            again = first.copy()
            again.headers["Authorization"] = f"Bearer {token.access_token}"
            second: requests.Response = connection.send(again, **send_kwargs)
            second.history.append(response)
            second.request = again
            return second

        return resend_once_on_401

    def _renew_after_401(self, sent_token: str, method: str, url: str) -> TokenInfo:
        state = self._state
        with state.lock:
            cached = state.cached
            if cached is None or cached.token.access_token == sent_token:
                logger.debug("%s %s -> 401; renewing the token and re-sending once", method, redact_url(url))
                cached = self._renew_locked(cached.token if cached is not None else None)
            else:
                logger.debug("%s %s -> 401; the token was renewed meanwhile; re-sending once", method, redact_url(url))
            state.resends += 1
            return cached.token

    # -- token requests -----------------------------------------------------------------------------

    def _request_token(self, grant_type: str, *, keep_refresh_token: str | None = None, **params: str) -> TokenInfo:
        """Send one token request for ``grant_type``; return the token it granted.

        ``keep_refresh_token`` is kept when the response carries no refresh token (ServiceNow's
        refresh grant "returns only an access token").
        """
        body = prepare_token_request(grant_type, scope=self.scope, **params)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        _, headers, body = ClientAuth(self.client_id, self.client_secret, self.client_auth_method).prepare(
            "POST", self.token_url, headers, body
        )
        self._state.token_requests += 1
        refusal: ApiError | None = None
        try:
            response = self._core.request(
                "POST", self.token_url, data=body, headers=headers, auth=_SEND_AS_IS, idempotent=True
            )
        except ApiError as exc:
            if exc.status not in _REFUSED_STATUSES:
                raise
            refusal = exc
        if refusal is not None:
            # Not chained: the original's message and body are the server's, unscrubbed.
            raise self._refused(
                grant_type, refusal.status, refusal.url, refusal.message, refusal.detail, refusal.tracking_id
            )
        payload = self._decode(response)
        error = payload.get("error")
        if error:
            description = payload.get("error_description")
            raise self._refused(
                grant_type,
                response.status_code,
                redact_url(response.url or self.token_url),
                str(error),
                str(description) if description else None,
                None,
            )
        return self._token_from(grant_type, payload, response, keep_refresh_token)

    def _decode(self, response: requests.Response) -> Mapping[str, Any]:
        url = redact_url(response.url or self.token_url)
        content_type = response.headers.get("Content-Type")
        try:
            payload = decode_json(response)
            decoded = True
        except DecodeError:
            decoded = False
        if not decoded:
            # Raised outside the except block on purpose: decode_json's error quotes the body, and the JSON
            # parser's error keeps all of it (``.doc``), which could be a token sent in another format.
            raise DecodeError(
                f"POST {url} -> {response.status_code}: expected a JSON token response, "
                f"got {content_type or 'no content type'}",
                status=response.status_code,
                method="POST",
                url=url,
                content_type=content_type,
            )
        if not isinstance(payload, Mapping):
            raise DecodeError(
                f"POST {url} -> {response.status_code}: expected a JSON object, got {type(payload).__name__}",
                status=response.status_code,
                method="POST",
                url=url,
                content_type=content_type,
            )
        return payload

    def _token_from(
        self,
        grant_type: str,
        payload: Mapping[str, Any],
        response: requests.Response,
        keep_refresh_token: str | None,
    ) -> TokenInfo:
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not is_header_safe(access_token):
            url = redact_url(response.url or self.token_url)
            raise DecodeError(
                f"POST {url} -> {response.status_code}: the token response has no usable access_token",
                status=response.status_code,
                method="POST",
                url=url,
                content_type=response.headers.get("Content-Type"),
            )
        lifetime = parse_expires_in(payload.get("expires_in"))
        assumed = lifetime is None
        if lifetime is None:
            lifetime = self.default_expires_in
        refresh_token = payload.get("refresh_token")
        scope = payload.get("scope")
        token_type = payload.get("token_type")
        token = TokenInfo(
            access_token=access_token,
            expires_at=self.clock() + timedelta(seconds=lifetime),
            refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else keep_refresh_token,
            scope=scope if isinstance(scope, str) else None,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        )
        logger.debug(
            "token fetched (grant=%s, expires in %d s%s)",
            grant_type,
            round(lifetime),
            ", assumed: the response had no usable expires_in" if assumed else "",
        )
        return token

    def _refused(
        self,
        grant_type: str,
        status: int,
        url: str,
        message: str,
        detail: str | None,
        tracking_id: str | None,
    ) -> AuthenticationError:
        secrets = self._secrets()
        text = f"{grant_type} grant refused" + (f": {message}" if message else "")
        return AuthenticationError(
            status=status,
            method="POST",
            url=url,
            message=_scrub(text, secrets),
            detail=_scrub(detail, secrets) if detail else None,
            tracking_id=tracking_id,
        )

    def _secrets(self) -> list[str]:
        secrets = [self.client_secret, *self._extra_secrets()]
        cached = self._state.cached
        if cached is not None:
            secrets.append(cached.token.access_token)
            if cached.token.refresh_token:
                secrets.append(cached.token.refresh_token)
        return secrets

    def _problems(self) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        try:
            check_base_url(self.token_url, allow_insecure_http=self.allow_insecure_http, what="token_url")
        except ConfigError as exc:
            problems.extend(exc.problems)
        if not self.client_id:
            problems.append(ValidationProblem("client_id", "must not be empty"))
        if not self.client_secret:
            problems.append(ValidationProblem("client_secret", "must not be empty"))
        if self.client_auth_method not in ("client_secret_post", "client_secret_basic"):
            problems.append(
                ValidationProblem("client_auth_method", "expected 'client_secret_post' or 'client_secret_basic'")
            )
        elif self.client_auth_method == "client_secret_basic":
            try:
                f"{self.client_id}:{self.client_secret}".encode("latin-1")
            except UnicodeEncodeError:
                problems.append(
                    ValidationProblem(
                        "client_auth_method",
                        "client_secret_basic needs Latin-1 client credentials; use client_secret_post",
                    )
                )
        if not 0 <= self.refresh_margin < float("inf"):
            problems.append(ValidationProblem("refresh_margin", "must be a finite number of seconds >= 0"))
        if not 0 < self.default_expires_in < float("inf"):
            problems.append(ValidationProblem("default_expires_in", "must be a finite number of seconds > 0"))
        problems.extend(self._extra_problems())
        return problems


@attrs.frozen(eq=False)
class OAuth2ClientCredentials(_OAuth2Auth):
    """The client-credentials grant: IdentityNow personal access tokens, and ServiceNow where enabled.

    A new token is requested when the cached one is due, and once after a ``401``. One line for the
    common case:

    ```python
    auth = OAuth2ClientCredentials.for_identitynow("https://acme.api.identitynow.com", pat_id, pat_secret)
    ```

    ServiceNow accepts this grant only when the instance enables it (system property
    ``glide.oauth.inbound.client.credential.grant_type.enabled`` and an OAuth application user).

    Attributes:
        token_url: the token endpoint (any URL; see `for_identitynow` and `for_servicenow`).
        client_id: the OAuth client id (for a personal access token, its client id).
        client_secret: the OAuth client secret; hidden from ``repr``.

    Every keyword option is described in [OAuth2Options][sim_servicenow.auth.OAuth2Options].
    """

    def _grant(self, current: TokenInfo | None) -> TokenInfo:
        return self._request_token("client_credentials")

    @classmethod
    def for_identitynow(
        cls, tenant_api_url: str, client_id: str, client_secret: str, **options: Unpack[OAuth2Options]
    ) -> OAuth2ClientCredentials:
        """Client credentials against IdentityNow's ``<tenant_api_url>/oauth/token``.

        Args:
            tenant_api_url: the tenant's API root, e.g. ``https://acme.api.identitynow.com`` (no ``/v3``).
            client_id: the personal access token's client id.
            client_secret: the personal access token's secret.
            **options: any of [OAuth2Options][sim_servicenow.auth.OAuth2Options].
        """
        return cls(identitynow_token_url(tenant_api_url), client_id, client_secret, **options)

    @classmethod
    def for_servicenow(
        cls, instance_url: str, client_id: str, client_secret: str, **options: Unpack[OAuth2Options]
    ) -> OAuth2ClientCredentials:
        """Client credentials against ServiceNow's ``<instance_url>/oauth_token.do``.

        Args:
            instance_url: the instance, e.g. ``https://dev12345.service-now.com``.
            client_id: the OAuth application's client id.
            client_secret: the OAuth application's client secret.
            **options: any of [OAuth2Options][sim_servicenow.auth.OAuth2Options].
        """
        return cls(servicenow_token_url(instance_url), client_id, client_secret, **options)


@attrs.frozen(eq=False)
class OAuth2PasswordGrant(_OAuth2Auth):
    """ServiceNow's password grant, renewed with the refresh token it returns.

    The first token comes from the password grant. When it is due (or after a ``401``) the refresh
    grant is tried first; if the server refuses the refresh token (``400`` or ``401``: expired,
    revoked), a new password grant is made. The password is therefore kept for the object's life.

    Attributes:
        token_url: the token endpoint (see `for_servicenow`).
        client_id: the OAuth application's client id.
        client_secret: the OAuth application's client secret; hidden from ``repr``.
        username: the integration user.
        password: the integration user's password; hidden from ``repr``.

    Every keyword option is described in [OAuth2Options][sim_servicenow.auth.OAuth2Options].
    """

    username: str
    password: str = attrs.field(repr=False)

    def _grant(self, current: TokenInfo | None) -> TokenInfo:
        if current is not None and current.refresh_token:
            try:
                return self._request_token(
                    "refresh_token", keep_refresh_token=current.refresh_token, refresh_token=current.refresh_token
                )
            except AuthenticationError as exc:
                logger.debug("refresh token refused (%d: %s); falling back to the password grant", exc.status, exc)
        return self._request_token("password", username=self.username, password=self.password)

    def _extra_problems(self) -> list[ValidationProblem]:
        problems = []
        if not self.username:
            problems.append(ValidationProblem("username", "must not be empty"))
        if not self.password:
            problems.append(ValidationProblem("password", "must not be empty"))
        return problems

    def _extra_secrets(self) -> list[str]:
        return [self.password]

    @classmethod
    def for_servicenow(
        cls,
        instance_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        **options: Unpack[OAuth2Options],
    ) -> OAuth2PasswordGrant:
        """The password grant against ServiceNow's ``<instance_url>/oauth_token.do``.

        Args:
            instance_url: the instance, e.g. ``https://dev12345.service-now.com``.
            client_id: the OAuth application's client id.
            client_secret: the OAuth application's client secret.
            username: the integration user.
            password: the integration user's password.
            **options: any of [OAuth2Options][sim_servicenow.auth.OAuth2Options].
        """
        return cls(servicenow_token_url(instance_url), client_id, client_secret, username, password, **options)


@attrs.frozen(eq=False)
class OAuth2RefreshToken(_OAuth2Auth):
    """ServiceNow's "Refresh Token" grant type, as SailPoint's integration offers it.

    Access tokens are obtained with a refresh token issued earlier (for instance by one password-grant
    call); no password is stored. If the server answers with a new refresh token, it is used from then
    on and reported to ``on_token``: persist it there, or the next run starts from the old one. A
    refused refresh token is final (`AuthenticationError`): a new one must be issued.

    Attributes:
        token_url: the token endpoint (see `for_servicenow`).
        client_id: the OAuth application's client id.
        client_secret: the OAuth application's client secret; hidden from ``repr``.
        refresh_token: the refresh token to start from; hidden from ``repr``. A ``token=`` option
            carrying a refresh token takes precedence (it is the newer one).

    Every keyword option is described in [OAuth2Options][sim_servicenow.auth.OAuth2Options].
    """

    refresh_token: str = attrs.field(repr=False)

    def _grant(self, current: TokenInfo | None) -> TokenInfo:
        refresh_token = current.refresh_token if current is not None and current.refresh_token else None
        refresh_token = refresh_token or self.refresh_token
        return self._request_token("refresh_token", keep_refresh_token=refresh_token, refresh_token=refresh_token)

    def _extra_problems(self) -> list[ValidationProblem]:
        if not self.refresh_token:
            return [ValidationProblem("refresh_token", "must not be empty")]
        return []

    def _extra_secrets(self) -> list[str]:
        return [self.refresh_token]

    @classmethod
    def for_servicenow(
        cls,
        instance_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        **options: Unpack[OAuth2Options],
    ) -> OAuth2RefreshToken:
        """The refresh-token grant against ServiceNow's ``<instance_url>/oauth_token.do``.

        Args:
            instance_url: the instance, e.g. ``https://dev12345.service-now.com``.
            client_id: the OAuth application's client id.
            client_secret: the OAuth application's client secret.
            refresh_token: a refresh token issued for this client.
            **options: any of [OAuth2Options][sim_servicenow.auth.OAuth2Options].
        """
        return cls(servicenow_token_url(instance_url), client_id, client_secret, refresh_token, **options)
