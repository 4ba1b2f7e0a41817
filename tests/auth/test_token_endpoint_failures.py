"""How token-endpoint failures reach the caller: always one of our errors, never a secret."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from sim_servicenow.auth import OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.errors import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    ServerError,
    TransportError,
)
from sim_servicenow.http import HttpCore, RetryPolicy
from sim_servicenow.testing import ServedApp, mount, serve


def password_grant(url: str, creds: Any, options: dict[str, Any], **extra: Any) -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant.for_servicenow(
        url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **{**options, **extra}
    )


def test_token_endpoint_down_is_a_transport_error(creds: Any, options: dict[str, Any]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = password_grant(f"http://127.0.0.1:{port}", creds, options)
    with pytest.raises(TransportError) as caught:
        auth.get_token()
    assert caught.value.method == "POST"
    assert caught.value.url == f"http://127.0.0.1:{port}/oauth_token.do"
    assert auth.token_requests == 1


def test_dropped_token_requests_are_retried_then_a_transport_error(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    server.token_fault = "drop"
    auth = password_grant(served.url, creds, options, retry=RetryPolicy(max_attempts=3).without_sleeping())
    with pytest.raises(TransportError, match=r"no response \(ConnectionError\) after 3 attempt"):
        auth.get_token()
    assert len(server.token_calls) == 3


def test_server_error_from_token_endpoint_is_retried_then_raised(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    server.token_fault = 503
    auth = password_grant(served.url, creds, options, retry=RetryPolicy(max_attempts=2).without_sleeping())
    with pytest.raises(ServerError) as caught:
        auth.get_token()
    assert caught.value.status == 503
    assert len(server.token_calls) == 2


def test_html_from_token_endpoint_is_a_decode_error(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    server.token_fault = "html"  # what a hibernating developer instance answers
    with pytest.raises(DecodeError) as caught:
        password_grant(served.url, creds, options).get_token()
    error = caught.value
    assert (error.status, error.method, error.content_type) == (200, "POST", "text/html;charset=UTF-8")
    assert str(error) == (
        f"POST {served.url}/oauth_token.do -> 200: expected a JSON token response, got text/html;charset=UTF-8"
    )
    assert error.body_start == ""  # a body excerpt could hold a token in some other format


def test_a_token_in_a_non_json_body_is_not_quoted_by_any_error(creds: Any, options: dict[str, Any]) -> None:
    token = "at-form-encoded-9f8e7d6c"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/x-www-form-urlencoded")])
        return [f"access_token={token}&token_type=bearer&expires_in=1800".encode()]

    with serve(app) as served, pytest.raises(DecodeError) as caught:
        password_grant(served.url, creds, options).get_token()
    texts: list[str] = []
    error: BaseException | None = caught.value
    while error is not None:
        texts += [str(error), repr(error), repr(vars(error))]
        error = error.__cause__ or error.__context__
    assert caught.value.content_type == "application/x-www-form-urlencoded"
    assert not [text for text in texts if token in text]


def test_json_without_access_token_is_a_decode_error(creds: Any, options: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"token_type": "Bearer", "expires_in": 1800}']

    with serve(app) as served, pytest.raises(DecodeError, match="no usable access_token"):
        password_grant(served.url, creds, options).get_token()


def test_json_array_is_a_decode_error(creds: Any, options: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"[]"]

    with serve(app) as served, pytest.raises(DecodeError, match="expected a JSON object, got list"):
        password_grant(served.url, creds, options).get_token()


def test_error_in_a_200_body_is_a_refusal(creds: Any, options: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"error": "invalid_grant", "error_description": "user locked out"}']

    with serve(app) as served, pytest.raises(AuthenticationError) as caught:
        password_grant(served.url, creds, options).get_token()
    assert caught.value.status == 200
    assert caught.value.message == "password grant refused: invalid_grant"
    assert caught.value.detail == "user locked out"


def test_wrong_client_secret_is_an_authentication_error_naming_the_endpoint(
    served: ServedApp, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2ClientCredentials.for_identitynow(served.url, creds.idn_client_id, "not-the-secret", **options)
    with pytest.raises(AuthenticationError) as caught:
        auth.get_token()
    error = caught.value
    assert (error.status, error.method, error.url) == (401, "POST", served.url + "/oauth/token")
    assert str(error) == (
        f"POST {served.url}/oauth/token -> 401: client_credentials grant refused: invalid_client (Bad credentials)"
    )
    assert "not-the-secret" not in str(error)


def test_refusal_echoing_a_secret_is_scrubbed(creds: Any, options: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        body = f'{{"error": "invalid_grant", "error_description": "bad password {creds.password}"}}'
        return [body.encode()]

    with serve(app) as served, pytest.raises(AuthenticationError) as caught:
        password_grant(served.url, creds, options).get_token()
    assert caught.value.detail == "bad password ***"
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert creds.password not in str(caught.value) + repr(vars(caught.value))


def test_plain_http_token_url_to_a_remote_host_is_refused(creds: Any, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        password_grant("http://dev1234.service-now.com", creds, options)
    assert [p.path for p in caught.value.problems] == ["token_url"]
    allowed = password_grant("http://dev1234.service-now.com", creds, options, allow_insecure_http=True)
    assert allowed.token_url == "http://dev1234.service-now.com/oauth_token.do"


def test_invalid_settings_are_reported_together(creds: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        OAuth2PasswordGrant(
            "https://x.service-now.com/oauth_token.do",
            "",
            creds.sn_client_secret,
            creds.username,
            "",
            refresh_margin=-1,
            default_expires_in=0,
            client_auth_method="private_key_jwt",  # type: ignore[arg-type]
        )
    assert {p.path for p in caught.value.problems} == {
        "client_id",
        "password",
        "refresh_margin",
        "default_expires_in",
        "client_auth_method",
    }
    assert creds.sn_client_secret not in str(caught.value)


def test_versioned_identitynow_url_is_refused_with_advice(creds: Any) -> None:
    with pytest.raises(ConfigError, match=r"without /v3"):
        OAuth2ClientCredentials.for_identitynow(
            "https://acme.api.identitynow.com/v3", creds.idn_client_id, creds.idn_client_secret
        )


def test_tls_uses_the_given_ca_bundle(server: Any, creds: Any, options: dict[str, Any]) -> None:
    with serve(server, tls=True) as served:
        assert served.ca_bundle is not None
        trusted = password_grant(served.url, creds, options, verify=served.ca_bundle)
        assert trusted.get_token().access_token in server.issued
        untrusted = password_grant(served.url, creds, options)  # system CAs do not know the throwaway CA
        with pytest.raises(TransportError, match="SSLError"):
            untrusted.get_token()


def test_injected_session_carries_the_token_requests(server: Any, creds: Any, options: dict[str, Any]) -> None:
    """A session with the fake mounted (no sockets) is used for the token endpoint, over https."""
    session = mount(requests.Session(), "https://dev1234.service-now.test", server)
    auth = password_grant("https://dev1234.service-now.test", creds, options, session=session)
    core = HttpCore("https://dev1234.service-now.test", auth=auth, session=session, retry=RetryPolicy.never())
    result = core.request_json("GET", "/api/now/table/incident")
    assert result["result"]["user"] == creds.username
    assert server.grants() == ["password"]
