"""A 401 to a request carrying our token: one renewal, one re-send, then a clear AuthenticationError."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sim_servicenow.auth import OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.errors import AuthenticationError, ForbiddenError
from sim_servicenow.http import HttpCore, RetryPolicy
from sim_servicenow.testing import ServedApp

INCIDENTS = "/api/now/table/incident"


@pytest.fixture
def auth(served: ServedApp, creds: Any, options: dict[str, Any]) -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **options
    )


@pytest.fixture
def core(served: ServedApp, auth: OAuth2PasswordGrant) -> Iterator[HttpCore]:
    with HttpCore(served.url, auth=auth, retry=RetryPolicy.never()) as core:
        yield core


def statuses(server: Any) -> list[int]:
    return [call.status for call in server.resource_calls]


def test_revoked_token_is_renewed_once_and_the_request_resent(
    served: ServedApp, server: Any, auth: OAuth2PasswordGrant
) -> None:
    with requests.Session() as session:
        first = session.get(served.url + INCIDENTS, auth=auth, timeout=5)
        server.revoke_access_tokens()  # e.g. revoked by an admin, or the instance clock disagrees with ours
        response = session.get(served.url + INCIDENTS, auth=auth, timeout=5)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.request.headers["Authorization"] != first.request.headers["Authorization"]
    assert statuses(server) == [200, 401, 200]
    assert server.grants() == ["password", "refresh_token"]
    assert (auth.token_requests, auth.resends) == (2, 1)


def test_second_401_through_httpcore_is_an_authentication_error(
    server: Any, auth: OAuth2PasswordGrant, core: HttpCore
) -> None:
    server.reject_bearer = True
    with pytest.raises(AuthenticationError) as caught:
        core.request("GET", INCIDENTS)
    error = caught.value
    assert error.status == 401
    assert error.message == "User Not Authenticated"
    assert error.detail == "Required to provide Auth information"
    assert statuses(server) == [401, 401]  # exactly one re-send
    assert server.grants() == ["password", "refresh_token"]  # exactly one renewal
    assert auth.resends == 1


def test_identitynow_401_gets_a_new_client_credentials_token(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2ClientCredentials.for_identitynow(served.url, creds.idn_client_id, creds.idn_client_secret, **options)
    with HttpCore(served.url, auth=auth, retry=RetryPolicy.never()) as core:
        core.request_json("GET", "/v3/sources")
        server.revoke_access_tokens()
        assert core.request_json("GET", "/v3/sources")[0]["name"] == "Active Directory"
        server.reject_bearer = True
        with pytest.raises(AuthenticationError, match="JWT validation failed: JWT is expired"):
            core.request_json("GET", "/v3/sources")
    assert server.grants() == ["client_credentials"] * 3
    assert statuses(server) == [200, 401, 200, 401, 401]


def test_failed_renewal_after_401_raises_the_token_endpoints_refusal(
    server: Any, auth: OAuth2PasswordGrant, core: HttpCore
) -> None:
    core.request("GET", INCIDENTS)
    server.revoke_access_tokens()
    server.revoke_refresh_tokens()
    server.change_password("changed-elsewhere")
    with pytest.raises(AuthenticationError, match=r"/oauth_token.do -> 401: password grant refused"):
        core.request("GET", INCIDENTS)
    assert server.grants() == ["password", "refresh_token", "password"]
    assert statuses(server) == [200, 401]


def test_token_renewed_meanwhile_is_reused_without_another_token_request(
    served: ServedApp, server: Any, auth: OAuth2PasswordGrant
) -> None:
    with requests.Session() as session:
        # Prepared with the first token, sent only after another request has replaced that token.
        late = session.prepare_request(requests.Request("GET", served.url + INCIDENTS, auth=auth))
        server.revoke_access_tokens()
        assert session.get(served.url + INCIDENTS, auth=auth, timeout=5).status_code == 200
        assert server.grants() == ["password", "refresh_token"]
        response = session.send(late, timeout=5)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert server.grants() == ["password", "refresh_token"]
    assert auth.resends == 2


def test_json_body_is_resent_intact(server: Any, core: HttpCore) -> None:
    core.request("GET", INCIDENTS)
    server.revoke_access_tokens()
    payload = {"short_description": "Provision AD account for jane.doe", "u_correlation": "plan-7/1"}
    result = core.request_json("POST", INCIDENTS, json_body=payload)
    assert json.loads(result["result"]["body"]) == payload
    first, second = server.resource_calls[1:]
    assert (first.status, second.status) == (401, 200)
    assert first.body == second.body == json.dumps(payload).encode()


def test_file_body_is_rewound_before_the_resend(served: ServedApp, server: Any, auth: OAuth2PasswordGrant) -> None:
    auth.get_token()
    server.revoke_access_tokens()
    upload = io.BytesIO(b"header-to-skip|attachment bytes")
    upload.seek(len(b"header-to-skip|"))
    with requests.Session() as session:
        response = session.post(served.url + INCIDENTS, data=upload, auth=auth, timeout=5)
    assert response.status_code == 200
    assert [call.body for call in server.resource_calls] == [b"attachment bytes", b"attachment bytes"]


def test_streamed_body_cannot_be_resent_so_the_401_stands(
    served: ServedApp, server: Any, auth: OAuth2PasswordGrant
) -> None:
    auth.get_token()
    server.revoke_access_tokens()

    def chunks() -> Iterator[bytes]:
        yield b"streamed "
        yield b"once"

    with requests.Session() as session:
        response = session.post(served.url + INCIDENTS, data=chunks(), auth=auth, timeout=5)
    assert response.status_code == 401
    assert statuses(server) == [401]
    assert auth.token_requests == 1


def test_403_is_not_an_authentication_problem(server: Any, auth: OAuth2PasswordGrant, core: HttpCore) -> None:
    with pytest.raises(ForbiddenError):
        core.request("GET", "/api/now/table/acl-denied")
    assert auth.token_requests == 1
    assert auth.resends == 0
    assert statuses(server) == [403]
