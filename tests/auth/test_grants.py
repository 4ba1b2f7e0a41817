"""Each OAuth grant against the token server: happy paths, caching, renewal, fallback, persistence."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_servicenow.auth import (
    BasicAuth,
    OAuth2ClientCredentials,
    OAuth2PasswordGrant,
    OAuth2RefreshToken,
    TokenInfo,
)
from sim_servicenow.errors import AuthenticationError
from sim_servicenow.testing import ServedApp, mount


def password_grant(served: ServedApp, creds: Any, options: dict[str, Any], **extra: Any) -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **{**options, **extra}
    )


def get(served: ServedApp, auth: requests.auth.AuthBase, path: str = "/api/now/table/incident") -> requests.Response:
    with requests.Session() as session:
        return session.get(served.url + path, auth=auth, timeout=5)


# -- happy paths ----------------------------------------------------------------------------------


def test_password_grant_happy_path(served: ServedApp, server: Any, creds: Any, options: dict[str, Any]) -> None:
    auth = password_grant(served, creds, options)
    response = get(served, auth)
    assert response.status_code == 200
    assert response.json()["result"]["user"] == creds.username
    assert server.grants() == ["password"]
    assert auth.token_requests == 1


def test_identitynow_client_credentials_happy_path(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2ClientCredentials.for_identitynow(
        served.url, creds.idn_client_id, creds.idn_client_secret, scope="sp:scopes:all", **options
    )
    response = get(served, auth, "/v3/sources")
    assert response.status_code == 200
    assert response.json()[0]["name"] == "Active Directory"
    (call,) = server.token_calls
    assert call.endpoint == "/oauth/token"
    assert call.form["grant_type"] == "client_credentials"
    assert call.form["scope"] == "sp:scopes:all"
    token = auth.get_token()
    assert token.token_type == "bearer"  # IdentityNow's spelling is kept; the header always says Bearer
    assert token.scope == "sp:scopes:all"
    assert token.refresh_token is None
    assert token.expires_at == clock() + timedelta(seconds=749)
    assert response.request.headers["Authorization"] == f"Bearer {token.access_token}"


def test_servicenow_client_credentials_where_enabled(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2ClientCredentials.for_servicenow(served.url, creds.sn_client_id, creds.sn_client_secret, **options)
    assert get(served, auth).status_code == 200
    assert server.token_calls[0].endpoint == "/oauth_token.do"
    server.client_credentials_enabled = False  # the instance property is off: the grant is refused
    disabled = OAuth2ClientCredentials.for_servicenow(served.url, creds.sn_client_id, creds.sn_client_secret, **options)
    with pytest.raises(AuthenticationError) as caught:
        disabled.get_token()
    assert caught.value.status == 401
    assert "client_credentials grant refused: server_error" in str(caught.value)


def test_refresh_token_grant_happy_path(served: ServedApp, server: Any, creds: Any, options: dict[str, Any]) -> None:
    refresh_token = server.issue_refresh_token()
    auth = OAuth2RefreshToken.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, refresh_token, **options
    )
    assert get(served, auth).json()["result"]["user"] == creds.username
    assert server.grants() == ["refresh_token"]
    assert server.token_calls[0].form["refresh_token"] == refresh_token
    assert "password" not in server.token_calls[0].form


@pytest.mark.timeout(20)  # were the token request to go through session.auth, this would deadlock
def test_works_as_session_auth_on_the_session_it_fetches_tokens_with(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    with requests.Session() as session:
        auth = password_grant(served, creds, options, session=session)
        session.auth = auth
        assert session.get(served.url + "/api/now/table/incident", timeout=5).status_code == 200
    assert server.token_calls[0].authorization is None
    assert server.grants() == ["password"]


def test_a_session_wide_auth_does_not_reach_the_token_endpoint(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    with requests.Session() as session:
        session.auth = BasicAuth("someone.else", "their-password")
        auth = OAuth2ClientCredentials.for_identitynow(
            served.url,
            creds.idn_client_id,
            creds.idn_client_secret,
            client_auth_method="client_secret_basic",
            session=session,
            **options,
        )
        auth.get_token()
    (call,) = server.token_calls
    expected = base64.b64encode(f"{creds.idn_client_id}:{creds.idn_client_secret}".encode()).decode()
    assert call.authorization == f"Basic {expected}"
    assert call.status == 200


# -- the token request on the wire ----------------------------------------------------------------


def test_servicenow_token_request_is_form_encoded_with_the_secret_in_the_body(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    password_grant(served, creds, options).get_token()
    (call,) = server.token_calls
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.query == {}
    assert call.authorization is None  # client_secret_post: no Basic header
    assert call.form == {
        "grant_type": "password",
        "username": creds.username,
        "password": creds.password,  # '&', '=', '+', '%' and a space survive authlib's encoding
        "client_id": creds.sn_client_id,
        "client_secret": creds.sn_client_secret,
    }


def test_client_secret_basic_sends_a_basic_header_instead(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2ClientCredentials.for_identitynow(
        served.url, creds.idn_client_id, creds.idn_client_secret, client_auth_method="client_secret_basic", **options
    )
    auth.get_token()
    (call,) = server.token_calls
    assert call.authorization is not None
    assert call.authorization.startswith("Basic ")
    assert "client_secret" not in call.form
    assert call.status == 200


def test_token_url_is_overridable(served: ServedApp, server: Any, creds: Any, options: dict[str, Any]) -> None:
    auth = OAuth2ClientCredentials(served.url + "/oauth/token", creds.idn_client_id, creds.idn_client_secret, **options)
    auth.get_token()
    assert server.token_calls[0].endpoint == "/oauth/token"


# -- caching and renewal --------------------------------------------------------------------------


def test_token_is_cached_across_calls(served: ServedApp, server: Any, creds: Any, options: dict[str, Any]) -> None:
    auth = password_grant(served, creds, options)
    tokens = {get(served, auth).request.headers["Authorization"] for _ in range(5)}
    assert len(tokens) == 1
    assert auth.token_requests == 1


def test_renewed_refresh_margin_seconds_before_expiry(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    server.lifetime = 300
    auth = password_grant(served, creds, options, refresh_margin=60)
    first = auth.get_token()
    clock.advance(239)
    assert auth.get_token() == first
    assert server.grants() == ["password"]
    clock.advance(1)  # 60 s before expiry: renewed with the refresh token, while the old one still works
    second = auth.get_token()
    assert second.access_token != first.access_token
    assert server.grants() == ["password", "refresh_token"]
    assert get(served, auth).status_code == 200


def test_margin_is_clamped_so_a_five_second_token_still_works(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    server.lifetime = 5
    auth = password_grant(served, creds, options)  # default margin 60 s > lifetime
    first = auth.get_token()
    clock.advance(2)
    assert auth.get_token() == first
    assert get(served, auth).status_code == 200
    clock.advance(0.5)  # half the lifetime
    assert auth.get_token() != first
    assert auth.token_requests == 2


def test_missing_expires_in_means_the_default_lifetime_not_forever(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    server.send_expires_in = False
    auth = password_grant(served, creds, options, default_expires_in=600, refresh_margin=60)
    with caplog.at_level(logging.DEBUG, logger="sim_servicenow.auth"):
        token = auth.get_token()
    assert token.expires_at == clock() + timedelta(seconds=600)
    assert "token fetched (grant=password, expires in 600 s, assumed" in caplog.text
    clock.advance(540)
    auth.get_token()
    assert auth.token_requests == 2


def test_debug_log_names_the_grant_and_lifetime(
    served: ServedApp, creds: Any, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    auth = OAuth2ClientCredentials.for_identitynow(served.url, creds.idn_client_id, creds.idn_client_secret, **options)
    with caplog.at_level(logging.DEBUG, logger="sim_servicenow.auth"):
        auth.get_token()
    messages = [r.getMessage() for r in caplog.records if r.name == "sim_servicenow.auth"]
    assert "token fetched (grant=client_credentials, expires in 749 s)" in messages


# -- password-grant fallback and the refresh token's life ----------------------------------------


def test_password_grant_falls_back_when_the_refresh_token_is_refused(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    auth = password_grant(served, creds, options)
    first = auth.get_token()
    server.revoke_refresh_tokens()
    clock.advance(1800)
    second = auth.get_token()
    assert server.grants() == ["password", "refresh_token", "password"]
    assert [call.status for call in server.token_calls] == [200, 401, 200]
    assert second.refresh_token != first.refresh_token  # the new password grant's refresh token
    assert get(served, auth).status_code == 200


def test_fallback_refused_too_is_an_authentication_error(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    auth = password_grant(served, creds, options)
    auth.get_token()
    server.revoke_refresh_tokens()
    server.change_password("rotated-by-the-admin")
    clock.advance(1800)
    with pytest.raises(AuthenticationError) as caught:
        auth.get_token()
    error = caught.value
    assert (error.status, error.method, error.url) == (401, "POST", served.url + "/oauth_token.do")
    assert str(error).startswith(f"POST {served.url}/oauth_token.do -> 401: password grant refused: server_error")
    assert server.grants() == ["password", "refresh_token", "password"]


def test_refresh_response_without_refresh_token_keeps_the_old_one(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    """ServiceNow's refresh grant "returns only an access token": the refresh token must not be lost."""
    auth = password_grant(served, creds, options)
    original = auth.get_token().refresh_token
    for _ in range(2):
        clock.advance(1800)
        assert auth.get_token().refresh_token == original
    assert server.grants() == ["password", "refresh_token", "refresh_token"]
    assert [call.form.get("refresh_token") for call in server.token_calls[1:]] == [original, original]


def test_rotated_refresh_token_is_used_and_reported(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    server.rotate_refresh_tokens = True
    seen: list[TokenInfo] = []
    start = server.issue_refresh_token()
    auth = OAuth2RefreshToken.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, start, on_token=seen.append, **options
    )
    auth.get_token()
    clock.advance(1800)
    auth.get_token()
    sent = [call.form["refresh_token"] for call in server.token_calls]
    assert sent == [start, seen[0].refresh_token]
    assert seen[1].refresh_token not in (None, start, seen[0].refresh_token)


def test_refused_refresh_token_is_final_for_the_refresh_token_grant(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2RefreshToken.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, "rt-never-issued", **options
    )
    with pytest.raises(AuthenticationError, match="refresh_token grant refused"):
        get(served, auth)
    assert server.grants() == ["refresh_token"]


# -- on_token and saved tokens --------------------------------------------------------------------


def test_on_token_receives_every_new_token(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    seen: list[TokenInfo] = []
    auth = password_grant(served, creds, options, on_token=seen.append)
    get(served, auth)
    get(served, auth)
    assert len(seen) == 1
    token = seen[0]
    assert token.access_token in server.issued
    assert token.refresh_token in server.issued
    assert token.expires_at == clock() + timedelta(seconds=1800)
    assert token.expires_at.utcoffset() == timedelta(0)
    assert (token.scope, token.token_type) == ("useraccount", "Bearer")
    clock.advance(1800)
    get(served, auth)
    assert len(seen) == 2
    assert seen[1].refresh_token == token.refresh_token


def test_on_token_failure_reaches_the_caller_and_the_token_is_kept(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    def broken_store(token: TokenInfo) -> None:
        raise OSError("disk full")

    auth = password_grant(served, creds, options, on_token=broken_store)
    with pytest.raises(OSError, match="disk full"):
        get(served, auth)
    assert get(served, auth).status_code == 200
    assert server.grants() == ["password"]


def test_saved_token_is_used_until_due(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    saved: list[TokenInfo] = []
    password_grant(served, creds, options, on_token=saved.append).get_token()
    restored = TokenInfo.from_dict(saved[0].to_dict())  # as a caller would persist it between runs
    second_run = password_grant(served, creds, options, token=restored)
    assert get(served, second_run).status_code == 200
    assert second_run.token_requests == 0
    clock.advance(1800)
    assert get(served, second_run).status_code == 200
    assert server.grants() == ["password", "refresh_token"]  # the saved refresh token was used


def test_expired_saved_token_is_renewed_before_first_use(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    stale = TokenInfo(access_token="at-from-yesterday", expires_at=clock() - timedelta(hours=1))
    auth = password_grant(served, creds, options, token=stale)
    assert get(served, auth).status_code == 200
    assert server.grants() == ["password"]  # no refresh token saved: straight to the password grant


# -- authlib's form encoding, which we rely on ----------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(password=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_any_password_reaches_the_server_unchanged(
    server: Any, creds: Any, options: dict[str, Any], password: str
) -> None:
    """authlib re-parses and re-encodes the form when adding client_secret_post: nothing may be lost."""
    server.change_password(password)
    session = mount(requests.Session(), "https://dev1234.service-now.test", server)
    auth = OAuth2PasswordGrant.for_servicenow(
        "https://dev1234.service-now.test",
        creds.sn_client_id,
        creds.sn_client_secret,
        creds.username,
        password,
        session=session,
        **options,
    )
    assert auth.get_token().access_token == server.issued[-2]
    assert server.token_calls[-1].form["password"] == password
    assert server.token_calls[-1].status == 200
