"""A whole run with known secrets: no password, client secret, access or refresh token in any DEBUG log
record, any repr, or any exception string (including chained causes)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sim_servicenow.auth import (
    BasicAuth,
    BearerToken,
    OAuth2ClientCredentials,
    OAuth2PasswordGrant,
    OAuth2RefreshToken,
    TokenInfo,
)
from sim_servicenow.errors import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    SimServiceNowError,
    TransportError,
)
from sim_servicenow.http import HttpCore, RetryPolicy
from sim_servicenow.testing import ServedApp


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def test_no_secret_in_logs_reprs_or_errors(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, urllib3's, requests'
    shown: list[str] = []
    errors: list[BaseException] = []
    tokens: list[TokenInfo] = []

    def expect_error(kind: type[SimServiceNowError], action: Callable[[], object]) -> None:
        with pytest.raises(kind) as caught:
            action()
        errors.append(caught.value)

    sn = dict(options, on_token=tokens.append)
    password = OAuth2PasswordGrant.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **sn
    )
    refresh = OAuth2RefreshToken.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, server.issue_refresh_token(), **sn
    )
    client_credentials = OAuth2ClientCredentials.for_identitynow(
        served.url, creds.idn_client_id, creds.idn_client_secret, **sn
    )
    basic = BasicAuth(creds.username, creds.password)
    cores = {
        name: HttpCore(served.url, auth=auth, retry=RetryPolicy.never())
        for name, auth in [("password", password), ("refresh", refresh), ("cc", client_credentials), ("basic", basic)]
    }

    # Happy paths, renewal by time, renewal after a 401, the password-grant fallback.
    for name in ("password", "refresh", "basic"):
        cores[name].request_json("POST", "/api/now/table/incident", json_body={"short_description": "x"})
    cores["cc"].request_json("GET", "/v3/sources")
    clock.advance(1800)
    server.revoke_access_tokens()
    cores["password"].request_json("GET", "/api/now/table/incident")
    cores["cc"].request_json("GET", "/v3/sources")
    server.revoke_refresh_tokens()
    clock.advance(1800)
    cores["password"].request_json("GET", "/api/now/table/incident")
    bearer = BearerToken(tokens[-1].access_token)
    HttpCore(served.url, auth=bearer, retry=RetryPolicy.never()).request_json("GET", "/api/now/table/incident")

    # Failures: refusals of each grant, a rejected token after one re-send, a 401 to Basic, HTML, no answer.
    expect_error(AuthenticationError, lambda: cores["refresh"].request("GET", "/api/now/table/incident"))
    expect_error(
        AuthenticationError,
        lambda: OAuth2ClientCredentials.for_identitynow(
            served.url, creds.idn_client_id, creds.sn_client_secret, **options
        ).get_token(),
    )
    server.reject_bearer = True
    expect_error(AuthenticationError, lambda: cores["password"].request("GET", "/api/now/table/incident"))
    expect_error(AuthenticationError, lambda: cores["cc"].request("GET", "/v3/sources"))
    server.reject_bearer = False
    expect_error(
        AuthenticationError,
        lambda: HttpCore(served.url, auth=BasicAuth(creds.username, creds.sn_client_secret)).request(
            "GET", "/api/now/table/incident"
        ),
    )
    server.change_password("changed-by-the-admin")  # the password grant now refuses ours
    server.revoke_refresh_tokens()
    clock.advance(1800)
    expect_error(AuthenticationError, password.get_token)
    server.token_fault = "html"
    expect_error(
        DecodeError,
        lambda: OAuth2PasswordGrant.for_servicenow(
            served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **options
        ).get_token(),
    )
    server.token_fault = "drop"
    clock.advance(1800)
    expect_error(TransportError, client_credentials.get_token)
    expect_error(
        ConfigError,
        lambda: OAuth2PasswordGrant(
            "http://sn.example.com/oauth_token.do", creds.sn_client_id, creds.sn_client_secret, creds.username, ""
        ),
    )
    expect_error(ConfigError, lambda: TokenInfo.from_dict({"access_token": tokens[0].access_token}))

    shown += [repr(x) for x in (password, refresh, client_credentials, basic, bearer, *tokens, *cores.values())]
    shown += [str(x) for x in (password, refresh, client_credentials, basic, bearer, *tokens)]
    for error in errors:
        for link in chain(error):
            shown += [str(link), repr(link), repr(getattr(link, "__dict__", {}))]

    secrets = creds.all_secrets() + server.issued
    assert len(errors) == 10
    assert len(server.issued) >= 8
    assert len(tokens) >= 6
    assert any(r.name == "sim_servicenow.auth" for r in caplog.records)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for text in shown:
            assert secret not in text, text
