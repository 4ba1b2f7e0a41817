"""BasicAuth and BearerToken: sent as given, and a 401 is final."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sim_servicenow.auth import BasicAuth, BearerToken, OAuth2ClientCredentials
from sim_servicenow.errors import AuthenticationError, ConfigError
from sim_servicenow.http import HttpCore, RetryPolicy
from sim_servicenow.testing import ServedApp

INCIDENTS = "/api/now/table/incident"


def test_basic_auth_happy_path(served: ServedApp, server: Any, creds: Any) -> None:
    with HttpCore(served.url, auth=BasicAuth(creds.username, creds.password), retry=RetryPolicy.never()) as core:
        assert core.request_json("GET", INCIDENTS)["result"]["user"] == creds.username
    (call,) = server.resource_calls
    assert call.authorization == "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def test_basic_auth_encodes_utf8(served: ServedApp, server: Any, creds: Any) -> None:
    server.change_password("pässwörd-ñ")
    with HttpCore(served.url, auth=BasicAuth(creds.username, "pässwörd-ñ"), retry=RetryPolicy.never()) as core:
        assert core.request_json("GET", INCIDENTS)["result"]["user"] == creds.username


def test_basic_auth_401_is_final(served: ServedApp, server: Any, creds: Any) -> None:
    core = HttpCore(served.url, auth=BasicAuth(creds.username, "wrong"), retry=RetryPolicy.never())
    with core, pytest.raises(AuthenticationError) as caught:
        core.request("GET", INCIDENTS)
    assert caught.value.message == "User Not Authenticated"
    assert len(server.resource_calls) == 1
    assert server.token_calls == []


def test_basic_auth_validates_the_username() -> None:
    with pytest.raises(ConfigError, match="username: must not contain ':'"):
        BasicAuth("domain:user", "secret")
    with pytest.raises(ConfigError, match="username: must not be empty"):
        BasicAuth("", "secret")


def test_bearer_token_happy_path_and_final_401(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    token = OAuth2ClientCredentials.for_identitynow(
        served.url, creds.idn_client_id, creds.idn_client_secret, **options
    ).get_token()
    auth = BearerToken(token.access_token)
    with HttpCore(served.url, auth=auth, retry=RetryPolicy.never()) as core:
        assert core.request_json("GET", "/v3/sources")[0]["name"] == "Active Directory"
        clock.advance(749)
        with pytest.raises(AuthenticationError, match="JWT is expired"):
            core.request_json("GET", "/v3/sources")
    assert [call.status for call in server.resource_calls] == [200, 401]
    assert len(server.token_calls) == 1


@pytest.mark.parametrize("bad", ["", "two words", "line\nbreak", "tökén"])
def test_bearer_token_must_be_header_safe(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid BearerToken"):
        BearerToken(bad)
