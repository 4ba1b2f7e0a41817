"""Single flight: however many threads need a token at once, the token endpoint is asked once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from sim_servicenow.auth import OAuth2ClientCredentials, OAuth2PasswordGrant
from sim_servicenow.testing import ServedApp

THREADS = 8
INCIDENTS = "/api/now/table/incident"


def get_together(url: str, auth: requests.auth.AuthBase) -> list[requests.Response]:
    """``THREADS`` GETs released at the same moment, each on its own session (as separate workers would)."""
    start = threading.Barrier(THREADS)

    def one(_: int) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=10)
            return session.get(url, auth=auth, timeout=10)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_eight_threads_on_a_fresh_auth_cause_one_token_request(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    server.token_delay = 0.2  # every thread arrives while the first token request is in flight
    auth = OAuth2ClientCredentials.for_identitynow(served.url, creds.idn_client_id, creds.idn_client_secret, **options)
    responses = get_together(served.url + "/v3/sources", auth)
    assert [r.status_code for r in responses] == [200] * THREADS
    assert len({r.request.headers["Authorization"] for r in responses}) == 1
    assert len(server.token_calls) == 1
    assert auth.token_requests == 1


def test_eight_threads_on_an_expired_token_cause_one_renewal(
    served: ServedApp, server: Any, creds: Any, clock: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2PasswordGrant.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **options
    )
    auth.get_token()
    clock.advance(1800)
    server.token_delay = 0.2
    responses = get_together(served.url + INCIDENTS, auth)
    assert [r.status_code for r in responses] == [200] * THREADS
    assert server.grants() == ["password", "refresh_token"]


def test_eight_threads_hitting_401_together_cause_one_renewal(
    served: ServedApp, server: Any, creds: Any, options: dict[str, Any]
) -> None:
    auth = OAuth2PasswordGrant.for_servicenow(
        served.url, creds.sn_client_id, creds.sn_client_secret, creds.username, creds.password, **options
    )
    auth.get_token()
    server.revoke_access_tokens()  # still valid by our clock: every thread sends it and gets 401
    server.token_delay = 0.2
    responses = get_together(served.url + INCIDENTS, auth)
    assert [r.status_code for r in responses] == [200] * THREADS
    assert server.grants() == ["password", "refresh_token"]
    rejected = [call for call in server.resource_calls if call.status == 401]
    assert len(rejected) == auth.resends >= 1
