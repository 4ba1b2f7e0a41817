"""FakeServiceNow's OAuth: /oauth_token.do grants, token lifetime, expiry, refresh, revocation, secrets in the log."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount

BASE = "https://acme.service-now.test"
TOKEN_URL = f"{BASE}/oauth_token.do"
INCIDENTS = f"{BASE}/api/now/table/incident"
CLIENT_ID, CLIENT_SECRET = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))
ACCESS_DENIED = {"error_description": "access_denied", "error": "server_error"}


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeServiceNow:
    return FakeServiceNow(clock=clock, users={"admin": "admin", "svc.sim": "pw"}, token_lifetime=300)


@pytest.fixture
def session(fake: FakeServiceNow) -> requests.Session:
    return mount(requests.Session(), BASE, fake)


def grant(session: requests.Session, status: int = 200, **form: str) -> dict[str, Any]:
    response = session.post(TOKEN_URL, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def password_grant(session: requests.Session, user: str = "svc.sim", password: str = "pw") -> dict[str, Any]:
    return grant(session, grant_type="password", username=user, password=password)


def whoami(session: requests.Session, token: str) -> requests.Response:
    return session.get(
        f"{BASE}/api/now/table/sys_user",
        params={"sysparm_query": "user_name=javascript:gs.getUserName()", "sysparm_fields": "user_name"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_password_grant_issues_access_and_refresh_tokens(session: requests.Session) -> None:
    body = password_grant(session)
    assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert (body["scope"], body["token_type"], body["expires_in"]) == ("useraccount", "Bearer", 300)
    response = whoami(session, body["access_token"])
    assert response.status_code == 200
    assert response.json()["result"] == [{"user_name": "svc.sim"}]


def test_the_default_lifetime_is_thirty_minutes(clock: Clock) -> None:
    body = password_grant(mount(requests.Session(), BASE, FakeServiceNow(clock=clock)), "admin", "admin")
    assert body["expires_in"] == 1800


def test_client_credentials_in_a_basic_header_are_accepted(session: requests.Session) -> None:
    response = session.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": "svc.sim", "password": "pw"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "svc.sim", "password": "wrong"},
        {"grant_type": "password", "username": "svc.sim", "password": "pw", "client_secret": "wrong"},
        {"grant_type": "password", "username": "svc.sim", "password": "pw", "client_id": "unknown"},
        {"grant_type": "refresh_token", "refresh_token": "unknown"},
        {"grant_type": "authorization_code", "code": "x"},
        {},
    ],
)
def test_token_failures_answer_401_access_denied(session: requests.Session, form: dict[str, str]) -> None:
    assert grant(session, 401, **form) == ACCESS_DENIED


def test_the_token_endpoint_takes_form_bodies_only(session: requests.Session) -> None:
    body = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": "svc.sim",
        "password": "pw",
    }
    assert session.post(TOKEN_URL, json=body).status_code == 401
    assert session.get(TOKEN_URL, params=body).status_code == 401
    assert session.post(TOKEN_URL, data=body).status_code == 200


def test_password_grant_returns_the_current_token_while_it_is_valid(session: requests.Session, clock: Clock) -> None:
    first = password_grant(session)
    clock.advance(100)
    again = password_grant(session)
    assert again["access_token"] == first["access_token"]
    assert again["refresh_token"] == first["refresh_token"]
    assert again["expires_in"] == 200  # what is left of it
    clock.advance(200)
    assert password_grant(session)["access_token"] != first["access_token"]


def test_expired_tokens_get_the_401_envelope(session: requests.Session, clock: Clock) -> None:
    token = password_grant(session)["access_token"]
    clock.advance(299)
    assert whoami(session, token).status_code == 200
    clock.advance(1)
    response = whoami(session, token)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure",
    }


def test_refresh_grant_issues_a_new_access_token(session: requests.Session, clock: Clock) -> None:
    first = password_grant(session)
    clock.advance(400)
    refreshed = grant(session, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] == first["refresh_token"]  # not rotated
    assert "scope" in refreshed
    assert whoami(session, refreshed["access_token"]).json()["result"] == [{"user_name": "svc.sim"}]


def test_refresh_answer_without_the_refresh_token_when_configured(clock: Clock) -> None:
    session = mount(requests.Session(), BASE, FakeServiceNow(clock=clock, refresh_returns_refresh_token=False))
    first = password_grant(session, "admin", "admin")
    refreshed = grant(session, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert "refresh_token" not in refreshed


def test_refresh_tokens_expire_and_belong_to_their_client(clock: Clock) -> None:
    fake = FakeServiceNow(clock=clock, oauth_clients={CLIENT_ID: CLIENT_SECRET, "other": "secret2"})
    session = mount(requests.Session(), BASE, fake)
    refresh = password_grant(session, "admin", "admin")["refresh_token"]
    stolen = session.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": "other",
            "client_secret": "secret2",
        },
    )
    assert stolen.status_code == 401
    clock.advance(100 * 86400)
    assert grant(session, 401, grant_type="refresh_token", refresh_token=refresh) == ACCESS_DENIED


def test_client_credentials_grant_acts_as_the_application_user(clock: Clock) -> None:
    fake = FakeServiceNow(clock=clock, users={"admin": "admin", "svc.sim": "pw"}, client_credentials_user="svc.sim")
    session = mount(requests.Session(), BASE, fake)
    body = grant(session, grant_type="client_credentials")
    assert "refresh_token" not in body
    assert whoami(session, body["access_token"]).json()["result"] == [{"user_name": "svc.sim"}]


def test_client_credentials_can_be_switched_off(clock: Clock) -> None:
    session = mount(requests.Session(), BASE, FakeServiceNow(clock=clock, client_credentials=False))
    assert grant(session, 401, grant_type="client_credentials") == ACCESS_DENIED


def test_client_credentials_user_must_be_a_user() -> None:
    with pytest.raises(ValueError, match="not one of users"):
        FakeServiceNow(client_credentials_user="ghost")


def test_expire_tokens_keeps_refresh_tokens_unless_asked(fake: FakeServiceNow, session: requests.Session) -> None:
    first = password_grant(session)
    fake.expire_tokens()
    assert whoami(session, first["access_token"]).status_code == 401
    refreshed = grant(session, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert whoami(session, refreshed["access_token"]).status_code == 200
    fake.expire_tokens(refresh=True)
    assert whoami(session, refreshed["access_token"]).status_code == 401
    grant(session, 401, grant_type="refresh_token", refresh_token=first["refresh_token"])


def test_inactive_users_lose_their_tokens(fake: FakeServiceNow, session: requests.Session) -> None:
    body = password_grant(session)
    fake.update("sys_user", fake.records("sys_user")[1]["sys_id"], active=False)
    assert whoami(session, body["access_token"]).status_code == 401
    grant(session, 401, grant_type="refresh_token", refresh_token=body["refresh_token"])


def test_revoke_endpoint(session: requests.Session) -> None:
    body = password_grant(session)
    assert session.post(f"{BASE}/oauth_revoke_token.do", params={"token": body["access_token"]}).status_code == 200
    assert whoami(session, body["access_token"]).status_code == 401
    session.post(f"{BASE}/oauth_revoke_token.do", params={"token": body["refresh_token"]})
    grant(session, 401, grant_type="refresh_token", refresh_token=body["refresh_token"])


def test_secrets_never_reach_the_request_log(fake: FakeServiceNow, session: requests.Session) -> None:
    body = password_grant(session)
    whoami(session, body["access_token"])
    session.get(INCIDENTS, auth=("admin", "admin"))
    grant(session, grant_type="refresh_token", refresh_token=body["refresh_token"])
    logged = repr(list(fake.requests))
    for secret in (CLIENT_SECRET, "pw", body["access_token"], body["refresh_token"]):
        assert secret not in logged
    assert base64.b64encode(b"admin:admin").decode() not in logged
    token_requests = fake.requests.filter(path="/oauth_token.do")
    assert len(token_requests) == 2
    assert b"password=%2A%2A%2A" in token_requests[0].body or b"password=***" in token_requests[0].body
    assert [entry.headers.get("authorization") for entry in fake.requests.filter(path="/api/")] == [
        "Bearer ***",
        "Basic ***",
    ]
    assert "secret" not in repr(fake)
