"""FakeServiceNow's faults, request log, reset, loopback serving (HTTP and TLS) and thread safety."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from sim_servicenow.testing import FakeServiceNow, mount, serve

BASE = "https://acme.service-now.test"
TABLE = f"{BASE}/api/now/table"
TOKEN_URL = f"{BASE}/oauth_token.do"
CLIENT_ID, CLIENT_SECRET = next(iter(FakeServiceNow.DEFAULT_OAUTH_CLIENTS.items()))


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(seed=3, clock=Clock())


@pytest.fixture
def sn(fake: FakeServiceNow) -> requests.Session:
    session = mount(requests.Session(), BASE, fake)
    session.auth = ("admin", "admin")
    return session


def envelope(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["status"] == "failure"
    return dict(body["error"])


def test_rate_limit_answers_429_with_the_documented_headers_and_body(
    fake: FakeServiceNow, sn: requests.Session
) -> None:
    fake.faults.add("rate_limit", retry_after=2.5, times=1)
    limited = sn.get(f"{TABLE}/incident")
    assert limited.status_code == 429
    assert envelope(limited) == {
        "message": "Rate limit exceeded",
        "detail": "Rate limit of 100 requests per hour for Table API exceeded",
    }
    assert limited.headers["Retry-After"] == "3"  # whole seconds, as HTTP wants
    assert limited.headers["X-RateLimit-Limit"] == "100"
    assert limited.headers["X-RateLimit-Reset"] == str(1_700_000_000 + 3)
    assert len(limited.headers["X-RateLimit-Rule"]) == 32
    assert sn.get(f"{TABLE}/incident").status_code == 200  # times=1


def test_semaphore_exhaustion_is_429_without_rate_limit_headers(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("semaphore", times=1)
    busy = sn.get(f"{TABLE}/incident")
    assert busy.status_code == 429
    assert not {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Rule"} & set(busy.headers)


@pytest.mark.parametrize("status", [500, 400, 403])
def test_error_faults_answer_in_the_envelope(fake: FakeServiceNow, sn: requests.Session, status: int) -> None:
    fake.faults.add("error", status=status, times=1)
    response = sn.get(f"{TABLE}/incident")
    assert response.status_code == status
    assert envelope(response)["message"]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_answer_in_html(fake: FakeServiceNow, sn: requests.Session, status: int) -> None:
    fake.faults.add("error", status=status, times=1)
    response = sn.get(f"{TABLE}/incident")
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")


def test_faults_do_not_act(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("error", status=500, method="POST", times=1)
    assert sn.post(f"{TABLE}/incident", json={}).status_code == 500
    assert fake.records("incident") == []


def test_hibernating_instance_answers_200_html(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("html", times=1)
    page = sn.get(f"{TABLE}/incident")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "hibernating" in page.text
    with pytest.raises(requests.JSONDecodeError):
        page.json()


def test_dropped_connections_before_and_after_acting(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("drop", method="POST", times=1)
    with pytest.raises(requests.ConnectionError):
        sn.post(f"{TABLE}/incident", json={"short_description": "lost"})
    assert fake.records("incident") == []
    fake.faults.add("drop", method="POST", times=1, after=True)
    with pytest.raises(requests.ConnectionError):
        sn.post(f"{TABLE}/incident", json={"short_description": "created, answer lost"})
    assert [r["short_description"] for r in fake.records("incident")] == ["created, answer lost"]
    assert [(e.status, e.fault) for e in fake.requests] == [(0, "drop"), (0, "drop")]


def test_token_expiring_mid_paging(fake: FakeServiceNow, sn: requests.Session) -> None:
    for _ in range(6):
        fake.insert("incident")
    token = sn.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": "admin",
            "password": "admin",
        },
    ).json()
    bearer = requests.Session()
    mount(bearer, BASE, fake)
    bearer.headers["Authorization"] = f"Bearer {token['access_token']}"
    fake.faults.add("expire_token", path="/api/now/table/incident", times=1, probability=1.0)
    first = bearer.get(f"{TABLE}/incident", params={"sysparm_limit": 3})
    assert first.status_code == 401
    assert envelope(first) == {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}
    # The token really is gone: sending it again fails too, until the client refreshes.
    assert bearer.get(f"{TABLE}/incident", params={"sysparm_limit": 3}).status_code == 401
    refreshed = sn.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": token["refresh_token"],
        },
    ).json()
    bearer.headers["Authorization"] = f"Bearer {refreshed['access_token']}"
    assert len(bearer.get(f"{TABLE}/incident", params={"sysparm_offset": 3}).json()["result"]) == 3


def test_faults_on_the_token_endpoint_speak_oauth(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("error", status=401, path="/oauth_token.do", times=1)
    response = sn.post(TOKEN_URL, data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json() == {"error_description": "access_denied", "error": "server_error"}


def test_latency_and_probability(fake: FakeServiceNow, sn: requests.Session) -> None:
    fake.faults.add("latency", delay=0.2, times=1)
    started = time.perf_counter()
    assert sn.get(f"{TABLE}/incident").status_code == 200
    assert time.perf_counter() - started >= 0.2
    fake.faults.add("error", status=500, probability=0.0)
    assert all(sn.get(f"{TABLE}/incident").status_code == 200 for _ in range(5))


def test_request_log_records_every_request(fake: FakeServiceNow, sn: requests.Session) -> None:
    sn.post(f"{TABLE}/incident", json={"short_description": "x"}, params={"sysparm_fields": "sys_id"})
    sn.get(f"{TABLE}/incident", params={"sysparm_query": "active=true"})
    fake.faults.add("semaphore", times=1)
    sn.get(f"{TABLE}/incident")
    entries = list(fake.requests)
    assert [(e.method, e.path, e.status, e.fault) for e in entries] == [
        ("POST", "/api/now/table/incident", 201, None),
        ("GET", "/api/now/table/incident", 200, None),
        ("GET", "/api/now/table/incident", 429, "semaphore"),
    ]
    assert entries[0].query == {"sysparm_fields": ["sys_id"]}
    assert entries[0].body == b'{"short_description": "x"}'
    assert entries[1].query == {"sysparm_query": ["active=true"]}
    assert entries[0].at == 1_700_000_000.0
    assert fake.requests.count("GET") == 2
    assert fake.faults.counts["semaphore"] == 1


def test_reset_restores_a_fresh_instance_but_keeps_configuration() -> None:
    fake = FakeServiceNow(users={"svc": "pw"}, seed=9)
    sn = mount(requests.Session(), BASE, fake)
    sn.auth = ("svc", "pw")
    fake.add_user("extra", "pw2")
    fake.add_table("u_thing")
    fake.insert("incident")
    fake.faults.add("error", status=500, probability=0.0)
    sn.get(f"{TABLE}/incident")
    fake.reset()
    assert fake.records("incident") == []
    assert [u["user_name"] for u in fake.records("sys_user")] == ["svc"]
    assert "u_thing" not in fake.tables()
    assert len(fake.requests) == 0
    assert len(fake.faults) == 0
    assert sn.get(f"{TABLE}/incident").status_code == 200  # constructor users still sign in
    assert fake.insert("incident")["number"] == "INC0010001"


def test_served_over_loopback_http(fake: FakeServiceNow) -> None:
    with serve(fake) as served:
        assert served.app is fake
        created = requests.post(
            f"{served.url}/api/now/table/incident",
            json={"short_description": "real socket"},
            auth=("admin", "admin"),
            timeout=5,
        )
        assert created.status_code == 201
        assert created.headers["Location"].startswith(f"{served.url}/api/now/table/incident/")
        assert created.json()["result"]["opened_by"]["link"].startswith(served.url)
        fake.faults.add("drop", times=1)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{served.url}/api/now/table/incident", auth=("admin", "admin"), timeout=5)


def test_served_over_tls_with_a_throwaway_ca(fake: FakeServiceNow) -> None:
    with serve(fake, tls=True) as served:
        assert served.url.startswith("https://")
        assert served.ca_bundle is not None
        with requests.Session() as session:
            session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify=
            response = session.get(
                f"{served.url}/api/now/table/incident", auth=("admin", "admin"), verify=served.ca_bundle, timeout=5
            )
        assert response.status_code == 200
        assert response.json() == {"result": []}


def test_concurrent_clients_over_loopback(fake: FakeServiceNow) -> None:
    errors: list[BaseException] = []
    per_thread = 25

    def worker(index: int, url: str) -> None:
        try:
            with requests.Session() as session:
                session.auth = ("admin", "admin")
                for n in range(per_thread):
                    response = session.post(
                        f"{url}/api/now/table/incident",
                        json={"correlation_id": f"t{index}-{n}", "comments": "note"},
                        timeout=10,
                    )
                    assert response.status_code == 201, response.text
                    found = session.get(
                        f"{url}/api/now/table/incident",
                        params={"sysparm_query": f"correlation_id=t{index}-{n}", "sysparm_fields": "number"},
                        timeout=10,
                    ).json()["result"]
                    assert len(found) == 1
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    with serve(fake) as served:
        threads = [threading.Thread(target=worker, args=(i, served.url)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[0]
    incidents = fake.records("incident")
    numbers = [r["number"] for r in incidents]
    assert len(incidents) == 6 * per_thread
    assert len(set(numbers)) == len(numbers)
    assert sorted(numbers) == [f"INC{10001 + i:07d}" for i in range(6 * per_thread)]
    assert len(fake.records("sys_journal_field")) == 6 * per_thread
